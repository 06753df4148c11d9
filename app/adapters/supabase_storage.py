"""Object storage on Supabase Storage through the official async client (storage3)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode

from app.adapters.storage import (
    Buckets,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectRejected,
    StorageUnavailable,
    check_object_path,
)
from app.config import Settings, secret_value

if TYPE_CHECKING:
    import httpx
    from supabase import AsyncClient

T = TypeVar("T")

# Storage refuses bulk deletes of more than 1000 names per request.
DELETE_BATCH_SIZE = 1000
# The list endpoint caps a page at 1500 rows; stay well under it and page with offset.
LIST_PAGE_SIZE = 1000
# Render paths carry random ids and never change, so browsers and CDNs may keep them a year.
IMMUTABLE_CACHE_SECONDS = 365 * 86400
DEFAULT_CACHE_SECONDS = 3600
CONNECT_TIMEOUT_SECONDS = 5.0
REQUEST_TIMEOUT_SECONDS = 60.0
# Characters storage3 (through yarl) leaves as they are inside a path segment.
_SEGMENT_SAFE = "!$&'()*+,;=:@~"


class SupabaseObjectStorage:
    """`ObjectStorage` on a Supabase project, authenticated with the service role key.

    The `supabase` package is imported on first use and one client is kept for the life of
    the adapter; `close()` releases its connections.
    """

    name = "supabase"

    def __init__(self, settings: Settings) -> None:
        if not settings.uses_supabase_storage:
            raise ValueError("SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY must both be set")
        self._url = settings.supabase_url.rstrip("/")
        self._key = secret_value(settings.supabase_service_role_key)
        self._buckets = Buckets.from_settings(settings)
        self._renders_bucket = settings.renders_bucket
        self._client: AsyncClient | None = None
        self._http: httpx.AsyncClient | None = None
        self._client_lock = asyncio.Lock()

    async def _storage(self) -> Any:
        """The storage3 client, created on first use."""
        if self._client is None:
            async with self._client_lock:
                if self._client is None:
                    self._client = await self._create_client()
        return self._client.storage

    async def _create_client(self) -> AsyncClient:
        import httpx
        from supabase import AsyncClientOptions, acreate_client

        # Our own HTTP client: bounded timeouts, and one pool that close() can release.
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(REQUEST_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
            follow_redirects=True,
        )
        try:
            client = await acreate_client(
                self._url,
                self._key,
                options=AsyncClientOptions(
                    httpx_client=http, auto_refresh_token=False, persist_session=False
                ),
            )
        except Exception as exc:
            await http.aclose()
            raise StorageUnavailable(f"Supabase client could not be set up: {exc}") from exc
        self._http = http
        return client

    async def _call(
        self, action: str, operation: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any
    ) -> T:
        """Run one storage call, turning client and transport errors into port errors."""
        import httpx
        from storage3.exceptions import StorageApiError
        from storage3.utils import StorageException

        try:
            return await operation(*args, **kwargs)
        except StorageApiError as exc:
            raise _map_api_error(action, exc) from exc
        except StorageException as exc:
            raise StorageUnavailable(f"Supabase Storage failed to {action}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise StorageUnavailable(
                f"Supabase Storage could not be reached to {action}: {type(exc).__name__}"
            ) from exc

    async def put(
        self, bucket: str, path: str, data: bytes, *, content_type: str, upsert: bool = True
    ) -> None:
        check_object_path(path)
        cache_seconds = (
            IMMUTABLE_CACHE_SECONDS if bucket == self._renders_bucket else DEFAULT_CACHE_SECONDS
        )
        options = {
            "content-type": content_type,
            "cache-control": str(cache_seconds),
            "upsert": "true" if upsert else "false",
        }
        files = (await self._storage()).from_(bucket)
        await self._call(f"store {bucket}/{path}", files.upload, path, data, file_options=options)

    async def get(self, bucket: str, path: str) -> bytes:
        check_object_path(path)
        files = (await self._storage()).from_(bucket)
        content: bytes = await self._call(f"read {bucket}/{path}", files.download, path)
        return content

    async def delete(self, bucket: str, paths: Sequence[str]) -> None:
        names = [check_object_path(path) for path in paths]
        if names:
            await self._remove(bucket, names)

    async def delete_prefix(self, bucket: str, prefix: str) -> int:
        check_object_path(prefix)
        names = [name async for name in self._walk(bucket, prefix)]
        return await self._remove(bucket, names) if names else 0

    async def signed_url(self, bucket: str, path: str, *, expires_in: int) -> str:
        check_object_path(path)
        files = (await self._storage()).from_(bucket)
        response = await self._call(
            f"sign {bucket}/{path}", files.create_signed_url, path, expires_in
        )
        url = response.get("signedURL") or response.get("signedUrl")
        if not url:
            raise StorageUnavailable(f"Supabase Storage returned no signed URL for {bucket}/{path}")
        return str(url)

    async def download_url(
        self, bucket: str, path: str, *, filename: str, expires_in: int
    ) -> str | None:
        # Storage answers `?download=<name>` with `Content-Disposition: attachment` and the
        # name (an ASCII fallback and its UTF-8 `filename*`), so the bytes go straight from
        # Storage's CDN to the browser instead of through the API function.
        query = urlencode({"download": filename}, quote_via=quote)
        if self._buckets.is_public(bucket):
            return f"{self.public_url(bucket, path)}?{query}"
        signed = await self.signed_url(bucket, path, expires_in=expires_in)
        return f"{signed}{'&' if '?' in signed else '?'}{query}"

    def public_url(self, bucket: str, path: str) -> str:
        # The same URL storage3's get_public_url builds, without needing the client or a loop.
        check_object_path(path)
        segments = "/".join(quote(part, safe=_SEGMENT_SAFE) for part in path.split("/"))
        bucket_segment = quote(bucket, safe=_SEGMENT_SAFE)
        return f"{self._url}/storage/v1/object/public/{bucket_segment}/{segments}"

    async def ping(self) -> None:
        storage = await self._storage()
        found = await self._call("list buckets", storage.list_buckets)
        existing = {bucket.id for bucket in found}
        missing = [spec.name for spec in self._buckets.all() if spec.name not in existing]
        if missing:
            raise StorageUnavailable(
                f"Supabase Storage has no bucket {', '.join(missing)}; "
                "run scripts/setup_storage_buckets.py"
            )

    async def close(self) -> None:
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.aclose()

    async def _walk(self, bucket: str, prefix: str) -> AsyncIterator[str]:
        """Every object name under `prefix/`, descending into folders."""
        files = (await self._storage()).from_(bucket)
        folders = [prefix]
        while folders:
            folder = folders.pop()
            offset = 0
            while True:
                options = {"limit": LIST_PAGE_SIZE, "offset": offset}
                entries: list[dict[str, Any]] = await self._call(
                    f"list {bucket}/{folder}/", files.list, folder, options
                )
                for entry in entries:
                    name = f"{folder}/{entry['name']}"
                    # Folders are listed as rows without an id.
                    if entry.get("id") is None:
                        folders.append(name)
                    else:
                        yield name
                if len(entries) < LIST_PAGE_SIZE:
                    break
                offset += len(entries)

    async def _remove(self, bucket: str, names: list[str]) -> int:
        files = (await self._storage()).from_(bucket)
        removed = 0
        for start in range(0, len(names), DELETE_BATCH_SIZE):
            batch = names[start : start + DELETE_BATCH_SIZE]
            deleted: list[dict[str, Any]] = await self._call(
                f"delete {len(batch)} objects from {bucket}", files.remove, batch
            )
            removed += len(deleted)
        return removed


def _map_api_error(action: str, exc: Any) -> Exception:
    # Storage answers most errors with HTTP 400 and puts the meaningful status in the body
    # ("statusCode": "404"); storage3 keeps that one as `status` and the body's "error" as `code`.
    status, error, message = str(exc.status), str(exc.code), str(exc.message)
    if status == "404" and error == "not_found":
        return ObjectNotFound(f"cannot {action}: {message}")
    if status == "404" and error == "Bucket not found":
        return StorageUnavailable(
            f"cannot {action}: the bucket does not exist; run scripts/setup_storage_buckets.py"
        )
    if status == "409" and error == "Duplicate":
        return ObjectAlreadyExists(f"cannot {action}: the object already exists")
    if status in ("413", "415"):
        return ObjectRejected(int(status), f"cannot {action}: {message}")
    return StorageUnavailable(f"Supabase Storage refused to {action}: {status} {message}")
