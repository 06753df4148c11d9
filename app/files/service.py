"""Rules for serving objects of the local storage: which requests may read which files."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import anyio

from app.adapters.storage import (
    Buckets,
    InvalidObjectPath,
    LocalObjectStorage,
    ObjectNotFound,
    ObjectStorage,
    check_object_path,
    content_type_for,
)
from app.kit.errors import AppError, NotFound

# Public objects never change under their name (new uploads get new random names).
PUBLIC_MAX_AGE_SECONDS = 365 * 86400


class FileNotFound(NotFound):
    message = "File not found."


class InvalidSignature(AppError):
    status = 403
    code = "invalid_signature"
    message = "This file link is not valid."


class UrlExpired(AppError):
    status = 403
    code = "url_expired"
    message = "This file link has expired. Ask for a new one."


@dataclass(frozen=True, slots=True)
class ServedFile:
    path: Path
    stat: os.stat_result
    content_type: str
    etag: str
    cache_control: str


async def locate_file(
    *,
    storage: ObjectStorage,
    buckets: Buckets,
    bucket: str,
    path: str,
    expires: int | None,
    signature: str | None,
) -> ServedFile:
    """The file a request may read, after the bucket, path and (private) signature checks."""
    if not isinstance(storage, LocalObjectStorage):
        # A cloud store serves its own URLs; this route exists only for the local folder.
        raise FileNotFound()
    if bucket not in {spec.name for spec in buckets.all()}:
        raise FileNotFound()
    try:
        check_object_path(path)
    except InvalidObjectPath as exc:
        raise FileNotFound() from exc
    if buckets.is_public(bucket):
        cache_control = f"public, max-age={PUBLIC_MAX_AGE_SECONDS}, immutable"
    else:
        # The signature is checked before the file is looked up, so a link without a valid one
        # cannot tell whether an object exists.
        if (
            expires is None
            or signature is None
            or not storage.verify_signature(bucket, path, expires, signature)
        ):
            raise InvalidSignature()
        remaining = expires - int(time.time())
        if remaining <= 0:
            raise UrlExpired()
        cache_control = f"private, max-age={remaining}"

    def find() -> tuple[Path, os.stat_result]:
        target = storage.local_file(bucket, path)
        return target, target.stat()

    try:
        target, stat = await anyio.to_thread.run_sync(find)
    except (ObjectNotFound, InvalidObjectPath, OSError) as exc:
        raise FileNotFound() from exc
    return ServedFile(
        path=target,
        stat=stat,
        content_type=content_type_for(path),
        etag=f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"',
        cache_control=cache_control,
    )


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates
