"""All SQL about chats and their messages."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import PageParams, Window, fetch_window
from app.models import Chat, ChatMessage


async def get_owned(
    session: AsyncSession, *, user_id: uuid.UUID, chat_id: uuid.UUID
) -> Chat | None:
    return await session.scalar(select(Chat).where(Chat.id == chat_id, Chat.user_id == user_id))


async def list_owned(
    session: AsyncSession, *, user_id: uuid.UUID, page: PageParams
) -> Window[Chat]:
    """Most recently active first (a chat moves up when a message arrives)."""
    return await fetch_window(
        session,
        select(Chat).where(Chat.user_id == user_id),
        params=page,
        timestamp=Chat.updated_at,
        id=Chat.id,
    )


async def list_messages(
    session: AsyncSession, *, chat_id: uuid.UUID, page: PageParams
) -> Window[ChatMessage]:
    """Oldest first, as a conversation reads."""
    return await fetch_window(
        session,
        select(ChatMessage).where(ChatMessage.chat_id == chat_id),
        params=page,
        timestamp=ChatMessage.created_at,
        id=ChatMessage.id,
        newest_first=False,
    )


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
