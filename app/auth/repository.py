"""All SQL about accounts."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.identity import SignedInUser
from app.models import User

_users = User.__table__.c
# Built once: composing the statement on every request costs more than running it.
_SIGNED_IN_USER = select(
    *[getattr(_users, name) for name in SignedInUser.__dataclass_fields__]
).where(_users.id == bindparam("user_id"))


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_signed_in_user(session: AsyncSession, user_id: uuid.UUID) -> SignedInUser | None:
    """The caller's account in one Core query: no ORM identity map or attribute tracking."""
    row = (await session.execute(_SIGNED_IN_USER, {"user_id": user_id})).first()
    return None if row is None else SignedInUser(*row)


async def find_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(func.lower(User.email) == email.lower()))


async def username_taken(
    session: AsyncSession, username: str, *, except_user: uuid.UUID | None = None
) -> bool:
    query = select(User.id).where(func.lower(User.username) == username.lower())
    if except_user is not None:
        query = query.where(User.id != except_user)
    return (await session.scalar(query)) is not None


async def delete_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(User).where(User.id == user_id))
