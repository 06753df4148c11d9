"""Profile rules: editing one's own details and deleting the account with everything in it."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.assets.imaging import CleanImage
from app.assets.service import store_new_object
from app.auth import repository
from app.auth.service import UsernameTaken, WrongPassword, session_store
from app.kit.db import after_commit, end_read_only_transaction
from app.kit.errors import Unprocessable
from app.kit.security import verify_password
from app.models import User
from app.ports import Ports
from app.profile.schemas import ProfileUpdate

logger = logging.getLogger("app.profile")

# Profile photos are shown small: stored at most this many pixels a side.
AVATAR_MAX_SIDE = 1024
_AVATAR_NAME = re.compile(r"avatar-[0-9a-f]{32}\.(?:png|jpg|webp)")


async def delete_stored_files(ports: Ports, user: User) -> None:
    """Remove everything stored under the person's folder, in every bucket."""
    # A storage outage refuses the whole deletion (503); a retry finishes it.
    for bucket in ports.buckets.all():
        await ports.storage.delete_prefix(bucket.name, str(user.id))


# Features that keep data outside the database (stored files) register a cleanup here.
AccountCleanup = Callable[[Ports, User], Awaitable[None]]
account_cleanups: list[AccountCleanup] = [delete_stored_files]


async def update_profile(*, session: AsyncSession, user: User, data: ProfileUpdate) -> User:
    changes = data.model_dump(exclude_unset=True)
    for required in ("full_name", "username", "dob"):
        if required in changes and changes[required] is None:
            raise Unprocessable(f"{required} cannot be empty.")
    if "username" in changes and changes["username"] != user.username:
        if await repository.username_taken(session, changes["username"], except_user=user.id):
            raise UsernameTaken()
    for field, value in changes.items():
        setattr(user, field, value)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise UsernameTaken() from exc
    return user


def avatar_path(user: User) -> str | None:
    """The stored path of the current avatar, when it is one this service uploaded."""
    if not user.avatar_url:
        return None
    name = user.avatar_url.split("?", 1)[0].rsplit("/", 1)[-1]
    if not _AVATAR_NAME.fullmatch(name) or f"/{user.id}/{name}" not in user.avatar_url:
        return None
    return f"{user.id}/{name}"


async def set_avatar(*, session: AsyncSession, ports: Ports, user: User, image: CleanImage) -> User:
    """Store a new profile photo (already shrunk and cleaned) and drop the previous one."""
    bucket = ports.buckets.profile_photos.name
    path = f"{user.id}/avatar-{uuid.uuid4().hex}.{image.format.extension}"
    await store_new_object(session=session, ports=ports, bucket=bucket, path=path, image=image)
    previous = avatar_path(user)
    user.avatar_url = ports.storage.public_url(bucket, path)
    await session.flush()
    if previous is not None:

        async def remove_previous() -> None:
            await ports.storage.delete(bucket, [previous])

        after_commit(session, remove_previous)
    return user


async def delete_account(*, session: AsyncSession, ports: Ports, user: User, password: str) -> None:
    await end_read_only_transaction(session)
    if not user.password_hash or not await verify_password(user.password_hash, password):
        raise WrongPassword("The password is incorrect.")
    await remove_account(session=session, ports=ports, user=user)


async def remove_account(*, session: AsyncSession, ports: Ports, user: User) -> None:
    """Delete the account, its rows (by cascade), its stored files and its sessions."""
    for cleanup in account_cleanups:
        await cleanup(ports, user)
    await repository.delete_user(session, user.id)
    await session.flush()
    await session_store(ports).revoke_all(user.id)
    logger.info("account deleted", extra={"user_id": str(user.id)})
