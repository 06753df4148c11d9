"""HTTP routes of `/profile`: the caller's own account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import StreamingResponse

from app.assets.deps import ImageUpload, read_image_upload
from app.assets.router import IMAGE_UPLOAD_ERRORS
from app.assets.service import StorageFailed
from app.auth.deps import AUTHED, AccessClaimsDep, CurrentUser, CurrentUserRow
from app.auth.schemas import UserOut
from app.auth.service import UsernameTaken, WrongPassword
from app.config import API_PREFIX
from app.deps import PortsDep, SessionDep
from app.kit.errors import RateLimited, Unprocessable, responses
from app.kit.ratelimit import enforce_rate_limit
from app.kit.uploads import multipart_openapi
from app.models.base import utcnow
from app.profile import service
from app.profile.export import archive_name, export_archive
from app.profile.schemas import DeleteAccountRequest, ProfileUpdate

router = APIRouter(prefix=f"{API_PREFIX}/profile", tags=["profile"], responses=AUTHED)


async def get_avatar_upload(
    request: Request, ports: PortsDep, _claims: AccessClaimsDep
) -> ImageUpload:
    return await read_image_upload(request, ports, max_side=service.AVATAR_MAX_SIDE)


# Before CurrentUser/SessionDep in the route: read and cleaned before a session is opened.
AvatarUploadDep = Annotated[ImageUpload, Depends(get_avatar_upload)]


@router.get("", response_model=UserOut)
async def get_profile(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.patch("", response_model=UserOut, responses=responses(UsernameTaken, Unprocessable))
async def update_profile(body: ProfileUpdate, user: CurrentUserRow, session: SessionDep) -> UserOut:
    updated = await service.update_profile(session=session, user=user, data=body)
    return UserOut.model_validate(updated)


@router.post(
    "/avatar",
    response_model=UserOut,
    responses=IMAGE_UPLOAD_ERRORS,
    openapi_extra=multipart_openapi(file_field="file"),
)
async def upload_avatar(
    upload: AvatarUploadDep, user: CurrentUserRow, session: SessionDep, ports: PortsDep
) -> UserOut:
    """Set the profile photo from a PNG, JPEG or WebP upload (multipart `file`).

    It is shrunk to at most 1024 px a side, stripped of metadata and served from a public URL.
    """
    # `upload` comes first: it is read and cleaned before the session is opened.
    updated = await service.set_avatar(session=session, ports=ports, user=user, image=upload.image)
    return UserOut.model_validate(updated)


EXPORT_WINDOW_SECONDS = 3600


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "A zip archive of the account's data and files.",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                "Content-Disposition": {
                    "description": '`attachment; filename="mugshot-export-<username>-<time>.zip"`',
                    "schema": {"type": "string"},
                }
            },
        },
        **responses(RateLimited),
    },
)
async def export_data(user: CurrentUser, ports: PortsDep) -> StreamingResponse:
    """Download everything of the account as a zip, streamed as it is written.

    `profile.json`, `projects.json`, `jobs.json`, `renders.json`, `assets.json`, `ledger.json`,
    `chats.json`, `chat_messages.json` and `orders.json` (JSON arrays, by id), the stored files
    under `files/assets/`, `files/renders/` and `files/avatar/`, and `manifest.json` with the
    row counts, the files and any file that was missing from storage. A few per hour
    (`RATE_LIMIT_EXPORT`, per account).
    """
    await enforce_rate_limit(
        ports.kv,
        action="export",
        limit=ports.settings.rate_limit_export,
        window_seconds=EXPORT_WINDOW_SECONDS,
        ip=None,
        account=str(user.id),
    )
    filename = archive_name(user.username, utcnow())
    return StreamingResponse(
        export_archive(ports, user.id),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(WrongPassword, StorageFailed),
)
async def delete_profile(
    body: DeleteAccountRequest, user: CurrentUserRow, session: SessionDep, ports: PortsDep
) -> None:
    """Delete the account, its sessions, rows and stored files. Needs the password."""
    await service.delete_account(session=session, ports=ports, user=user, password=body.password)
