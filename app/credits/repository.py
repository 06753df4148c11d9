"""All SQL of the credit ledger."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import PageParams, Window, fetch_window
from app.models import CreditTransaction, User


async def add_to_balance(session: AsyncSession, *, user_id: uuid.UUID, delta: int) -> int | None:
    """Move the cached balance by `delta` unless that would take it below zero.

    One conditional UPDATE, so concurrent spenders can never overdraw: the row lock (Postgres)
    or the write lock (SQLite) serialises them and the condition is checked on the latest value.
    Returns the new balance, or None when the balance is short or the user is gone.
    """
    result = await session.execute(
        update(User)
        .where(User.id == user_id, User.credits + delta >= 0)
        .values(credits=User.credits + delta)
        .returning(User.credits)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


async def find_by_reference(session: AsyncSession, reference: str) -> CreditTransaction | None:
    return await session.scalar(
        select(CreditTransaction).where(CreditTransaction.reference == reference)
    )


async def current_balance(session: AsyncSession, user_id: uuid.UUID) -> int | None:
    return await session.scalar(select(User.credits).where(User.id == user_id))


async def ledger_sum(session: AsyncSession, user_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(CreditTransaction.delta), 0)).where(
            CreditTransaction.user_id == user_id
        )
    )
    return int(total or 0)


async def list_transactions(
    session: AsyncSession, *, user_id: uuid.UUID, page: PageParams
) -> Window[CreditTransaction]:
    return await fetch_window(
        session,
        select(CreditTransaction).where(CreditTransaction.user_id == user_id),
        params=page,
        timestamp=CreditTransaction.created_at,
        id=CreditTransaction.id,
    )
