"""Asset rules: clean the image, store it, record it, and hand out URLs to it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from pathlib import PurePosixPath

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.storage import ObjectAlreadyExists, StorageUnavailable, object_url
from app.assets import repository
from app.assets.imaging import CleanImage, clean_image_async
from app.auth.identity import SignedInUser
from app.kit.db import after_commit, after_rollback
from app.kit.errors import NotFound, ServiceUnavailable
from app.kit.uploads import UploadedFile
from app.models import Asset, AssetType
from app.ports import Ports

logger = logging.getLogger("app.assets")


class AssetNotFound(NotFound):
    message = "Asset not found."


class StorageFailed(ServiceUnavailable):
    code = "storage_unavailable"
    message = "File storage is unavailable. Try again shortly."


async def store_new_object(
    *, session: AsyncSession, ports: Ports, bucket: str, path: str, image: CleanImage
) -> None:
    """Write a new object, and remove it again if the request's transaction does not commit."""
    try:
        await ports.storage.put(
            bucket, path, image.data, content_type=image.format.content_type, upsert=False
        )
    except (StorageUnavailable, ObjectAlreadyExists) as exc:
        logger.warning("object not stored", extra={"bucket": bucket, "error": str(exc)})
        raise StorageFailed() from exc

    async def remove() -> None:
        await ports.storage.delete(bucket, [path])

    after_rollback(session, remove)


def _safe_filename(filename: str | None) -> str | None:
    if not filename:
        return None
    name = PurePosixPath(filename.replace("\\", "/")).name
    return name[:255] or None


async def upload_asset(
    *,
    session: AsyncSession,
    ports: Ports,
    user: SignedInUser,
    type: AssetType,
    upload: UploadedFile,
) -> Asset:
    image = await clean_image_async(upload.data, max_pixels=ports.settings.max_upload_pixels)
    bucket = ports.buckets.user_assets.name
    path = f"{user.id}/{type.value}/{uuid.uuid4().hex}.{image.format.extension}"
    await store_new_object(session=session, ports=ports, bucket=bucket, path=path, image=image)
    asset = Asset(
        user_id=user.id,
        type=type.value,
        bucket=bucket,
        path=path,
        content_type=image.format.content_type,
        width=image.width,
        height=image.height,
        size_bytes=len(image.data),
        sha256=image.sha256,
        original_filename=_safe_filename(upload.filename),
    )
    return await repository.add_asset(session, asset)


async def asset_url(ports: Ports, asset: Asset) -> str:
    """The URL a browser loads the asset from; signed for private buckets."""
    try:
        return await object_url(
            ports.storage,
            ports.buckets,
            asset.bucket,
            asset.path,
            expires_in=ports.settings.signed_url_ttl_seconds,
        )
    except StorageUnavailable as exc:
        raise StorageFailed() from exc


async def asset_urls(ports: Ports, assets: Sequence[Asset]) -> list[str]:
    # Signing can be a network call per object (Supabase), so a page signs them concurrently.
    return list(await asyncio.gather(*(asset_url(ports, asset) for asset in assets)))


async def delete_asset(*, session: AsyncSession, ports: Ports, asset: Asset) -> None:
    """Delete the row now and the stored object once that is committed."""
    await repository.delete_owned_asset(session, user_id=asset.user_id, asset_id=asset.id)
    bucket, path = asset.bucket, asset.path

    async def remove() -> None:
        await ports.storage.delete(bucket, [path])

    after_commit(session, remove)
