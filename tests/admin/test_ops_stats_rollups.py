"""The stats over daily rollups agree exactly with the live statement: random rows over 40 days
(UTC midnights included), before and after rolling up, and after changes to rolled-up days."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update

from app.admin.ops import repository
from app.admin.ops.stats import WINDOWS
from app.models import CreditTransaction, Job, Project, StatsDay, User
from app.models.base import utcnow
from tests.admin.test_ops_stats import entry, job, payment, person, stats
from tests.factories import TestUser

MODELS = ("studio", "nano_banana", "seedream")
STATUSES = ("succeeded",) * 6 + ("failed", "canceled", "queued", "running")
REASONS = ("job_charge", "job_refund", "purchase", "admin_grant")


def _when(rng: random.Random, now: datetime) -> datetime:
    """A time in the last 40 days, often on either side of a UTC midnight."""
    if rng.random() < 0.3:
        midnight = datetime.combine(now.date(), time(), tzinfo=UTC) - timedelta(
            days=rng.randrange(0, 40)
        )
        return midnight + timedelta(microseconds=rng.choice((-1, 0, 1, 999_999)))
    return now - timedelta(seconds=rng.random() * 40 * 86400)


def _seconds(rng: random.Random) -> float:
    # Ties, tenths, the bucket edges and long runs.
    return rng.choice(
        (
            round(rng.uniform(0.1, 9.9), 1),
            rng.uniform(0.0, 10.0),
            rng.uniform(10.0, 100.0),
            float(rng.choice((10, 30, 99, 100))),
            rng.uniform(100.0, 900.0),
        )
    )


async def seed_random(app: FastAPI, seed: int) -> dict[str, list[uuid.UUID]]:
    rng = random.Random(seed)
    now = utcnow()
    people = [person(f"p{index}", created_at=_when(rng, now)) for index in range(4)]
    async with app.state.ports.database.sessionmaker.begin() as session:
        session.add_all(people)
        await session.flush()
        projects = [
            Project(user_id=owner.id, platform="youtube", width=1280, height=720)
            for owner in people
        ]
        session.add_all(projects)
        await session.flush()
        for _ in range(400):
            index = rng.randrange(len(people))
            status = rng.choice(STATUSES)
            seconds = _seconds(rng) if status in ("succeeded", "failed") else None
            session.add(
                job(
                    people[index],
                    projects[index],
                    status=status,
                    model=rng.choice(MODELS),
                    created_at=_when(rng, now),
                    seconds=seconds,
                )
            )
        for _ in range(300):
            delta = rng.randrange(-8, 20)
            session.add(entry(rng.choice(people), delta, rng.choice(REASONS), _when(rng, now)))
        for _ in range(10):
            session.add(payment(rng.choice(people), 999, "USD", "paid", _when(rng, now)))
    return {"people": [p.id for p in people], "projects": [p.id for p in projects]}


async def assert_agrees(app: FastAPI) -> dict[str, int]:
    """Each window's figures both ways; returns the days read from rollups per window."""
    now = utcnow()
    rolled = {}
    async with app.state.ports.database.read_sessionmaker() as session:
        for window, span in WINDOWS.items():
            since = now - span
            live = await repository.live_stats(session, since=since)
            fast = await repository.stats(session, since=since, now=now)
            rolled[window] = fast.rolled_days
            fast.jobs.sort()
            live.jobs.sort()
            assert replace(fast, rolled_days=0) == live, window
    return rolled


async def refresh(app: FastAPI) -> int:
    async with app.state.ports.database.sessionmaker.begin() as session:
        return await repository.refresh_rollups(session, now=utcnow())


def settled_days(window: str) -> int:
    now = utcnow()
    return repository.stats_span(since=now - WINDOWS[window], now=now).settled_days


class TestRollupsAgreeWithTheLiveStatement:
    @pytest.mark.parametrize("seed", [1, 2])
    async def test_random_rows_before_and_after_rolling_up(self, app: FastAPI, seed: int):
        await seed_random(app, seed)

        before = await assert_agrees(app)
        assert await refresh(app) == 31
        after = await assert_agrees(app)

        assert before == {"24h": 0, "7d": 0, "30d": 0}
        assert after == {window: settled_days(window) for window in WINDOWS}
        assert after["30d"] >= 28
        assert await refresh(app) == 0

    async def test_changes_to_rolled_up_days_mark_them_stale(self, app: FastAPI):
        ids = await seed_random(app, 3)
        await refresh(app)
        database = app.state.ports.database
        cutoff = datetime.combine(utcnow().date(), time(), tzinfo=UTC) - timedelta(days=2)
        async with database.sessionmaker.begin() as session:
            # An admin retry sends an old failed job back to the queue.
            failed = await session.scalar(
                select(Job).where(Job.status == "failed", Job.created_at < cutoff).limit(1)
            )
            assert failed is not None
            assert await repository.requeue_failed(session, job=failed)
            # A project deleted takes its jobs; an account deleted takes its ledger rows.
            await session.execute(delete(Project).where(Project.id == ids["projects"][1]))
            await session.execute(delete(User).where(User.id == ids["people"][2]))
            # A late ledger row stamped in an old day.
            owner = await session.get(User, ids["people"][0])
            assert owner is not None
            session.add(entry(owner, 5, "admin_grant", cutoff - timedelta(days=5)))
        async with database.read_sessionmaker() as session:
            stale = await session.scalar(select(func.count()).where(StatsDay.stale.is_(True)))
        assert stale is not None
        assert stale > 0

        partly = await assert_agrees(app)
        assert partly["30d"] < settled_days("30d")
        await refresh(app)
        assert (await assert_agrees(app))["30d"] == settled_days("30d")

    async def test_changes_to_todays_rows_write_no_marker(self, app: FastAPI):
        ids = await seed_random(app, 4)
        await refresh(app)
        database = app.state.ports.database
        async with database.sessionmaker.begin() as session:
            markers = await session.scalar(select(func.count()).select_from(StatsDay))
            # Days past the month the rollups cover keep the markers their seeding left.
            old_stale = await session.scalar(select(func.count()).where(StatsDay.stale.is_(True)))
            await session.execute(
                update(Job)
                .where(Job.created_at >= datetime.combine(utcnow().date(), time(), tzinfo=UTC))
                .values(status="failed")
            )
            await session.execute(
                delete(CreditTransaction).where(
                    CreditTransaction.created_at
                    >= datetime.combine(utcnow().date(), time(), tzinfo=UTC)
                )
            )
        async with database.read_sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(StatsDay)) == markers
            stale = await session.scalar(select(func.count()).where(StatsDay.stale.is_(True)))
        assert stale == old_stale
        assert ids
        await assert_agrees(app)


class TestThroughTheEndpoint:
    async def test_a_fresh_request_writes_the_missing_rollups(
        self, client: httpx.AsyncClient, app: FastAPI, admin: TestUser
    ):
        await seed_random(app, 5)

        first = await stats(client, admin, window="30d", fresh=1)
        second = await stats(client, admin, window="30d", fresh=1)

        async with app.state.ports.database.read_sessionmaker() as session:
            valid = await session.scalar(select(func.count()).where(StatsDay.stale.is_(False)))
        assert valid == 31
        for body in (first, second):
            body.pop("generated_at")
            body.pop("since")
        assert first == second


def test_the_span_starts_at_the_first_whole_day_and_ends_at_the_last_settled_one():
    now = datetime(2026, 12, 2, 0, 30, tzinfo=UTC)
    span = repository.stats_span(since=now - timedelta(days=7), now=now)
    # 00:30 is within the hour after midnight: yesterday is not settled yet.
    assert (span.first_day, span.end_day) == (date(2026, 11, 26), date(2026, 12, 1))
    midnight = datetime(2026, 11, 1, tzinfo=UTC)
    span = repository.stats_span(since=midnight, now=datetime(2026, 12, 1, 2, tzinfo=UTC))
    assert (span.first_day, span.end_day, span.settled_days) == (
        date(2026, 11, 1),
        date(2026, 12, 1),
        30,
    )
