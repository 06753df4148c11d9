"""All SQL of payments: orders scoped to their owner, and rows locked while an event applies."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import PageParams, Window, fetch_window
from app.models import Payment, User


async def get_owned(
    session: AsyncSession, *, user_id: uuid.UUID, order_id: uuid.UUID
) -> Payment | None:
    return await session.scalar(
        select(Payment).where(Payment.id == order_id, Payment.user_id == user_id)
    )


async def get(session: AsyncSession, order_id: uuid.UUID) -> Payment | None:
    return await session.scalar(select(Payment).where(Payment.id == order_id))


async def lock_for_event(
    session: AsyncSession, *, provider_order_id: str | None, provider_payment_id: str | None
) -> Payment | None:
    """The order an event names, locked until commit, so two events for it apply one by one.

    On Postgres the row lock serialises them; on SQLite the write lock taken at BEGIN does.
    """
    for column, value in (
        (Payment.provider_payment_id, provider_payment_id),
        (Payment.provider_order_id, provider_order_id),
    ):
        if value is None:
            continue
        payment = await session.scalar(
            select(Payment)
            .where(column == value)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if payment is not None:
            return payment
    return None


async def lock_balance(session: AsyncSession, user_id: uuid.UUID) -> int | None:
    """The user's balance, locked until commit, for a debit that must not overdraw it."""
    return await session.scalar(select(User.credits).where(User.id == user_id).with_for_update())


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.scalar(select(User).where(User.id == user_id))


async def find_by_idempotency_key(
    session: AsyncSession, *, user_id: uuid.UUID, key: str
) -> Payment | None:
    return await session.scalar(
        select(Payment).where(Payment.user_id == user_id, Payment.idempotency_key == key)
    )


async def forget_idempotency_key(session: AsyncSession, order_id: uuid.UUID) -> None:
    await session.execute(
        update(Payment)
        .where(Payment.id == order_id)
        .values(idempotency_key=None, request_hash=None)
        .execution_options(synchronize_session=False)
    )


async def list_owned(
    session: AsyncSession, *, user_id: uuid.UUID, page: PageParams
) -> Window[Payment]:
    query = select(Payment).where(Payment.user_id == user_id)
    return await fetch_window(
        session, query, params=page, timestamp=Payment.created_at, id=Payment.id
    )
