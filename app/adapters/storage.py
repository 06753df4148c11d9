"""Object storage port: buckets of files, with public or signed URLs.

Two adapters implement it: `LocalObjectStorage` (a folder under DATA_DIR, served by the API with
HMAC-signed URLs) and `SupabaseObjectStorage` (Supabase Storage through storage3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from app.config import Settings


class ObjectNotFound(Exception):
    """No object at that bucket and path."""


class StorageUnavailable(Exception):
    """The storage service could not be reached or refused the request."""


class InvalidObjectPath(ValueError):
    """A path that is empty, absolute, or would leave its bucket."""


@dataclass(frozen=True, slots=True)
class BucketSpec:
    name: str
    public: bool
    file_size_limit: int
    allowed_mime_types: tuple[str, ...] = ("image/png", "image/jpeg", "image/webp")


@dataclass(frozen=True, slots=True)
class Buckets:
    """The three buckets the product uses, named by settings."""

    user_assets: BucketSpec
    profile_photos: BucketSpec
    renders: BucketSpec

    @classmethod
    def from_settings(cls, settings: Settings) -> Buckets:
        return cls(
            user_assets=BucketSpec(
                settings.user_assets_bucket, public=False, file_size_limit=settings.max_upload_bytes
            ),
            profile_photos=BucketSpec(
                settings.profile_photos_bucket,
                public=True,
                file_size_limit=settings.max_upload_bytes,
            ),
            # Render paths carry random ids, so public read is safe and URLs stay cacheable.
            renders=BucketSpec(
                settings.renders_bucket,
                public=True,
                file_size_limit=settings.provider_output_max_bytes,
            ),
        )

    def all(self) -> tuple[BucketSpec, ...]:
        return (self.user_assets, self.profile_photos, self.renders)

    def is_public(self, bucket: str) -> bool:
        return any(spec.name == bucket and spec.public for spec in self.all())


def check_object_path(path: str) -> str:
    """Refuse paths that could escape a bucket; return the path unchanged when it is safe."""
    parts = path.split("/")
    if (
        not path
        or len(path) > 1024
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise InvalidObjectPath(f"invalid object path: {path!r}")
    return path


class ObjectStorage(Protocol):
    name: str

    async def put(
        self, bucket: str, path: str, data: bytes, *, content_type: str, upsert: bool = True
    ) -> None:
        """Store bytes at bucket/path; with upsert=False an existing object is an error."""
        ...

    async def get(self, bucket: str, path: str) -> bytes:
        """Read an object; raises ObjectNotFound."""
        ...

    async def delete(self, bucket: str, paths: Sequence[str]) -> None:
        """Remove objects; paths that do not exist are ignored."""
        ...

    async def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Remove every object under `prefix/` (for example everything of one user)."""
        ...

    async def signed_url(self, bucket: str, path: str, *, expires_in: int) -> str:
        """A URL that grants read access to one private object until it expires."""
        ...

    def public_url(self, bucket: str, path: str) -> str:
        """The stable URL of an object in a public bucket."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


async def object_url(
    storage: ObjectStorage, buckets: Buckets, bucket: str, path: str, *, expires_in: int
) -> str:
    """The URL to hand to a browser: public where the bucket is public, else signed."""
    if buckets.is_public(bucket):
        return storage.public_url(bucket, path)
    return await storage.signed_url(bucket, path, expires_in=expires_in)
