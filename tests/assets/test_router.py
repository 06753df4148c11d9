"""The asset endpoints: uploads checked and cleaned, lists, reads and deletes of one's own."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy.exc import IntegrityError

from app.assets import service
from app.assets.imaging import clean_image
from app.auth.identity import SignedInUser
from app.kit.db import transaction
from app.models import AssetType
from tests.auth.test_router import assert_error
from tests.factories import API, TestUser
from tests.images import (
    SECRET_MARKER,
    fetch,
    image_bytes,
    jpeg_with_orientation_and_gps,
    open_image,
    png_declaring,
    png_with_text_chunk,
    upload,
)


def bucket_dir(app: FastAPI, bucket: str = "user_assets") -> Path:
    root: Path = app.state.ports.storage.root
    return root / bucket


def stored_files(app: FastAPI, bucket: str = "user_assets") -> list[Path]:
    return sorted(path for path in bucket_dir(app, bucket).rglob("*") if path.is_file())


class TestUpload:
    @pytest.mark.parametrize(
        ("fmt", "content_type", "extension"),
        [
            ("PNG", "image/png", "png"),
            ("JPEG", "image/jpeg", "jpg"),
            ("WEBP", "image/webp", "webp"),
        ],
    )
    async def test_accepts_png_jpeg_and_webp(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        user: TestUser,
        fmt: str,
        content_type: str,
        extension: str,
    ):
        response = await upload(client, user, image_bytes(fmt, (120, 80)), type="ref")
        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == {
            "id", "type", "width", "height", "size_bytes", "content_type", "url", "sha256",
            "created_at",
        }  # fmt: skip
        assert body["type"] == "ref"
        assert (body["width"], body["height"]) == (120, 80)
        assert body["content_type"] == content_type
        [stored] = stored_files(app)
        assert stored.relative_to(bucket_dir(app)).parts[:2] == (user.id, "ref")
        assert stored.suffix == f".{extension}"
        data = stored.read_bytes()
        assert body["size_bytes"] == len(data)
        assert body["sha256"] == hashlib.sha256(data).hexdigest()
        assert "signature=" in body["url"]
        served = await fetch(client, body["url"])
        assert served.status_code == 200
        assert served.content == data
        assert served.headers["content-type"] == content_type

    async def test_the_type_comes_from_the_bytes_not_the_name_or_header(
        self, client: httpx.AsyncClient, user: TestUser
    ):
        response = await upload(
            client, user, image_bytes("JPEG"), filename="photo.png", content_type="image/png"
        )
        assert response.status_code == 201, response.text
        assert response.json()["content_type"] == "image/jpeg"
        assert response.json()["url"].split("?")[0].endswith(".jpg")

    @pytest.mark.parametrize(
        "data",
        [
            image_bytes("GIF"),
            b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n",
            b"just some text, honestly a PNG",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            image_bytes("BMP"),
        ],
        ids=["gif", "pdf", "text", "svg", "bmp"],
    )
    async def test_other_formats_are_415_even_with_a_lying_content_type(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser, data: bytes
    ):
        response = await upload(client, user, data, filename="x.png", content_type="image/png")
        assert_error(response, 415, "unsupported_media_type")
        assert stored_files(app) == []
        listing = await client.get(f"{API}/assets?include_total=true", headers=user.headers)
        assert listing.json()["total"] == 0

    @pytest.mark.parametrize(
        "data",
        [
            image_bytes("PNG", (300, 300))[:200],
            image_bytes("JPEG", (300, 300))[:300],
            b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
            b"\xff\xd8\xff" + b"garbage" * 20,
            b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 10,
            b"",
        ],
        ids=["truncated-png", "truncated-jpeg", "png-junk", "jpeg-junk", "webp-junk", "empty"],
    )
    async def test_broken_images_are_422(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser, data: bytes
    ):
        response = await upload(client, user, data)
        assert_error(response, 422, "invalid_image")
        assert stored_files(app) == []

    @pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (7_000, 7_000)])
    async def test_a_pixel_bomb_is_refused_from_its_header(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser, width: int, height: int
    ):
        data = png_declaring(width, height)
        assert len(data) < 200
        response = await upload(client, user, data)
        # Decoding the (bogus) pixel data would have failed as invalid_image instead.
        assert_error(response, 422, "image_too_large")
        assert stored_files(app) == []

    async def test_exif_orientation_is_applied_and_metadata_removed(
        self, client: httpx.AsyncClient, user: TestUser
    ):
        original = jpeg_with_orientation_and_gps((80, 40))
        assert SECRET_MARKER.encode() in original
        response = await upload(client, user, original, filename="IMG_0001.jpg")
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["width"], body["height"]) == (40, 80)
        served = (await fetch(client, body["url"])).content
        assert hashlib.sha256(served).hexdigest() == body["sha256"]
        assert SECRET_MARKER.encode() not in served
        assert b"Exif" not in served
        image = open_image(served)
        assert image.size == (40, 80)
        assert dict(image.getexif()) == {}
        assert "comment" not in image.info
        # Orientation 6 means "turn clockwise": the yellow top-left corner ends up top-right.
        rgb = image.convert("RGB")
        top_right, top_left = rgb.getpixel((35, 3)), rgb.getpixel((3, 3))
        assert isinstance(top_right, tuple)
        assert isinstance(top_left, tuple)
        assert min(top_right[:2]) > 200, "yellow corner at the top right"
        assert top_right[2] < 120
        assert top_left[2] > 200, "blue at the top left"
        assert top_left[0] < 120

    async def test_png_text_chunks_are_removed(self, client: httpx.AsyncClient, user: TestUser):
        response = await upload(client, user, png_with_text_chunk())
        served = (await fetch(client, response.json()["url"])).content
        assert SECRET_MARKER.encode() not in served
        assert "Comment" not in open_image(served).info

    async def test_transparency_survives(self, client: httpx.AsyncClient, user: TestUser):
        buffer = io.BytesIO()
        Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(buffer, format="PNG")
        response = await upload(client, user, buffer.getvalue())
        image = open_image((await fetch(client, response.json()["url"])).content)
        assert image.mode == "RGBA"
        pixel = image.getpixel((5, 5))
        assert isinstance(pixel, tuple)
        assert pixel[3] == 0

    @pytest.mark.parametrize(
        ("data", "files"),
        [
            ({"type": "avatar"}, {"file": ("a.png", image_bytes(), "image/png")}),
            ({}, {"file": ("a.png", image_bytes(), "image/png")}),
            ({"type": "selfie"}, {"picture": ("a.png", image_bytes(), "image/png")}),
        ],
        ids=["unknown-type", "missing-type", "missing-file"],
    )
    async def test_bad_form_fields_are_422(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        user: TestUser,
        data: dict[str, str],
        files: dict[str, tuple[str, bytes, str]],
    ):
        response = await client.post(
            f"{API}/assets/upload", headers=user.headers, data=data, files=files
        )
        assert response.status_code == 422, response.text
        assert isinstance(response.json()["detail"], list)
        assert stored_files(app) == []

    async def test_a_body_that_is_not_multipart_is_422(
        self, client: httpx.AsyncClient, user: TestUser
    ):
        response = await client.post(
            f"{API}/assets/upload", headers=user.headers, json={"type": "selfie"}
        )
        assert response.status_code == 422

    async def test_needs_a_signed_in_caller(self, client: httpx.AsyncClient, app: FastAPI):
        response = await client.post(
            f"{API}/assets/upload",
            data={"type": "selfie"},
            files={"file": ("a.png", image_bytes(), "image/png")},
        )
        assert_error(response, 401, "not_authenticated")
        assert stored_files(app) == []


class TestUploadSize:
    async def test_a_file_over_the_limit_is_413(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        limit = app.state.ports.settings.max_upload_bytes
        data = image_bytes("PNG") + b"\x00" * limit
        response = await upload(client, user, data)
        assert_error(response, 413, "payload_too_large")
        assert stored_files(app) == []

    async def test_a_huge_streamed_body_is_refused_without_reading_it(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        limit = app.state.ports.settings.max_upload_bytes
        total = 50 * limit
        chunk = b"\x00" * (1024 * 1024)
        sent = 0
        boundary = "a-boundary-for-the-test"

        async def body() -> AsyncIterator[bytes]:
            nonlocal sent
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\nselfie\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="big.png"\r\nContent-Type: image/png\r\n\r\n'
            ).encode()
            yield head
            yield image_bytes("PNG")
            while sent < total:
                sent += len(chunk)
                yield chunk
            yield f"\r\n--{boundary}--\r\n".encode()

        # Sent chunked, without Content-Length, so only counting the stream can stop it.
        response = await client.post(
            f"{API}/assets/upload",
            headers={**user.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            content=body(),
        )
        assert_error(response, 413, "payload_too_large")
        assert sent <= limit + 2 * len(chunk), f"read {sent} of {total} bytes"
        assert stored_files(app) == []

    async def test_a_declared_length_over_the_limit_is_refused_before_reading(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        limit = app.state.ports.settings.max_upload_bytes
        sent = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal sent
            for _ in range(100):
                sent += 1024 * 1024
                yield b"\x00" * (1024 * 1024)

        response = await client.post(
            f"{API}/assets/upload",
            headers={
                **user.headers,
                "Content-Type": "multipart/form-data; boundary=x",
                "Content-Length": str(100 * 1024 * 1024),
            },
            content=body(),
        )
        assert_error(response, 413, "payload_too_large")
        assert sent == 0
        assert limit < 100 * 1024 * 1024


async def upload_ok(client: httpx.AsyncClient, user: TestUser, **kwargs: str) -> dict:
    response = await upload(client, user, image_bytes("PNG"), **kwargs)
    assert response.status_code == 201, response.text
    body: dict = response.json()
    return body


class TestListAndRead:
    async def test_lists_own_assets_newest_first_with_paging_and_type_filter(
        self, client: httpx.AsyncClient, user: TestUser, other: TestUser
    ):
        first = await upload_ok(client, user, type="selfie")
        second = await upload_ok(client, user, type="ref")
        third = await upload_ok(client, user, type="selfie")
        await upload_ok(client, other, type="selfie")

        page = (await client.get(f"{API}/assets?include_total=true", headers=user.headers)).json()
        assert page["total"] == 3
        assert (page["limit"], page["offset"]) == (20, 0)
        assert [item["id"] for item in page["items"]] == [third["id"], second["id"], first["id"]]
        for item in page["items"]:
            assert (await fetch(client, item["url"])).status_code == 200

        page = (
            await client.get(
                f"{API}/assets?type=selfie&limit=1&offset=1&include_total=true",
                headers=user.headers,
            )
        ).json()
        assert page["total"] == 2
        assert [item["id"] for item in page["items"]] == [first["id"]]

    async def test_bad_list_parameters_are_422(self, client: httpx.AsyncClient, user: TestUser):
        for query in ("type=avatar", "limit=0", "limit=101", "offset=-1"):
            response = await client.get(f"{API}/assets?{query}", headers=user.headers)
            assert response.status_code == 422, query

    async def test_get_one_returns_a_fresh_signed_url(
        self, client: httpx.AsyncClient, user: TestUser
    ):
        created = await upload_ok(client, user)
        response = await client.get(f"{API}/assets/{created['id']}", headers=user.headers)
        assert response.status_code == 200
        body = response.json()
        assert {k: v for k, v in body.items() if k != "url"} == {
            k: v for k, v in created.items() if k != "url"
        }
        assert (await fetch(client, body["url"])).status_code == 200

    async def test_another_users_asset_is_404(
        self, client: httpx.AsyncClient, user: TestUser, other: TestUser
    ):
        mine = await upload_ok(client, user)
        response = await client.get(f"{API}/assets/{mine['id']}", headers=other.headers)
        assert_error(response, 404, "not_found")
        response = await client.get(f"{API}/assets/{uuid.uuid4()}", headers=user.headers)
        assert_error(response, 404, "not_found")
        listing = (
            await client.get(f"{API}/assets?include_total=true", headers=other.headers)
        ).json()
        assert listing["total"] == 0

    async def test_malformed_id_is_404(self, client: httpx.AsyncClient, user: TestUser):
        # Only ids match the route, so that `GET /assets/upload` can answer 405.
        response = await client.get(f"{API}/assets/not-a-uuid", headers=user.headers)
        assert_error(response, 404, "not_found")

    async def test_needs_a_signed_in_caller(self, client: httpx.AsyncClient):
        assert_error(await client.get(f"{API}/assets"), 401, "not_authenticated")
        response = await client.get(f"{API}/assets/{uuid.uuid4()}")
        assert_error(response, 401, "not_authenticated")


class TestDelete:
    async def test_deletes_the_row_and_the_file(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        created = await upload_ok(client, user)
        keep = await upload_ok(client, user)
        response = await client.delete(f"{API}/assets/{created['id']}", headers=user.headers)
        assert response.status_code == 204
        assert response.content == b""
        response = await client.get(f"{API}/assets/{created['id']}", headers=user.headers)
        assert_error(response, 404, "not_found")
        assert (await fetch(client, created["url"])).status_code == 404
        assert len(stored_files(app)) == 1
        assert (await fetch(client, keep["url"])).status_code == 200
        again = await client.delete(f"{API}/assets/{created['id']}", headers=user.headers)
        assert_error(again, 404, "not_found")

    async def test_another_users_asset_is_404_and_stays(
        self, client: httpx.AsyncClient, user: TestUser, other: TestUser
    ):
        mine = await upload_ok(client, user)
        response = await client.delete(f"{API}/assets/{mine['id']}", headers=other.headers)
        assert_error(response, 404, "not_found")
        assert (await fetch(client, mine["url"])).status_code == 200
        response = await client.get(f"{API}/assets/{mine['id']}", headers=user.headers)
        assert response.status_code == 200

    async def test_malformed_id_is_404(self, client: httpx.AsyncClient, user: TestUser):
        response = await client.delete(f"{API}/assets/123", headers=user.headers)
        assert_error(response, 404, "not_found")


class TestNothingHalfWritten:
    async def test_when_the_file_cannot_be_stored_no_row_is_written(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ):
        # A file where the person's folder belongs makes every write fail.
        bucket_dir(app).mkdir(parents=True, exist_ok=True)
        (bucket_dir(app) / user.id).write_bytes(b"in the way")
        response = await upload(client, user, image_bytes())
        assert_error(response, 503, "storage_unavailable")
        listing = (
            await client.get(f"{API}/assets?include_total=true", headers=user.headers)
        ).json()
        assert listing["total"] == 0

    async def test_when_the_row_cannot_be_written_the_file_is_removed(self, app: FastAPI):
        ports = app.state.ports
        # An account deleted while its upload was under way: the insert breaks the foreign key.
        ghost = SignedInUser(
            id=uuid.uuid4(),
            email="ghost@example.com",
            username="ghost",
            full_name="Ghost",
            dob=date(1990, 1, 1),
            bio=None,
            avatar_url=None,
            role="user",
            credits=0,
            email_confirmed_at=None,
            created_at=datetime.now(UTC),
        )

        async def upload_in_one_request() -> None:
            # Driven like the request's session dependency: the error is thrown into it.
            async with transaction(ports.database.sessionmaker) as session:
                await service.upload_asset(
                    session=session,
                    ports=ports,
                    user=ghost,
                    type=AssetType.SELFIE,
                    image=clean_image(image_bytes(), max_pixels=10_000_000),
                    filename="a.png",
                )

        with pytest.raises(IntegrityError):
            await upload_in_one_request()
        assert stored_files(app) == []


async def test_the_schema_documents_the_upload_form(client: httpx.AsyncClient):
    response = await client.get(f"{API}/openapi.json")
    operation = response.json()["paths"][f"{API}/assets/upload"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file", "type"]
    assert form["properties"]["file"]["format"] == "binary"
    assert {"413", "415", "422"} <= set(operation["responses"])
