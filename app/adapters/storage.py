"""Object storage port: buckets of files, with public or signed URLs.

Two adapters implement it: `LocalObjectStorage` (a folder under DATA_DIR, served by the API with
HMAC-signed URLs) and `SupabaseObjectStorage` (Supabase Storage through storage3).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlencode

import anyio

from app.config import API_PREFIX, Settings


class ObjectNotFound(Exception):
    """No object at that bucket and path."""


class StorageUnavailable(Exception):
    """The storage service could not be reached or refused the request."""


class ObjectRejected(Exception):
    """Storage refused this object for good: too large (413) or a type the bucket forbids (415).

    Not an outage: sending the same object again gets the same answer.
    """

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class InvalidObjectPath(ValueError):
    """A path that is empty, absolute, or would leave its bucket."""


class ObjectAlreadyExists(Exception):
    """`put(..., upsert=False)` found an object already stored at that path."""


# Renders are stills, or video clips (MP4; the studio's animated WebP is an image type).
RENDER_MIME_TYPES = ("image/png", "image/jpeg", "image/webp", "video/mp4")


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
                file_size_limit=max(
                    settings.provider_output_max_bytes, settings.video_output_max_bytes
                ),
                allowed_mime_types=RENDER_MIME_TYPES,
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

    async def download_url(
        self, bucket: str, path: str, *, filename: str, expires_in: int
    ) -> str | None:
        """A URL that serves the object as an attachment named `filename`; None when the API
        serves the file itself (the local folder)."""
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


# Content types of the files the buckets accept; the local folder keeps no metadata beside the
# bytes, so the type is derived from the extension the services always write.
_CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
}


def content_type_for(path: str) -> str:
    return _CONTENT_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")


class LocalObjectStorage:
    """Buckets as folders under `root`, served by the API's `/files` route.

    Private objects are read through URLs carrying an expiry and an HMAC-SHA256 signature.
    """

    name = "local"

    def __init__(self, root: Path, *, signing_secret: str, base_url: str, buckets: Buckets):
        self.root = root
        self.base_url = base_url.rstrip("/")
        self.buckets = buckets
        # A key of its own, so a URL signature can never stand in for any other signed value.
        self._key = hmac.new(signing_secret.encode(), b"local-storage-url", hashlib.sha256).digest()

    def _bucket_dir(self, bucket: str) -> Path:
        if bucket not in {spec.name for spec in self.buckets.all()}:
            raise ObjectNotFound(f"unknown bucket: {bucket!r}")
        return self.root / bucket

    def _object_file(self, bucket: str, path: str) -> Path:
        """The file for bucket/path, refusing anything that resolves outside the bucket."""
        check_object_path(path)
        bucket_dir = self._bucket_dir(bucket)
        target = bucket_dir / path
        # resolve() follows symlinks, so a link pointing out of the bucket is refused too.
        if not target.resolve().is_relative_to(bucket_dir.resolve()):
            raise InvalidObjectPath(f"path leaves its bucket: {path!r}")
        return target

    def local_file(self, bucket: str, path: str) -> Path:
        """The file of an existing object, for serving it; raises ObjectNotFound."""
        target = self._object_file(bucket, path)
        if not target.is_file():
            raise ObjectNotFound(f"{bucket}/{path}")
        return target

    async def put(
        self, bucket: str, path: str, data: bytes, *, content_type: str, upsert: bool = True
    ) -> None:
        try:
            target = self._object_file(bucket, path)
        except ObjectNotFound as exc:
            raise InvalidObjectPath(str(exc)) from exc
        await anyio.to_thread.run_sync(self._write, target, data, upsert)

    @staticmethod
    def _write(target: Path, data: bytes, upsert: bool) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write beside the target and move into place, so readers never see half a file.
            fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        except OSError as exc:
            raise StorageUnavailable(f"cannot write {target.name}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if upsert:
                os.replace(temp_name, target)
            else:
                # link() never replaces an existing file, so two writers cannot both succeed.
                os.link(temp_name, target)
        except FileExistsError as exc:
            raise ObjectAlreadyExists(f"an object already exists at {target.name}") from exc
        except OSError as exc:
            raise StorageUnavailable(f"cannot write {target.name}: {exc}") from exc
        finally:
            Path(temp_name).unlink(missing_ok=True)

    async def get(self, bucket: str, path: str) -> bytes:
        target = self._object_file(bucket, path)

        def read() -> bytes:
            try:
                return target.read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
                raise ObjectNotFound(f"{bucket}/{path}") from exc

        return await anyio.to_thread.run_sync(read)

    async def delete(self, bucket: str, paths: Sequence[str]) -> None:
        try:
            targets = [self._object_file(bucket, path) for path in paths]
        except ObjectNotFound:
            return

        def remove() -> None:
            for target in targets:
                try:
                    target.unlink(missing_ok=True)
                except IsADirectoryError:
                    continue

        await anyio.to_thread.run_sync(remove)

    async def delete_prefix(self, bucket: str, prefix: str) -> int:
        try:
            folder = self._object_file(bucket, prefix.rstrip("/"))
        except ObjectNotFound:
            return 0

        def remove_tree() -> int:
            if folder.is_symlink() or not folder.is_dir():
                return 0
            count = sum(1 for entry in folder.rglob("*") if entry.is_file())
            shutil.rmtree(folder)
            return count

        return await anyio.to_thread.run_sync(remove_tree)

    def _url(self, bucket: str, path: str) -> str:
        check_object_path(path)
        return f"{self.base_url}{API_PREFIX}/files/{quote(bucket, safe='')}/{quote(path)}"

    def public_url(self, bucket: str, path: str) -> str:
        return self._url(bucket, path)

    async def download_url(
        self, bucket: str, path: str, *, filename: str, expires_in: int
    ) -> str | None:
        return None  # the download route streams the file from the folder

    async def signed_url(self, bucket: str, path: str, *, expires_in: int) -> str:
        expires = int(time.time()) + expires_in
        query = urlencode({"expires": expires, "signature": self.sign(bucket, path, expires)})
        return f"{self._url(bucket, path)}?{query}"

    def sign(self, bucket: str, path: str, expires: int) -> str:
        message = f"{bucket}\n{path}\n{expires}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def verify_signature(self, bucket: str, path: str, expires: int, signature: str) -> bool:
        """Whether `signature` was made by `sign` for exactly this bucket, path and expiry."""
        expected = self.sign(bucket, path, expires)
        return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))

    async def ping(self) -> None:
        def probe() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self.root, prefix=".ping-")
            os.close(fd)
            os.unlink(name)

        await anyio.to_thread.run_sync(probe)

    async def close(self) -> None:
        return None
