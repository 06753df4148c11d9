"""Serving local storage objects: public files, signed private files, and nothing else."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from app.adapters.storage import LocalObjectStorage
from tests.auth.test_router import assert_error
from tests.factories import API
from tests.images import image_bytes


def local_storage(app: FastAPI) -> LocalObjectStorage:
    storage = app.state.ports.storage
    assert isinstance(storage, LocalObjectStorage)
    return storage


@pytest.fixture
async def stored(app: FastAPI) -> dict[str, bytes]:
    storage = local_storage(app)
    objects = {
        "profile_photos/u1/avatar.png": image_bytes("PNG"),
        "user_assets/u1/selfie/a.jpg": image_bytes("JPEG"),
        "user_assets/u1/selfie/b.webp": image_bytes("WEBP"),
    }
    for key, data in objects.items():
        bucket, path = key.split("/", 1)
        await storage.put(bucket, path, data, content_type="image/png")
    return objects


def split_signed(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, {key: values[0] for key, values in parse_qs(parts.query).items()}


class TestPublicBuckets:
    async def test_served_without_a_signature_and_cacheable(
        self, client: httpx.AsyncClient, stored: dict[str, bytes]
    ):
        response = await client.get(f"{API}/files/profile_photos/u1/avatar.png")
        assert response.status_code == 200
        assert response.content == stored["profile_photos/u1/avatar.png"]
        assert response.headers["content-type"] == "image/png"
        assert response.headers["x-content-type-options"] == "nosniff"
        cache = response.headers["cache-control"]
        assert "public" in cache
        assert "immutable" in cache
        assert "max-age=31536000" in cache
        etag = response.headers["etag"]
        again = await client.get(
            f"{API}/files/profile_photos/u1/avatar.png", headers={"If-None-Match": etag}
        )
        assert again.status_code == 304
        assert again.content == b""

    async def test_head_has_the_headers_without_the_body(
        self, client: httpx.AsyncClient, stored: dict[str, bytes]
    ):
        response = await client.head(f"{API}/files/profile_photos/u1/avatar.png")
        assert response.status_code == 200
        assert response.content == b""
        size = len(stored["profile_photos/u1/avatar.png"])
        assert response.headers["content-length"] == str(size)

    async def test_missing_object_and_unknown_bucket_are_404(
        self, client: httpx.AsyncClient, stored: dict[str, bytes]
    ):
        response = await client.get(f"{API}/files/profile_photos/u1/other.png")
        assert_error(response, 404, "not_found")
        response = await client.get(f"{API}/files/elsewhere/u1/avatar.png")
        assert_error(response, 404, "not_found")


class TestPrivateBuckets:
    async def test_a_signed_url_serves_the_bytes(
        self, client: httpx.AsyncClient, app: FastAPI, stored: dict[str, bytes]
    ):
        url = await local_storage(app).signed_url("user_assets", "u1/selfie/a.jpg", expires_in=60)
        response = await client.get(url)
        assert response.status_code == 200
        assert response.content == stored["user_assets/u1/selfie/a.jpg"]
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["cache-control"].startswith("private, max-age=")
        webp = await local_storage(app).signed_url("user_assets", "u1/selfie/b.webp", expires_in=60)
        assert (await client.get(webp)).headers["content-type"] == "image/webp"

    async def test_without_a_signature_it_is_403(
        self, client: httpx.AsyncClient, stored: dict[str, bytes]
    ):
        response = await client.get(f"{API}/files/user_assets/u1/selfie/a.jpg")
        assert_error(response, 403, "invalid_signature")
        response = await client.get(
            f"{API}/files/user_assets/u1/selfie/a.jpg", params={"expires": int(time.time()) + 60}
        )
        assert_error(response, 403, "invalid_signature")

    async def test_a_tampered_signature_or_expiry_is_403(
        self, client: httpx.AsyncClient, app: FastAPI, stored: dict[str, bytes]
    ):
        url = await local_storage(app).signed_url("user_assets", "u1/selfie/a.jpg", expires_in=60)
        path, query = split_signed(url)
        flipped = query["signature"][:-2] + ("AA" if query["signature"][-2:] != "AA" else "BB")
        response = await client.get(path, params={**query, "signature": flipped})
        assert_error(response, 403, "invalid_signature")
        later = int(query["expires"]) + 3600
        response = await client.get(path, params={**query, "expires": later})
        assert_error(response, 403, "invalid_signature")

    async def test_a_signature_for_another_path_does_not_open_this_one(
        self, client: httpx.AsyncClient, app: FastAPI, stored: dict[str, bytes]
    ):
        url = await local_storage(app).signed_url("user_assets", "u1/selfie/a.jpg", expires_in=60)
        _, query = split_signed(url)
        response = await client.get(f"{API}/files/user_assets/u1/selfie/b.webp", params=query)
        assert_error(response, 403, "invalid_signature")

    async def test_an_expired_url_is_403(
        self, client: httpx.AsyncClient, app: FastAPI, stored: dict[str, bytes]
    ):
        storage = local_storage(app)
        url = await storage.signed_url("user_assets", "u1/selfie/a.jpg", expires_in=-5)
        assert_error(await client.get(url), 403, "url_expired")
        # Built by hand: a correct signature over an expiry in the past.
        expires = int(time.time()) - 1
        signature = storage.sign("user_assets", "u1/selfie/a.jpg", expires)
        response = await client.get(
            f"{API}/files/user_assets/u1/selfie/a.jpg",
            params={"expires": expires, "signature": signature},
        )
        assert_error(response, 403, "url_expired")

    async def test_a_signed_url_for_a_missing_object_is_404(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        url = await local_storage(app).signed_url("user_assets", "u1/gone.png", expires_in=60)
        assert_error(await client.get(url), 404, "not_found")

    async def test_a_malformed_expiry_is_422(self, client: httpx.AsyncClient):
        response = await client.get(
            f"{API}/files/user_assets/u1/selfie/a.jpg",
            params={"expires": "soon", "signature": "x"},
        )
        assert response.status_code == 422


class TestTraversal:
    @pytest.fixture
    def secret_outside(self, app: FastAPI) -> Path:
        """A file beside the buckets and one beside the data folder, never to be served."""
        storage = local_storage(app)
        storage.root.mkdir(parents=True, exist_ok=True)
        (storage.root / "secret.png").write_bytes(b"beside the buckets")
        outside = storage.root.parent.parent / "secret.png"
        outside.write_bytes(b"outside the data folder")
        return outside

    @pytest.mark.parametrize(
        "raw_path",
        [
            "profile_photos/%2e%2e/secret.png",
            "profile_photos/%2E%2E%2Fsecret.png",
            "profile_photos/u1/..%2f..%2fsecret.png",
            "profile_photos/..%2f..%2f..%2fsecret.png",
            "profile_photos/%2Fetc%2Fpasswd",
            "profile_photos//etc/passwd",
            "profile_photos/u1/.%2favatar.png",
            "profile_photos/u1%5c..%5c..%5csecret.png",
            "profile_photos/u1/avatar.png%00.txt",
            "%2e%2e/secret.png",
        ],
    )
    async def test_escapes_are_404_and_read_nothing(
        self,
        client: httpx.AsyncClient,
        stored: dict[str, bytes],
        secret_outside: Path,
        raw_path: str,
    ):
        response = await client.get(f"{API}/files/{raw_path}")
        assert response.status_code in (400, 404), response.text
        assert b"beside" not in response.content
        assert b"outside" not in response.content
        assert b"root:" not in response.content

    async def test_a_symlink_out_of_a_bucket_is_404(
        self, client: httpx.AsyncClient, app: FastAPI, secret_outside: Path
    ):
        bucket = local_storage(app).root / "profile_photos"
        bucket.mkdir(parents=True, exist_ok=True)
        (bucket / "link.png").symlink_to(secret_outside)
        response = await client.get(f"{API}/files/profile_photos/link.png")
        assert_error(response, 404, "not_found")


class _CloudStorage:
    """Stands in for a cloud adapter: anything that is not the local folder."""

    name = "cloud"

    def public_url(self, bucket: str, path: str) -> str:
        return f"https://cloud.test/{bucket}/{path}"


async def test_the_route_answers_404_when_storage_is_not_local(
    client: httpx.AsyncClient, app: FastAPI, stored: dict[str, bytes]
):
    local = app.state.ports
    app.state.ports = dataclasses.replace(local, storage=_CloudStorage())
    try:
        response = await client.get(f"{API}/files/profile_photos/u1/avatar.png")
    finally:
        app.state.ports = local
    assert_error(response, 404, "not_found")


async def test_health_reports_the_storage(client: httpx.AsyncClient):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["checks"]["storage"]["status"] == "ok"
    assert response.json()["checks"]["storage"]["adapter"] == "local"
