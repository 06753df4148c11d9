"""The credit ledger under concurrency: never negative, always equal to the balance."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from app.credits import repository
from app.credits.service import CreditReason, InsufficientCredits, apply_credit_change
from app.kit.db import Database
from app.models import User
from tests.factories import API, create_user


async def make_user(database: Database, credits: int = 0) -> uuid.UUID:
    async with database.sessionmaker() as session:
        user = User(
            email=f"{uuid.uuid4().hex}@example.com",
            username=f"u_{uuid.uuid4().hex[:12]}",
            full_name="Ledger Person",
            dob=date(1990, 1, 1),
            password_hash=None,
        )
        session.add(user)
        await session.commit()
        user_id = user.id
    if credits:
        async with database.sessionmaker() as session:
            await apply_credit_change(
                session=session, user_id=user_id, delta=credits, reason=CreditReason.ADMIN_GRANT
            )
            await session.commit()
    return user_id


async def balance_and_ledger(database: Database, user_id: uuid.UUID) -> tuple[int, int]:
    async with database.sessionmaker() as session:
        balance = await repository.current_balance(session, user_id)
        total = await repository.ledger_sum(session, user_id)
    assert balance is not None
    return balance, total


class TestConcurrentSpending:
    async def test_forty_debits_never_overdraw(self, app: FastAPI):
        database: Database = app.state.ports.database
        user_id = await make_user(database, credits=10)

        async def spend() -> bool:
            async with database.sessionmaker() as session:
                try:
                    await apply_credit_change(
                        session=session, user_id=user_id, delta=-3, reason=CreditReason.JOB_CHARGE
                    )
                except InsufficientCredits:
                    await session.rollback()
                    return False
                await session.commit()
                return True

        results = await asyncio.gather(*(spend() for _ in range(40)))
        assert sum(results) == 3
        assert await balance_and_ledger(database, user_id) == (1, 1)

    async def test_a_reference_applies_once_under_concurrency(self, app: FastAPI):
        database: Database = app.state.ports.database
        user_id = await make_user(database)

        async def refund() -> bool:
            async with database.sessionmaker() as session:
                change = await apply_credit_change(
                    session=session,
                    user_id=user_id,
                    delta=5,
                    reason=CreditReason.JOB_REFUND,
                    reference="refund:job-1",
                )
                await session.commit()
                return change.applied

        results = await asyncio.gather(*(refund() for _ in range(20)))
        assert sum(results) == 1
        assert await balance_and_ledger(database, user_id) == (5, 5)

    async def test_a_failed_debit_changes_nothing(self, app: FastAPI):
        database: Database = app.state.ports.database
        user_id = await make_user(database, credits=2)
        async with database.sessionmaker() as session:
            with pytest.raises(InsufficientCredits):
                await apply_credit_change(
                    session=session, user_id=user_id, delta=-3, reason=CreditReason.JOB_CHARGE
                )
            await session.commit()
        assert await balance_and_ledger(database, user_id) == (2, 2)


class TestEndpoints:
    async def test_transactions_are_paginated(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        database: Database = app.state.ports.database
        for _ in range(3):
            async with database.sessionmaker() as session:
                await apply_credit_change(
                    session=session,
                    user_id=uuid.UUID(user.id),
                    delta=1,
                    reason=CreditReason.ADMIN_GRANT,
                )
                await session.commit()
        page = await client.get(
            f"{API}/credits/transactions?limit=2&offset=1&include_total=true", headers=user.headers
        )
        body = page.json()
        assert body["total"] == 4
        assert (body["limit"], body["offset"]) == (2, 1)
        assert len(body["items"]) == 2
        balance = await client.get(f"{API}/credits/balance", headers=user.headers)
        assert balance.json() == {"credits": 13}

    @pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "limit=abc"])
    async def test_bad_pagination_is_422(self, client: httpx.AsyncClient, app: FastAPI, query: str):
        user = await create_user(app)
        response = await client.get(f"{API}/credits/transactions?{query}", headers=user.headers)
        assert response.status_code == 422

    async def test_need_a_token(self, client: httpx.AsyncClient):
        assert (await client.get(f"{API}/credits/balance")).status_code == 401
