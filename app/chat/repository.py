"""All SQL about chats and their messages."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.chat.schemas import MessageOut
from app.kit.db import Database
from app.kit.pagination import PageParams, Window, fetch_window
from app.kit.reads import KeysetList, Statement
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


def _messages(_filters: frozenset[str]) -> Statement:
    row = ChatMessage
    return select(
        row.id, row.chat_id, row.sender, row.content, row.job_id, row.edits, row.created_at
    ).where(row.chat_id == bindparam("chat_id"))


_MESSAGES = KeysetList(
    _messages, timestamp=ChatMessage.created_at, id=ChatMessage.id, newest_first=False
)


async def list_messages(
    database: Database, *, chat_id: uuid.UUID, page: PageParams
) -> Window[MessageOut]:
    """Oldest first, as a conversation reads (one SELECT, through the driver)."""
    return await _MESSAGES.window(database, page, MessageOut, chat_id=chat_id)


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
