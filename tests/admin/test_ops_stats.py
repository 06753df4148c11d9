"""GET /admin/stats: every figure against rows seeded with known values, and the 60 s cache."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from app.models import CreditTransaction, Job, Payment, Project, User
from app.models.base import utcnow
from tests.admin.test_ops_jobs import ADMIN, assert_error
from tests.factories import TestUser


def person(name: str, *, created_at: datetime, **values: Any) -> User:
    return User(
        id=uuid.uuid4(),
        email=f"{name}-{uuid.uuid4().hex[:6]}@example.com",
        username=f"{name}_{uuid.uuid4().hex[:6]}",
        full_name=name.title(),
        dob=date(1990, 1, 1),
        password_hash=None,
        created_at=created_at,
        **values,
    )


def job(
    owner: User,
    project: Project,
    *,
    status: str,
    model: str = "studio",
    created_at: datetime,
    seconds: float | None = None,
) -> Job:
    started = created_at + timedelta(seconds=1) if seconds is not None else None
    return Job(
        user_id=owner.id,
        project_id=project.id,
        model=model,
        quality="std",
        variants=1,
        status=status,
        cost_credits=1,
        created_at=created_at,
        started_at=started,
        finished_at=started + timedelta(seconds=seconds) if started and seconds else None,
    )


def entry(owner: User, delta: int, reason: str, at: datetime) -> CreditTransaction:
    return CreditTransaction(
        user_id=owner.id, delta=delta, reason=reason, balance_after=0, created_at=at
    )


def payment(
    owner: User, amount: int, currency: str, status: str, paid_at: datetime | None, refunded=0
) -> Payment:
    return Payment(
        user_id=owner.id,
        provider="test",
        package_id="starter",
        credits=100,
        amount=amount,
        currency=currency,
        status=status,
        provider_order_id=f"order_{uuid.uuid4().hex}",
        checkout={},
        refunded_amount=refunded,
        paid_at=paid_at,
    )


async def seed(app: FastAPI, admin: TestUser) -> dict[str, User]:
    """Known rows around the 24-hour window; the admin (made now, 10 credits) is the fourth
    person."""
    now = utcnow()
    hour, day = timedelta(hours=1), timedelta(days=1)
    old = person("old", created_at=now - 40 * day, email_confirmed_at=now - 40 * day)
    old.last_seen_at = now - hour
    new = person("new", created_at=now - 2 * hour, suspended_at=now - hour)
    maker = person("maker", created_at=now - 3 * day, email_confirmed_at=now - 3 * day)
    async with app.state.ports.database.sessionmaker.begin() as session:
        session.add_all([old, new, maker])
        await session.flush()
        project = Project(user_id=maker.id, platform="youtube", width=1280, height=720)
        session.add(project)
        await session.flush()
        recent = now - 3 * hour
        session.add_all(
            [
                job(maker, project, status="succeeded", created_at=recent, seconds=2),
                job(maker, project, status="succeeded", created_at=recent, seconds=4),
                job(maker, project, status="succeeded", created_at=recent, seconds=10),
                job(maker, project, status="failed", created_at=recent),
                job(maker, project, status="queued", created_at=recent),
                job(
                    maker,
                    project,
                    status="succeeded",
                    model="nano_banana",
                    created_at=recent,
                    seconds=6,
                ),
                job(maker, project, status="failed", model="nano_banana", created_at=recent),
                job(maker, project, status="canceled", model="nano_banana", created_at=recent),
                # Two days back: in the 7-day window only.
                job(maker, project, status="succeeded", created_at=now - 2 * day, seconds=100),
            ]
        )
        session.add_all(
            [
                entry(old, 10, "signup_bonus", now - 40 * day),
                entry(old, 100, "purchase", now - hour),
                entry(old, -20, "purchase_refund", now - hour / 2),
                entry(maker, 10, "admin_grant", now - hour),
                entry(maker, -7, "job_charge", now - hour),
                entry(maker, 2, "job_refund", now - hour / 2),
            ]
        )
        session.add_all(
            [
                payment(old, 49900, "INR", "partially_refunded", now - hour, refunded=10000),
                payment(old, 999, "USD", "paid", now - 2 * hour),
                payment(old, 49900, "INR", "created", None),
                payment(old, 19900, "INR", "paid", now - 3 * day),
            ]
        )
        # Balances follow the seeded ledger, as they always do.
        await session.execute(update(User).where(User.id == old.id).values(credits=90))
        await session.execute(update(User).where(User.id == maker.id).values(credits=5))
        await session.execute(
            update(User).where(User.id == uuid.UUID(admin.id)).values(last_seen_at=now)
        )
    return {"old": old, "new": new, "maker": maker}


async def stats(client: httpx.AsyncClient, admin: TestUser, **params: Any) -> dict[str, Any]:
    response = await client.get(f"{ADMIN}/stats", params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestFigures:
    async def test_the_last_24_hours(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser
    ):
        await seed(app, admin)

        body = await stats(client, admin, window="24h", fresh=1)

        assert body["window"] == "24h"
        assert body["cached"] is False
        assert body["users"] == {
            "total": 4,
            "confirmed": 3,
            "suspended": 1,
            "new_in_window": 2,
            # Sign-ins and refreshes count (the admin and `old`); jobs alone do not (`maker`).
            "active_in_window": 2,
        }
        jobs = body["jobs"]
        assert jobs["total"] == 8
        assert jobs["by_status"] == {
            "queued": 1,
            "running": 0,
            "succeeded": 4,
            "failed": 2,
            "canceled": 1,
        }
        assert jobs["by_model"] == {
            "nano_banana": {
                "by_status": {"succeeded": 1, "failed": 1, "canceled": 1},
                "failure_rate": 0.5,
            },
            "studio": {
                "by_status": {"succeeded": 3, "failed": 1, "queued": 1},
                "failure_rate": 0.25,
            },
        }
        # Durations 2, 4, 6, 10 s: continuous percentiles, as Postgres' percentile_cont.
        assert jobs["duration"] == {"count": 4, "median_seconds": 5.0, "p95_seconds": 9.4}
        assert body["credits"] == {
            "granted": 20,
            "spent": 7,
            "purchased": 100,
            "refunded": 2,
            "purchase_refunds": 20,
            "by_reason": {
                "admin_grant": 10,
                "job_charge": -7,
                "job_refund": 2,
                "purchase": 100,
                "purchase_refund": -20,
                "signup_bonus": 10,
            },
        }
        assert body["revenue"] == {
            "INR": {"orders": 1, "amount": 49900, "refunded_amount": 10000},
            "USD": {"orders": 1, "amount": 999, "refunded_amount": 0},
        }

    async def test_a_wider_window_takes_in_older_rows(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser
    ):
        await seed(app, admin)

        week = await stats(client, admin, window="7d", fresh=1)
        month = await stats(client, admin, window="30d", fresh=1)

        assert week["users"]["new_in_window"] == 3
        assert week["jobs"]["total"] == 9
        assert week["jobs"]["duration"]["count"] == 5
        assert week["jobs"]["duration"]["median_seconds"] == 6.0
        assert week["revenue"]["INR"] == {"orders": 2, "amount": 69800, "refunded_amount": 10000}
        assert month["users"]["new_in_window"] == 3
        assert month["credits"]["granted"] == 20

    async def test_an_empty_database_has_no_percentiles(
        self, client: httpx.AsyncClient, admin: TestUser
    ):
        body = await stats(client, admin, fresh=1)

        assert body["jobs"]["total"] == 0
        assert body["jobs"]["duration"] == {"count": 0, "median_seconds": None, "p95_seconds": None}
        assert body["jobs"]["by_model"] == {}
        assert body["revenue"] == {}
        assert body["users"]["total"] == 1

    @pytest.mark.parametrize("params", [{"window": "1y"}, {"window": ""}, {"fresh": "maybe"}])
    async def test_bad_parameters_are_422(
        self, client: httpx.AsyncClient, admin: TestUser, params: dict[str, str]
    ):
        response = await client.get(f"{ADMIN}/stats", params=params, headers=admin.headers)

        assert_error(response, 422)


class TestCache:
    async def test_answers_from_the_cache_for_a_minute_unless_fresh(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser, user: TestUser
    ):
        first = await stats(client, admin)
        await seed(app, admin)

        cached = await stats(client, admin)
        fresh = await stats(client, admin, fresh=1)
        after_fresh = await stats(client, admin)
        other_window = await stats(client, admin, window="7d")

        assert first["cached"] is False
        assert cached["cached"] is True
        assert cached["users"] == first["users"]
        assert cached["generated_at"] == first["generated_at"]
        assert fresh["cached"] is False
        assert fresh["users"]["total"] == 5
        assert after_fresh["cached"] is True
        assert after_fresh["users"]["total"] == 5
        assert other_window["cached"] is False
        assert await app.state.ports.kv.get("admin:stats:24h") is not None
