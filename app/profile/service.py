"""Profile rules: editing one's own details and deleting the account with everything in it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import repository
from app.auth.service import UsernameTaken, WrongPassword, session_store
from app.kit.db import end_read_only_transaction
from app.kit.errors import Unprocessable
from app.kit.security import verify_password
from app.models import User
from app.ports import Ports
from app.profile.schemas import ProfileUpdate

logger = logging.getLogger("app.profile")

# Features that keep data outside the database (stored files) register a cleanup here.
AccountCleanup = Callable[[Ports, User], Awaitable[None]]
account_cleanups: list[AccountCleanup] = []


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


async def delete_account(*, session: AsyncSession, ports: Ports, user: User, password: str) -> None:
    await end_read_only_transaction(session)
    if not user.password_hash or not await verify_password(user.password_hash, password):
        raise WrongPassword("The password is incorrect.")
    for cleanup in account_cleanups:
        await cleanup(ports, user)
    await repository.delete_user(session, user.id)
    await session.flush()
    await session_store(ports).revoke_all(user.id)
    logger.info("account deleted", extra={"user_id": str(user.id)})
