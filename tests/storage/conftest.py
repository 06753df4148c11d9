"""Storage fixtures: one adapter per backend behind `storage`, and a shared Supabase test server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, TypeAlias

import httpx
import pytest

from app.adapters.storage import Buckets, ObjectStorage
from app.adapters.supabase_storage import SupabaseObjectStorage
from app.config import Settings
from tests.conftest import http_client, make_settings, running_app
from tests.support.supabase_storage_server import (
    StorageState,
    service_role_key,
    supabase_storage_server,
)

SERVICE_KEY = service_role_key("storage-tests-jwt-secret-0123456789abcdef")

Fetch: TypeAlias = Callable[[str], Awaitable[tuple[int, bytes]]]
StorageUnderTest: TypeAlias = tuple[ObjectStorage, Fetch]


class SupabaseStorageServer:
    """The running test server: its base URL and what it holds."""

    def __init__(self, url: str, state: StorageState) -> None:
        self.url = url
        self.state = state

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "supabase_url": self.url,
            "supabase_service_role_key": SERVICE_KEY,
        }
        values.update(overrides)
        return make_settings(**values)


@pytest.fixture(scope="session")
def supabase_server() -> Iterator[SupabaseStorageServer]:
    state = StorageState()
    with supabase_storage_server(SERVICE_KEY, state=state) as url:
        yield SupabaseStorageServer(url, state)


@pytest.fixture
def supabase(supabase_server: SupabaseStorageServer) -> SupabaseStorageServer:
    """The shared server, emptied for this test."""
    supabase_server.state.clear()
    return supabase_server


@asynccontextmanager
async def storage_client(
    url: str, key: str = SERVICE_KEY, *, headers: dict[str, str] | None = None
) -> AsyncIterator[Any]:
    """The real supabase client's storage API (storage3), on a connection pool closed on exit."""
    from supabase import AsyncClientOptions, acreate_client

    async with httpx.AsyncClient() as http:
        options = AsyncClientOptions(httpx_client=http)
        if headers:
            options.headers.update(headers)
        client = await acreate_client(url, key, options=options)
        yield client.storage


async def create_buckets(server: SupabaseStorageServer, buckets: Buckets) -> None:
    async with storage_client(server.url) as storage:
        for spec in buckets.all():
            await storage.create_bucket(
                spec.name,
                options={
                    "public": spec.public,
                    "file_size_limit": spec.file_size_limit,
                    "allowed_mime_types": list(spec.allowed_mime_types),
                },
            )


@pytest.fixture
def buckets() -> Buckets:
    """The product's buckets with their default names, as every adapter under test has them."""
    return Buckets.from_settings(make_settings())


@asynccontextmanager
async def _supabase_storage(request: pytest.FixtureRequest) -> AsyncIterator[StorageUnderTest]:
    server: SupabaseStorageServer = request.getfixturevalue("supabase")
    settings = server.settings()
    await create_buckets(server, Buckets.from_settings(settings))
    adapter = SupabaseObjectStorage(settings)
    async with httpx.AsyncClient() as http:

        async def fetch(url: str) -> tuple[int, bytes]:
            response = await http.get(url)
            return response.status_code, response.content

        try:
            yield adapter, fetch
        finally:
            await adapter.close()


@asynccontextmanager
async def _local_storage(request: pytest.FixtureRequest) -> AsyncIterator[StorageUnderTest]:
    """The app's own local adapter; its URLs are fetched from the app that serves them."""
    tmp_path: Path = request.getfixturevalue("tmp_path")
    sqlite_database: str = request.getfixturevalue("sqlite_database")
    settings = make_settings(database_url=sqlite_database, data_dir=tmp_path)
    async with running_app(settings) as app, http_client(app) as http:

        async def fetch(url: str) -> tuple[int, bytes]:
            response = await http.get(url)
            return response.status_code, response.content

        yield app.state.ports.storage, fetch


# One entry per adapter; each yields the adapter and a way to fetch the URLs it hands out.
_ADAPTERS: dict[
    str, Callable[[pytest.FixtureRequest], AbstractAsyncContextManager[StorageUnderTest]]
] = {
    "local": _local_storage,
    "supabase": _supabase_storage,
}


@pytest.fixture(params=sorted(_ADAPTERS))
async def storage(request: pytest.FixtureRequest) -> AsyncIterator[StorageUnderTest]:
    async with _ADAPTERS[request.param](request) as under_test:
        yield under_test
