"""Profile photos, and the stored files that go when an account is deleted."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.auth.test_router import assert_error
from tests.factories import API, TestUser
from tests.images import (
    SECRET_MARKER,
    fetch,
    image_bytes,
    jpeg_with_orientation_and_gps,
    open_image,
    png_declaring,
    upload,
)


async def post_avatar(
    client: httpx.AsyncClient, user: TestUser, data: bytes, content_type: str = "image/png"
) -> httpx.Response:
    return await client.post(
        f"{API}/profile/avatar",
        headers=user.headers,
        files={"file": ("me.png", data, content_type)},
    )


def files_under(app: FastAPI, bucket: str, user_id: str) -> list[Path]:
    folder: Path = app.state.ports.storage.root / bucket / user_id
    return sorted(path for path in folder.rglob("*") if path.is_file())


class TestAvatar:
    async def test_sets_a_public_shrunk_avatar(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        response = await post_avatar(client, user, image_bytes("PNG", (2000, 1000)))
        assert response.status_code == 200, response.text
        profile = response.json()
        url = profile["avatar_url"]
        assert url.startswith(f"http://test{API}/files/profile_photos/{user.id}/avatar-")
        assert "signature=" not in url
        served = await fetch(client, url)
        assert served.status_code == 200
        assert "public" in served.headers["cache-control"]
        assert open_image(served.content).size == (1024, 512)
        again = await client.get(f"{API}/profile", headers=user.headers)
        assert again.json()["avatar_url"] == url

    async def test_is_turned_upright_and_stripped(self, client: httpx.AsyncClient, user: TestUser):
        response = await post_avatar(
            client, user, jpeg_with_orientation_and_gps((80, 40)), "image/jpeg"
        )
        assert response.status_code == 200, response.text
        served = (await fetch(client, response.json()["avatar_url"])).content
        assert SECRET_MARKER.encode() not in served
        image = open_image(served)
        assert image.size == (40, 80)
        assert dict(image.getexif()) == {}

    async def test_a_new_avatar_removes_the_previous_file(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        first = (await post_avatar(client, user, image_bytes("PNG"))).json()["avatar_url"]
        second = (await post_avatar(client, user, image_bytes("WEBP"))).json()["avatar_url"]
        assert first != second
        assert second.endswith(".webp")
        assert (await fetch(client, first)).status_code == 404
        assert (await fetch(client, second)).status_code == 200
        assert len(files_under(app, "profile_photos", user.id)) == 1

    async def test_one_persons_avatar_leaves_anothers_alone(
        self, client: httpx.AsyncClient, user: TestUser, other: TestUser
    ):
        theirs = (await post_avatar(client, other, image_bytes())).json()["avatar_url"]
        await post_avatar(client, user, image_bytes())
        await post_avatar(client, user, image_bytes())
        assert (await fetch(client, theirs)).status_code == 200
        profile = (await client.get(f"{API}/profile", headers=other.headers)).json()
        assert profile["avatar_url"] == theirs

    @pytest.mark.parametrize(
        ("data", "status", "code"),
        [
            (image_bytes("GIF"), 415, "unsupported_media_type"),
            (b"%PDF-1.4 not a picture", 415, "unsupported_media_type"),
            (image_bytes("PNG", (200, 200))[:120], 422, "invalid_image"),
            (png_declaring(20_000, 20_000), 422, "image_too_large"),
        ],
        ids=["gif", "pdf", "truncated", "pixel-bomb"],
    )
    async def test_bad_images_change_nothing(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        user: TestUser,
        data: bytes,
        status: int,
        code: str,
    ):
        response = await post_avatar(client, user, data)
        assert_error(response, status, code)
        profile = (await client.get(f"{API}/profile", headers=user.headers)).json()
        assert profile["avatar_url"] is None
        assert files_under(app, "profile_photos", user.id) == []

    async def test_too_large_is_413(self, client: httpx.AsyncClient, app: FastAPI, user: TestUser):
        limit = app.state.ports.settings.max_upload_bytes
        response = await post_avatar(client, user, image_bytes() + b"\x00" * limit)
        assert_error(response, 413, "payload_too_large")

    async def test_missing_file_is_422(self, client: httpx.AsyncClient, user: TestUser):
        response = await client.post(
            f"{API}/profile/avatar", headers=user.headers, data={"note": "no file"}
        )
        assert response.status_code == 422

    async def test_needs_a_signed_in_caller(self, client: httpx.AsyncClient):
        response = await client.post(
            f"{API}/profile/avatar", files={"file": ("me.png", image_bytes(), "image/png")}
        )
        assert_error(response, 401, "not_authenticated")


class TestProfilePhotoAsset:
    """`POST /assets/upload` with `type=profile_photo` sets the avatar as /profile/avatar does."""

    async def test_becomes_the_avatar(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser, other: TestUser
    ):
        theirs = (await post_avatar(client, other, image_bytes())).json()["avatar_url"]
        response = await upload(
            client, user, image_bytes("PNG", (2000, 1000)), type="profile_photo"
        )
        assert response.status_code == 201, response.text
        asset = response.json()
        assert asset["type"] == "profile_photo"
        assert (asset["width"], asset["height"]) == (1024, 512)
        profile = (await client.get(f"{API}/profile", headers=user.headers)).json()
        url = profile["avatar_url"]
        assert url.startswith(f"http://test{API}/files/profile_photos/{user.id}/avatar-")
        served = await fetch(client, url)
        assert served.status_code == 200
        assert open_image(served.content).size == (1024, 512)
        assert (await fetch(client, asset["url"])).status_code == 200
        listed = await client.get(f"{API}/assets?type=profile_photo", headers=user.headers)
        assert [item["id"] for item in listed.json()["items"]] == [asset["id"]]
        # Nobody else's profile moves.
        other_profile = (await client.get(f"{API}/profile", headers=other.headers)).json()
        assert other_profile["avatar_url"] == theirs

    async def test_a_second_one_replaces_the_first(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        await upload(client, user, image_bytes("PNG"), type="profile_photo")
        first = (await client.get(f"{API}/profile", headers=user.headers)).json()["avatar_url"]
        response = await upload(client, user, image_bytes("WEBP"), type="profile_photo")
        assert response.status_code == 201, response.text
        second = (await client.get(f"{API}/profile", headers=user.headers)).json()["avatar_url"]
        assert first != second
        assert second.endswith(".webp")
        assert (await fetch(client, first)).status_code == 404
        assert len(files_under(app, "profile_photos", user.id)) == 1

    async def test_other_types_leave_the_avatar_alone(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        response = await upload(client, user, image_bytes("PNG", (2000, 1000)), type="selfie")
        assert response.status_code == 201, response.text
        assert (response.json()["width"], response.json()["height"]) == (2000, 1000)
        profile = (await client.get(f"{API}/profile", headers=user.headers)).json()
        assert profile["avatar_url"] is None
        assert files_under(app, "profile_photos", user.id) == []

    @pytest.mark.parametrize(
        ("data", "status", "code"),
        [
            (image_bytes("GIF"), 415, "unsupported_media_type"),
            (png_declaring(20_000, 20_000), 422, "image_too_large"),
        ],
        ids=["gif", "pixel-bomb"],
    )
    async def test_bad_images_change_nothing(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        user: TestUser,
        data: bytes,
        status: int,
        code: str,
    ):
        response = await upload(client, user, data, type="profile_photo")
        assert_error(response, status, code)
        profile = (await client.get(f"{API}/profile", headers=user.headers)).json()
        assert profile["avatar_url"] is None
        assert files_under(app, "profile_photos", user.id) == []
        assert files_under(app, "user_assets", user.id) == []

    async def test_needs_a_signed_in_caller(self, client: httpx.AsyncClient):
        response = await client.post(
            f"{API}/assets/upload",
            data={"type": "profile_photo"},
            files={"file": ("me.png", image_bytes(), "image/png")},
        )
        assert_error(response, 401, "not_authenticated")


class TestAccountDeletion:
    async def test_removes_the_persons_files_in_every_bucket_and_no_one_elses(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser, other: TestUser
    ):
        storage = app.state.ports.storage
        asset = (await upload(client, user, image_bytes())).json()
        await post_avatar(client, user, image_bytes())
        await storage.put("renders", f"{user.id}/job-1/variant-a.png", b"r", content_type="x")
        kept_asset = (await upload(client, other, image_bytes())).json()
        kept_avatar = (await post_avatar(client, other, image_bytes())).json()["avatar_url"]
        await storage.put("renders", f"{other.id}/job-2/variant-a.png", b"r", content_type="x")
        for bucket in ("user_assets", "profile_photos", "renders"):
            assert files_under(app, bucket, user.id)

        response = await client.request(
            "DELETE", f"{API}/profile", headers=user.headers, json={"password": user.password}
        )
        assert response.status_code == 204, response.text

        for bucket in ("user_assets", "profile_photos", "renders"):
            assert files_under(app, bucket, user.id) == []
            assert files_under(app, bucket, other.id)
        assert (await fetch(client, asset["url"])).status_code == 404
        assert (await fetch(client, kept_asset["url"])).status_code == 200
        assert (await fetch(client, kept_avatar)).status_code == 200

    async def test_a_wrong_password_keeps_the_files(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        asset = (await upload(client, user, image_bytes())).json()
        response = await client.request(
            "DELETE", f"{API}/profile", headers=user.headers, json={"password": "not it at all"}
        )
        assert_error(response, 400, "wrong_password")
        assert (await fetch(client, asset["url"])).status_code == 200
