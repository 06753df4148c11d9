"""Asset dependencies: an owned asset from the path, and an upload read and cleaned up front."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError

from app.assets import repository
from app.assets.imaging import CleanImage, clean_image_async
from app.assets.service import AssetNotFound
from app.auth.deps import AccessClaimsDep, CurrentUser
from app.deps import PortsDep, SessionDep
from app.kit.uploads import UploadForm, read_upload
from app.models import Asset, AssetType
from app.profile.service import AVATAR_MAX_SIDE


async def get_owned_asset(asset_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Asset:
    asset = await repository.get_owned_asset(session, user_id=user.id, asset_id=asset_id)
    if asset is None:
        raise AssetNotFound()
    return asset


OwnedAsset = Annotated[Asset, Depends(get_owned_asset)]


@dataclass(frozen=True, slots=True)
class ImageUpload:
    image: CleanImage
    filename: str | None
    fields: dict[str, str]


async def read_image_upload(
    request: Request,
    ports: PortsDep,
    *,
    max_side: int | None = None,
    check_fields: Callable[[UploadForm], int | None] | None = None,
) -> ImageUpload:
    """Read the multipart body and clean its `file`; holds no database connection meanwhile.

    The body arrives at the client's pace (bounded by the request body timeout) and Pillow
    decodes on a worker thread, so a slow or large upload costs other requests nothing.
    `check_fields` checks the form's other fields, and may bound the image's sides by them.
    """
    settings = ports.settings
    form = await read_upload(request, file_field="file", max_file_bytes=settings.max_upload_bytes)
    upload = form.file("file")
    if check_fields is not None:
        max_side = check_fields(form) or max_side
    image = await clean_image_async(
        upload.data, max_pixels=settings.max_upload_pixels, max_side=max_side
    )
    return ImageUpload(image=image, filename=upload.filename, fields=form.fields)


@dataclass(frozen=True, slots=True)
class AssetUpload:
    type: AssetType
    upload: ImageUpload


def _check_asset_type(form: UploadForm) -> int | None:
    """The type must be one of ours; a profile photo is shrunk as the avatar is."""
    value = form.field("type")
    try:
        kind = AssetType(value)
    except ValueError:
        allowed = ", ".join(f"'{member.value}'" for member in AssetType)
        raise RequestValidationError(
            [
                {
                    "type": "enum",
                    "loc": ("body", "type"),
                    "msg": f"Input should be {allowed}",
                    "input": value,
                    "ctx": {"expected": allowed},
                }
            ]
        ) from None
    return AVATAR_MAX_SIDE if kind is AssetType.PROFILE_PHOTO else None


async def get_asset_upload(
    request: Request, ports: PortsDep, _claims: AccessClaimsDep
) -> AssetUpload:
    # The token is checked first (no database), so strangers cannot make us read uploads.
    upload = await read_image_upload(request, ports, check_fields=_check_asset_type)
    return AssetUpload(type=AssetType(upload.fields["type"]), upload=upload)


# Declare it before CurrentUser/SessionDep in a route: FastAPI resolves dependencies in order,
# so the upload is read and cleaned before the session (and its connection) is opened.
AssetUploadDep = Annotated[AssetUpload, Depends(get_asset_upload)]
