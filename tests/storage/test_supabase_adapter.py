"""Behaviour of the Supabase Storage adapter beyond the shared contract."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime

import httpx
import pytest
from storage3._async.file_api import AsyncBucketProxy
from yarl import URL

from app.adapters.storage import Buckets, InvalidObjectPath, ObjectRejected, StorageUnavailable
from app.adapters.supabase_storage import (
    DELETE_BATCH_SIZE,
    LIST_PAGE_SIZE,
    SupabaseObjectStorage,
)
from tests.conftest import ROOT, make_settings
from tests.storage.conftest import SERVICE_KEY, SupabaseStorageServer, create_buckets
from tests.support.services import free_loopback_port
from tests.support.supabase_storage_server import StoredObject

PNG = b"\x89PNG\r\n\x1a\n" + b"\x03" * 16


@pytest.fixture
async def ready(supabase: SupabaseStorageServer) -> SupabaseStorageServer:
    """The test server with the product's buckets."""
    await create_buckets(supabase, Buckets.from_settings(supabase.settings()))
    supabase.state.requests.clear()
    return supabase


@pytest.fixture
async def adapter(ready: SupabaseStorageServer):
    storage = SupabaseObjectStorage(ready.settings())
    yield storage
    await storage.close()


def seed(server: SupabaseStorageServer, bucket: str, names: list[str]) -> None:
    moment = datetime.now(UTC)
    objects = server.state.objects[bucket]
    for index, name in enumerate(names):
        objects[name] = StoredObject(
            id=f"00000000-0000-4000-8000-{index:012d}",
            bucket_id=bucket,
            name=name,
            data=b"x",
            content_type="image/png",
            cache_control="no-cache",
            version="1",
            created_at=moment,
            updated_at=moment,
        )


def test_importing_the_adapter_does_not_load_the_sdk() -> None:
    code = (
        "import sys, app.adapters.supabase_storage\n"
        "loaded = [m for m in ('supabase', 'storage3', 'httpx') if m in sys.modules]\n"
        "print(','.join(loaded))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "supabase" not in result.stdout
    assert "storage3" not in result.stdout


def test_needs_url_and_service_key() -> None:
    with pytest.raises(ValueError, match="SUPABASE_URL"):
        SupabaseObjectStorage(make_settings(supabase_url="", supabase_service_role_key=""))


class TestPut:
    async def test_content_type_and_cache_control(
        self, adapter: SupabaseObjectStorage, ready: SupabaseStorageServer
    ) -> None:
        buckets = Buckets.from_settings(ready.settings())
        await adapter.put(buckets.renders.name, "u/j/v.webp", PNG, content_type="image/webp")
        await adapter.put(buckets.user_assets.name, "u/a.jpg", PNG, content_type="image/jpeg")
        render = ready.state.objects[buckets.renders.name]["u/j/v.webp"]
        asset = ready.state.objects[buckets.user_assets.name]["u/a.jpg"]
        assert (render.content_type, render.cache_control) == ("image/webp", "max-age=31536000")
        assert (asset.content_type, asset.cache_control) == ("image/jpeg", "max-age=3600")
        async with httpx.AsyncClient() as http:
            response = await http.get(adapter.public_url(buckets.renders.name, "u/j/v.webp"))
        assert response.headers["content-type"] == "image/webp"
        assert response.headers["cache-control"] == "max-age=31536000"

    async def test_bucket_limits_are_final_refusals_not_outages(
        self, adapter: SupabaseObjectStorage, ready: SupabaseStorageServer
    ) -> None:
        bucket = ready.settings().user_assets_bucket
        with pytest.raises(ObjectRejected, match="not supported") as refused:
            await adapter.put(bucket, "u/a.gif", b"GIF89a", content_type="image/gif")
        assert refused.value.status == 415
        limit = Buckets.from_settings(ready.settings()).user_assets.file_size_limit
        assert limit is not None
        with pytest.raises(ObjectRejected) as too_large:
            await adapter.put(bucket, "u/big.png", PNG + b"\0" * limit, content_type="image/png")
        assert too_large.value.status == 413

    async def test_missing_bucket_says_how_to_fix_it(self, adapter: SupabaseObjectStorage) -> None:
        with pytest.raises(StorageUnavailable, match="setup_storage_buckets"):
            await adapter.put("no_such_bucket", "u/a.png", PNG, content_type="image/png")

    async def test_one_client_for_concurrent_first_calls(
        self, adapter: SupabaseObjectStorage, ready: SupabaseStorageServer
    ) -> None:
        bucket = ready.settings().user_assets_bucket
        await asyncio.gather(
            *(adapter.put(bucket, f"u/{n}.png", PNG, content_type="image/png") for n in range(8))
        )
        first = adapter._http
        await adapter.get(bucket, "u/0.png")
        assert first is not None
        assert adapter._http is first


class TestInvalidPathsNeverReachTheNetwork:
    async def test_no_request_is_made(
        self, adapter: SupabaseObjectStorage, ready: SupabaseStorageServer
    ) -> None:
        bucket = ready.settings().user_assets_bucket
        for path in ("../x", "/abs", ""):
            with pytest.raises(InvalidObjectPath):
                await adapter.put(bucket, path, PNG, content_type="image/png")
            with pytest.raises(InvalidObjectPath):
                await adapter.get(bucket, path)
            with pytest.raises(InvalidObjectPath):
                await adapter.delete_prefix(bucket, path)
        assert ready.state.requests == []
        assert adapter._http is None


class TestDeletePrefix:
    async def test_pages_through_listings_and_deletes_in_batches(
        self, adapter: SupabaseObjectStorage, ready: SupabaseStorageServer
    ) -> None:
        bucket = ready.settings().user_assets_bucket
        # More files than one listing page in one folder, and nested folders besides.
        flat = [f"u/{n:05d}.png" for n in range(LIST_PAGE_SIZE + 150)]
        nested = [f"u/job{j}/{n}.png" for j in range(3) for n in range(400)]
        seed(ready, bucket, [*flat, *nested, "u2/keep.png", "other/u/keep.png"])

        removed = await adapter.delete_prefix(bucket, "u")

        assert removed == len(flat) + len(nested)
        assert set(ready.state.objects[bucket]) == {"u2/keep.png", "other/u/keep.png"}
        deletes = ready.state.calls("DELETE", f"/object/{bucket}")
        assert deletes == -(-removed // DELETE_BATCH_SIZE)
        assert ready.state.calls("POST", f"/object/list/{bucket}") == 2 + 3


class TestUrls:
    @pytest.mark.parametrize("path", ["u/a.png", "u/a b+c@d,e.png", "u/ümlaut (1).webp"])
    async def test_public_url_matches_the_client(
        self, adapter: SupabaseObjectStorage, ready: SupabaseStorageServer, path: str
    ) -> None:
        bucket = ready.settings().renders_bucket
        expected = await AsyncBucketProxy(
            bucket,
            URL(f"{ready.url}/storage/v1/"),
            httpx.Headers(),
            httpx.AsyncClient(),
        ).get_public_url(path)
        assert adapter.public_url(bucket, path) == expected
        assert ready.state.requests == []

    async def test_public_url_with_a_trailing_slash_in_settings(
        self, ready: SupabaseStorageServer
    ) -> None:
        storage = SupabaseObjectStorage(ready.settings(supabase_url=ready.url + "/"))
        assert storage.public_url("renders", "u/a.png") == (
            f"{ready.url}/storage/v1/object/public/renders/u/a.png"
        )

    async def test_signed_url_is_absolute(
        self, adapter: SupabaseObjectStorage, ready: SupabaseStorageServer
    ) -> None:
        bucket = ready.settings().user_assets_bucket
        await adapter.put(bucket, "u/a.png", PNG, content_type="image/png")
        url = await adapter.signed_url(bucket, "u/a.png", expires_in=60)
        assert url.startswith(f"{ready.url}/storage/v1/object/sign/{bucket}/u/a.png?token=")


class TestPingAndFailures:
    async def test_ping(self, adapter: SupabaseObjectStorage) -> None:
        await adapter.ping()

    async def test_ping_names_missing_buckets(self, supabase: SupabaseStorageServer) -> None:
        storage = SupabaseObjectStorage(supabase.settings())
        try:
            with pytest.raises(StorageUnavailable, match="user_assets, profile_photos, renders"):
                await storage.ping()
        finally:
            await storage.close()

    async def test_unreachable_server(self) -> None:
        url = f"http://127.0.0.1:{free_loopback_port()}"
        storage = SupabaseObjectStorage(
            make_settings(supabase_url=url, supabase_service_role_key=SERVICE_KEY)
        )
        try:
            with pytest.raises(StorageUnavailable, match="could not be reached") as exc:
                await storage.get("user_assets", "u/a.png")
            with pytest.raises(StorageUnavailable):
                await storage.ping()
        finally:
            await storage.close()
        assert SERVICE_KEY not in str(exc.value)

    async def test_wrong_key_is_unavailable_and_not_echoed(
        self, ready: SupabaseStorageServer
    ) -> None:
        wrong = "wrong-" + SERVICE_KEY[6:]
        storage = SupabaseObjectStorage(ready.settings(supabase_service_role_key=wrong))
        try:
            with pytest.raises(StorageUnavailable, match="401") as exc:
                await storage.get(ready.settings().user_assets_bucket, "u/a.png")
        finally:
            await storage.close()
        assert wrong not in str(exc.value)
        assert SERVICE_KEY not in str(exc.value)

    async def test_close_then_use_again(
        self, adapter: SupabaseObjectStorage, ready: SupabaseStorageServer
    ) -> None:
        bucket = ready.settings().user_assets_bucket
        await adapter.put(bucket, "u/a.png", PNG, content_type="image/png")
        await adapter.close()
        await adapter.close()
        assert await adapter.get(bucket, "u/a.png") == PNG
