"""All SQL of the credit ledger."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.credits.schemas import TransactionOut
from app.kit.db import Database
from app.kit.pagination import PageParams, Window
from app.kit.reads import KeysetList, Statement
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


def _ledger(_filters: frozenset[str]) -> Statement:
    row = CreditTransaction
    return select(
        row.id, row.delta, row.reason, row.reference, row.balance_after, row.created_at
    ).where(row.user_id == bindparam("user_id"))


_LEDGER = KeysetList(_ledger, timestamp=CreditTransaction.created_at, id=CreditTransaction.id)


async def list_transactions(
    database: Database, *, user_id: uuid.UUID, page: PageParams
) -> Window[TransactionOut]:
    """A page of the user's ledger (one SELECT, through the driver)."""
    return await _LEDGER.window(database, page, TransactionOut, user_id=user_id)
