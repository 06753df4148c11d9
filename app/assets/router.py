"""HTTP routes of `/assets`: upload, list, read and delete the caller's images."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.assets import repository, service
from app.assets.deps import AssetUploadDep, OwnedAsset
from app.assets.imaging import ImageTooLarge, InvalidImage, UnsupportedMediaType
from app.assets.schemas import AssetOut
from app.auth import repository as auth_repository
from app.auth.deps import AUTHED, CurrentUser, SessionRevoked
from app.config import API_PREFIX
from app.deps import PortsDep, SessionDep
from app.kit.errors import responses
from app.kit.pagination import InvalidCursor, Page, PageParamsDep
from app.kit.uploads import MalformedUpload, PayloadTooLarge, multipart_openapi
from app.models import Asset, AssetType
from app.ports import Ports
from app.profile import service as profile_service

router = APIRouter(prefix=f"{API_PREFIX}/assets", tags=["assets"], responses=AUTHED)

IMAGE_UPLOAD_ERRORS = responses(
    MalformedUpload,
    PayloadTooLarge,
    UnsupportedMediaType,
    ImageTooLarge,
    InvalidImage,
    service.StorageFailed,
)


def _asset_out(asset: Asset, url: str) -> AssetOut:
    return AssetOut(
        id=asset.id,
        type=AssetType(asset.type),
        width=asset.width,
        height=asset.height,
        size_bytes=asset.size_bytes,
        content_type=asset.content_type,
        url=url,
        sha256=asset.sha256,
        created_at=asset.created_at,
    )


async def _with_url(ports: Ports, asset: Asset) -> AssetOut:
    return _asset_out(asset, await service.asset_url(ports, asset))


@router.post(
    "/upload",
    response_model=AssetOut,
    status_code=status.HTTP_201_CREATED,
    responses=IMAGE_UPLOAD_ERRORS,
    openapi_extra=multipart_openapi(
        file_field="file",
        fields={"type": {"type": "string", "enum": [member.value for member in AssetType]}},
        example={"type": "selfie"},
    ),
)
async def upload_asset(
    upload: AssetUploadDep, user: CurrentUser, session: SessionDep, ports: PortsDep
) -> AssetOut:
    """Upload a PNG, JPEG or WebP image (multipart `file` and `type`).

    The type is read from the bytes. The image is turned upright and re-encoded without its
    metadata (EXIF, GPS, comments) before it is stored. A `profile_photo` is shrunk to at most
    1024 px a side and also becomes the profile photo, as with `POST /profile/avatar`.
    """
    # `upload` comes first: it is read and cleaned before the session is opened.
    asset = await service.upload_asset(
        session=session,
        ports=ports,
        user=user,
        type=upload.type,
        image=upload.upload.image,
        filename=upload.upload.filename,
    )
    if upload.type is AssetType.PROFILE_PHOTO:
        account = await auth_repository.get_user(session, user.id)
        if account is None:
            raise SessionRevoked()
        await profile_service.set_avatar(
            session=session, ports=ports, user=account, image=upload.upload.image
        )
    return await _with_url(ports, asset)


@router.get(
    "",
    response_model=Page[AssetOut],
    responses=responses(service.StorageFailed, InvalidCursor),
)
async def list_assets(
    user: CurrentUser,
    session: SessionDep,
    ports: PortsDep,
    page: PageParamsDep,
    type: Annotated[AssetType | None, Query(description="Only assets of this type.")] = None,
) -> Page[AssetOut]:
    """The caller's assets, newest first."""
    window = await repository.list_assets(session, user_id=user.id, type=type, page=page)
    urls = await service.asset_urls(ports, window.rows)
    return Page.of(
        window, [_asset_out(row, url) for row, url in zip(window.rows, urls, strict=True)]
    )


# Only ids match here, so other methods on `/assets/upload` are 405, not a malformed id.
@router.get(
    "/{asset_id:uuid}",
    response_model=AssetOut,
    responses=responses(service.AssetNotFound, service.StorageFailed),
)
async def get_asset(asset: OwnedAsset, ports: PortsDep) -> AssetOut:
    return await _with_url(ports, asset)


@router.delete(
    "/{asset_id:uuid}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(service.AssetNotFound),
)
async def delete_asset(asset: OwnedAsset, session: SessionDep, ports: PortsDep) -> None:
    """Delete the asset and its stored file."""
    await service.delete_asset(session=session, ports=ports, asset=asset)
