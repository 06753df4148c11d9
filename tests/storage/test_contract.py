"""What every object storage adapter must do, run against each one."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from app.adapters.storage import (
    Buckets,
    InvalidObjectPath,
    ObjectAlreadyExists,
    ObjectNotFound,
    object_url,
)
from tests.storage.conftest import StorageUnderTest

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x02" * 64
BAD_PATHS = ["../x", "/abs", "", "a/../b", "a//b", "a/./b", "a\\b"]


def tamper_token(url: str) -> str:
    """Change the last character of every query value (the token or the signature)."""
    parts = urlsplit(url)
    query = [
        (name, value[:-1] + ("A" if value[-1:] != "A" else "B")) if value else (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


class TestPutAndGet:
    async def test_roundtrip(self, storage: StorageUnderTest, buckets: Buckets) -> None:
        adapter, _ = storage
        await adapter.put(buckets.user_assets.name, "u1/a.png", PNG, content_type="image/png")
        assert await adapter.get(buckets.user_assets.name, "u1/a.png") == PNG

    async def test_upsert_false_refuses_an_existing_object(
        self, storage: StorageUnderTest, buckets: Buckets
    ) -> None:
        adapter, _ = storage
        bucket = buckets.user_assets.name
        await adapter.put(bucket, "u1/a.png", PNG, content_type="image/png", upsert=False)
        with pytest.raises(ObjectAlreadyExists):
            await adapter.put(bucket, "u1/a.png", JPEG, content_type="image/jpeg", upsert=False)
        assert await adapter.get(bucket, "u1/a.png") == PNG

    async def test_upsert_replaces(self, storage: StorageUnderTest, buckets: Buckets) -> None:
        adapter, _ = storage
        bucket = buckets.user_assets.name
        await adapter.put(bucket, "u1/a.png", PNG, content_type="image/png")
        await adapter.put(bucket, "u1/a.png", JPEG, content_type="image/jpeg", upsert=True)
        assert await adapter.get(bucket, "u1/a.png") == JPEG

    async def test_get_missing(self, storage: StorageUnderTest, buckets: Buckets) -> None:
        adapter, _ = storage
        with pytest.raises(ObjectNotFound):
            await adapter.get(buckets.user_assets.name, "u1/none.png")


class TestDelete:
    async def test_delete_removes_and_ignores_missing(
        self, storage: StorageUnderTest, buckets: Buckets
    ) -> None:
        adapter, _ = storage
        bucket = buckets.user_assets.name
        await adapter.put(bucket, "u1/a.png", PNG, content_type="image/png")
        await adapter.delete(bucket, ["u1/a.png", "u1/never-there.png"])
        await adapter.delete(bucket, ["u1/a.png"])
        await adapter.delete(bucket, [])
        with pytest.raises(ObjectNotFound):
            await adapter.get(bucket, "u1/a.png")

    async def test_delete_prefix_removes_only_that_users_objects(
        self, storage: StorageUnderTest, buckets: Buckets
    ) -> None:
        adapter, _ = storage
        bucket = buckets.user_assets.name
        mine = ["alice/a.png", "alice/job/1.png", "alice/job/deeper/2.png"]
        theirs = ["bob/a.png", "alice2/a.png", "alicex.png"]
        for path in mine + theirs:
            await adapter.put(bucket, path, PNG, content_type="image/png")

        assert await adapter.delete_prefix(bucket, "alice") == len(mine)

        for path in mine:
            with pytest.raises(ObjectNotFound):
                await adapter.get(bucket, path)
        for path in theirs:
            assert await adapter.get(bucket, path) == PNG
        assert await adapter.delete_prefix(bucket, "alice") == 0


class TestUrls:
    async def test_signed_url_serves_the_object(
        self, storage: StorageUnderTest, buckets: Buckets
    ) -> None:
        adapter, fetch = storage
        bucket = buckets.user_assets.name
        await adapter.put(bucket, "u1/a.png", PNG, content_type="image/png")
        url = await adapter.signed_url(bucket, "u1/a.png", expires_in=300)
        assert await fetch(url) == (200, PNG)

    async def test_tampered_signed_url_is_refused(
        self, storage: StorageUnderTest, buckets: Buckets
    ) -> None:
        adapter, fetch = storage
        bucket = buckets.user_assets.name
        await adapter.put(bucket, "u1/a.png", PNG, content_type="image/png")
        await adapter.put(bucket, "u2/b.png", JPEG, content_type="image/jpeg")
        url = await adapter.signed_url(bucket, "u1/a.png", expires_in=300)

        status, body = await fetch(tamper_token(url))
        assert status >= 400
        assert body != PNG
        status, body = await fetch(url.replace("u1/a.png", "u2/b.png"))
        assert status >= 400
        assert body != JPEG

    async def test_signed_url_of_a_missing_object(
        self, storage: StorageUnderTest, buckets: Buckets
    ) -> None:
        adapter, fetch = storage
        bucket = buckets.user_assets.name
        try:
            url = await adapter.signed_url(bucket, "u1/none.png", expires_in=300)
        except ObjectNotFound:
            return
        status, _ = await fetch(url)
        assert status >= 400

    async def test_public_url_of_public_buckets(
        self, storage: StorageUnderTest, buckets: Buckets
    ) -> None:
        adapter, fetch = storage
        for spec in (buckets.profile_photos, buckets.renders):
            await adapter.put(spec.name, "u1/j1/v1.png", PNG, content_type="image/png")
            assert await fetch(adapter.public_url(spec.name, "u1/j1/v1.png")) == (200, PNG)

    async def test_public_url_of_a_private_bucket_does_not_serve(
        self, storage: StorageUnderTest, buckets: Buckets
    ) -> None:
        adapter, fetch = storage
        bucket = buckets.user_assets.name
        await adapter.put(bucket, "u1/a.png", PNG, content_type="image/png")
        status, body = await fetch(adapter.public_url(bucket, "u1/a.png"))
        assert status >= 400
        assert body != PNG

    async def test_object_url_picks_public_or_signed(
        self, storage: StorageUnderTest, buckets: Buckets
    ) -> None:
        adapter, fetch = storage
        for spec in buckets.all():
            await adapter.put(spec.name, "u1/a.png", PNG, content_type="image/png")
            url = await object_url(adapter, buckets, spec.name, "u1/a.png", expires_in=300)
            assert await fetch(url) == (200, PNG)
            assert (url == adapter.public_url(spec.name, "u1/a.png")) is spec.public


class TestInvalidPaths:
    @pytest.mark.parametrize("path", BAD_PATHS)
    async def test_every_operation_refuses_the_path(
        self, storage: StorageUnderTest, buckets: Buckets, path: str
    ) -> None:
        adapter, _ = storage
        bucket = buckets.user_assets.name
        with pytest.raises(InvalidObjectPath):
            await adapter.put(bucket, path, PNG, content_type="image/png")
        with pytest.raises(InvalidObjectPath):
            await adapter.get(bucket, path)
        with pytest.raises(InvalidObjectPath):
            await adapter.delete(bucket, ["u1/fine.png", path])
        with pytest.raises(InvalidObjectPath):
            await adapter.delete_prefix(bucket, path)
        with pytest.raises(InvalidObjectPath):
            await adapter.signed_url(bucket, path, expires_in=60)
        with pytest.raises(InvalidObjectPath):
            adapter.public_url(buckets.renders.name, path)
