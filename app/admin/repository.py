"""All SQL of the admin API."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import PageParams, Window, fetch_window
from app.models import AdminAction


async def list_actions(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    target_id: uuid.UUID | None,
    action: str | None,
    page: PageParams,
) -> Window[AdminAction]:
    """The audit trail, newest first; each filter has an index ending in `(created_at, id)`."""
    query = select(AdminAction)
    if actor_id is not None:
        query = query.where(AdminAction.actor_id == actor_id)
    if target_id is not None:
        query = query.where(AdminAction.target_id == target_id)
    if action is not None:
        query = query.where(AdminAction.action == action)
    return await fetch_window(
        session, query, params=page, timestamp=AdminAction.created_at, id=AdminAction.id
    )
