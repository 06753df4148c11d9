"""Admin stats: users, jobs, credits and revenue over a window, from one query over daily
rollups and the live rest, cached 60 s."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.kv import KeyValueStore, KeyValueUnavailable
from app.admin.ops import repository
from app.admin.ops.schemas import (
    CreditStats,
    DurationStats,
    JobStats,
    ModelJobStats,
    RevenueStats,
    StatsOut,
    StatsWindow,
    UserStats,
)
from app.credits.service import CreditReason
from app.kit.db import Database, transaction
from app.models import JobStatus
from app.models.base import utcnow

logger = logging.getLogger("app.admin")

CACHE_SECONDS = 60
WINDOWS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


def cache_key(window: str) -> str:
    return f"admin:stats:{window}"


def _failure_rate(by_status: dict[str, int]) -> float | None:
    failed = by_status.get(JobStatus.FAILED.value, 0)
    ended = failed + by_status.get(JobStatus.SUCCEEDED.value, 0)
    return round(failed / ended, 4) if ended else None


def build_stats(
    rows: repository.StatsRows, *, window: StatsWindow, since: datetime, now: datetime
) -> StatsOut:
    by_status: dict[str, int] = {status.value: 0 for status in JobStatus}
    per_model: dict[str, dict[str, int]] = {}
    for status, model, count in rows.jobs:
        by_status[status] = by_status.get(status, 0) + count
        per_model.setdefault(model, {})[status] = count
    ledger = rows.ledger
    count, p50, p95 = rows.durations
    return StatsOut(
        window=window,
        since=since,
        generated_at=now,
        cached=False,
        users=UserStats(**rows.users),
        jobs=JobStats(
            total=sum(by_status.values()),
            by_status=by_status,
            by_model={
                model: ModelJobStats(by_status=counts, failure_rate=_failure_rate(counts))
                for model, counts in sorted(per_model.items())
            },
            duration=DurationStats(
                count=count,
                median_seconds=None if p50 is None else round(p50, 3),
                p95_seconds=None if p95 is None else round(p95, 3),
            ),
        ),
        credits=CreditStats(
            granted=ledger.get(CreditReason.SIGNUP_BONUS, 0)
            + ledger.get(CreditReason.ADMIN_GRANT, 0),
            spent=-ledger.get(CreditReason.JOB_CHARGE, 0),
            purchased=ledger.get(CreditReason.PURCHASE, 0),
            refunded=ledger.get(CreditReason.JOB_REFUND, 0),
            purchase_refunds=-ledger.get(CreditReason.PURCHASE_REFUND, 0),
            by_reason=dict(sorted(ledger.items())),
        ),
        revenue={
            currency: RevenueStats(orders=orders, amount=amount, refunded_amount=refunded)
            for currency, (orders, amount, refunded) in sorted(rows.revenue.items())
        },
    )


async def compute_stats(
    *, session: AsyncSession, window: StatsWindow, database: Database | None = None
) -> StatsOut:
    """The window's stats; when whole settled days were counted live for want of a rollup,
    their rollups are written afterwards (in a transaction of their own), for the next time."""
    now = utcnow()
    since = now - WINDOWS[window]
    rows = await repository.stats(session, since=since, now=now)
    span = repository.stats_span(since=since, now=now)
    if database is not None and rows.rolled_days < span.settled_days:
        await refresh_rollups(database, now=now)
    return build_stats(rows, window=window, since=since, now=now)


async def refresh_rollups(database: Database, *, now: datetime) -> int:
    """Roll up the settled days of the last month that lack a valid rollup; an optimisation, so
    a failure is logged and the stats stay as they are (counted live)."""
    try:
        async with transaction(database.sessionmaker) as session:
            return await repository.refresh_rollups(session, now=now)
    except SQLAlchemyError as exc:
        logger.warning("stats rollups not refreshed", extra={"error": str(exc)})
        return 0


async def get_stats(
    *,
    session: AsyncSession,
    kv: KeyValueStore,
    window: StatsWindow,
    fresh: bool,
    database: Database | None = None,
) -> StatsOut:
    """The stats of the window, from the key-value cache when they are under a minute old.

    `fresh` computes them now (and caches the result). The cache is an optimisation only: a
    key-value outage computes the stats from the database instead of failing.
    """
    key = cache_key(window)
    if not fresh:
        try:
            cached = await kv.get(key)
        except KeyValueUnavailable as exc:
            logger.warning("stats cache unavailable", extra={"error": str(exc)})
            cached = None
        if cached is not None:
            return StatsOut.model_validate_json(cached).model_copy(update={"cached": True})
    result = await compute_stats(session=session, window=window, database=database)
    try:
        await kv.put(key, result.model_dump_json(), ttl_seconds=CACHE_SECONDS)
    except KeyValueUnavailable as exc:
        logger.warning("stats not cached", extra={"error": str(exc)})
    return result
