"""All SQL about accounts."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


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
