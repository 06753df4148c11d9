"""All SQL about chats and their messages."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Chat, ChatMessage


async def get_owned(
    session: AsyncSession, *, user_id: uuid.UUID, chat_id: uuid.UUID
) -> Chat | None:
    return await session.scalar(select(Chat).where(Chat.id == chat_id, Chat.user_id == user_id))


async def list_owned(
    session: AsyncSession, *, user_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[Chat], int]:
    query = select(Chat).where(Chat.user_id == user_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(Chat.updated_at.desc(), Chat.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


async def list_messages(
    session: AsyncSession, *, chat_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[ChatMessage], int]:
    query = select(ChatMessage).where(ChatMessage.chat_id == chat_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(ChatMessage.created_at, ChatMessage.id).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


async def recent_messages(
    session: AsyncSession, *, chat_id: uuid.UUID, count: int
) -> list[ChatMessage]:
    rows = await session.scalars(
        select(ChatMessage)
        .where(ChatMessage.chat_id == chat_id)
        .order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc())
        .limit(count)
    )
    return list(reversed(list(rows)))
