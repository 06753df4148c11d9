"""All SQL of the admin job tools, the stats and the system metrics."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import PageParams, Window, fetch_window
from app.models import CreditTransaction, Job, JobStatus, Render
from app.models.base import UTCDateTime, utcnow

# Sort column -> the job column; status and model break ties by creation, then id.
_SORT_COLUMNS = {"status": Job.status, "model": Job.model}


@dataclass(frozen=True, slots=True)
class JobFilters:
    status: str | None = None
    model: str | None = None
    user_id: uuid.UUID | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def _filtered(filters: JobFilters) -> Select[Job]:
    query = select(Job)
    if filters.status is not None:
        query = query.where(Job.status == filters.status)
    if filters.model is not None:
        query = query.where(Job.model == filters.model)
    if filters.user_id is not None:
        query = query.where(Job.user_id == filters.user_id)
    if filters.created_from is not None:
        query = query.where(Job.created_at >= filters.created_from)
    if filters.created_to is not None:
        query = query.where(Job.created_at < filters.created_to)
    return query


async def list_jobs(
    session: AsyncSession, *, filters: JobFilters, sort: str, order: str, page: PageParams
) -> Window[Job]:
    """One page of every user's jobs.

    Time orders page by keyset cursor like every other list; status and model orders page by
    offset (each is served by an index on that column, then creation time and id).
    """
    query = _filtered(filters)
    newest_first = order == "desc"
    if sort in ("created_at", "updated_at"):
        timestamp = Job.created_at if sort == "created_at" else Job.updated_at
        return await fetch_window(
            session, query, params=page, timestamp=timestamp, id=Job.id, newest_first=newest_first
        )
    total = None
    if page.include_total:
        total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    columns = (_SORT_COLUMNS[sort], Job.created_at, Job.id)
    ordered = query.order_by(*(c.desc() if newest_first else c.asc() for c in columns))
    rows = list(await session.scalars(ordered.limit(page.limit).offset(page.offset)))
    return Window(rows=rows, params=page, total=total, next_cursor=None)


async def get_job(session: AsyncSession, job_id: uuid.UUID) -> Job | None:
    return await session.scalar(
        select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    )


async def renders_of(session: AsyncSession, job_id: uuid.UUID) -> list[Render]:
    rows = await session.scalars(
        select(Render).where(Render.job_id == job_id).order_by(Render.variant)
    )
    return list(rows)


async def ledger_entries(session: AsyncSession, references: list[str]) -> list[CreditTransaction]:
    """Ledger rows by exact reference: the unique index answers, however long the ledger."""
    rows = await session.scalars(
        select(CreditTransaction)
        .where(CreditTransaction.reference.in_(references))
        .order_by(CreditTransaction.created_at, CreditTransaction.id)
    )
    return list(rows)


async def requeue_failed(session: AsyncSession, *, job: Job) -> bool:
    """Send a failed job back to the queue for a new round of attempts.

    Conditional on the job still being failed in the round that was read, so of two retries
    only one wins; the loser changes nothing.
    """
    now = utcnow()
    result = await session.execute(
        update(Job)
        .where(
            Job.id == job.id,
            Job.status == JobStatus.FAILED.value,
            Job.retries == job.retries,
        )
        .values(
            status=JobStatus.QUEUED.value,
            retries=Job.retries + 1,
            prior_attempts=Job.prior_attempts + Job.attempts,
            attempts=0,
            refunded_credits=0,
            error=None,
            error_kind=None,
            error_detail=None,
            error_retryable=None,
            lease_until=None,
            lease_holder=None,
            cancel_requested=False,
            finished_at=None,
            updated_at=now,
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


async def mark_refunded(session: AsyncSession, *, job: Job, amount: int) -> bool:
    """Record an admin refund on a succeeded job, unless one got there first."""
    result = await session.execute(
        update(Job)
        .where(
            Job.id == job.id,
            Job.status == JobStatus.SUCCEEDED.value,
            Job.refunded_credits == job.refunded_credits,
        )
        .values(refunded_credits=Job.refunded_credits + amount, updated_at=utcnow())
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


# --- stats ------------------------------------------------------------------------------------

# The duration of a job in seconds, per dialect.
_DURATION = {
    "postgresql": "EXTRACT(EPOCH FROM (finished_at - started_at))::float8",
    "sqlite": "(julianday(finished_at) - julianday(started_at)) * 86400.0",
}

# Postgres has ordered-set aggregates; SQLite gets the same continuous percentile (linear
# interpolation between the two closest ranks) from row numbers, within the same statement.
_PERCENTILES = {
    "postgresql": """
durations AS (
  SELECT count(*) AS n,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds) AS p95
  FROM finished
)""",
    "sqlite": """
ranked AS (
  SELECT seconds, ROW_NUMBER() OVER (ORDER BY seconds) AS rank, COUNT(*) OVER () AS n
  FROM finished
),
positions AS (
  SELECT q.p AS p, 1 + q.p * (MAX(ranked.n) - 1) AS position
  FROM (SELECT 0.5 AS p UNION ALL SELECT 0.95) AS q, ranked
  GROUP BY q.p
),
percentiles AS (
  SELECT positions.p AS p,
         MIN(CASE WHEN ranked.rank = CAST(positions.position AS INTEGER)
             THEN ranked.seconds END) AS low,
         MIN(CASE WHEN ranked.rank = CAST(positions.position AS INTEGER) + 1
             THEN ranked.seconds END) AS high,
         positions.position - CAST(positions.position AS INTEGER) AS fraction
  FROM positions, ranked
  GROUP BY positions.p
),
durations AS (
  SELECT (SELECT COUNT(*) FROM finished) AS n,
         (SELECT low + fraction * (COALESCE(high, low) - low)
          FROM percentiles WHERE p = 0.5) AS p50,
         (SELECT low + fraction * (COALESCE(high, low) - low)
          FROM percentiles WHERE p = 0.95) AS p95
)""",
}

# Every figure of GET /admin/stats in one statement: each table is read through the index on
# its window column (the window's jobs from the index alone, as it covers them), and the rows
# come back tagged by section. Active people are those whose session signed in or refreshed
# in the window: every session refreshes within the access token's lifetime, so that is
# everyone who used the API, without a pass over the window's jobs.
_STATS_SQL = """
WITH
people AS (
  SELECT COUNT(*) AS total,
         COUNT(email_confirmed_at) AS confirmed,
         COUNT(suspended_at) AS suspended,
         SUM(CASE WHEN created_at >= :since THEN 1 ELSE 0 END) AS new_in_window,
         SUM(CASE WHEN last_seen_at >= :since THEN 1 ELSE 0 END) AS active_in_window
  FROM users
),
recent AS {inlined} (
  SELECT status, model, started_at, finished_at
  FROM jobs WHERE created_at >= :since
),
job_counts AS (
  SELECT status, model, COUNT(*) AS n
  FROM recent
  GROUP BY status, model
),
finished AS (
  SELECT {duration} AS seconds
  FROM recent
  WHERE status = 'succeeded' AND started_at IS NOT NULL AND finished_at IS NOT NULL
),
{percentiles},
ledger AS (
  SELECT reason, SUM(delta) AS total
  FROM credit_transactions WHERE created_at >= :since
  GROUP BY reason
),
revenue AS (
  SELECT currency, COUNT(*) AS orders, SUM(amount) AS amount,
         SUM(refunded_amount) AS refunded
  FROM payments
  WHERE paid_at >= :since AND status IN ('paid', 'partially_refunded', 'refunded')
  GROUP BY currency
)
SELECT 'users' AS section, NULL AS k1, NULL AS k2,
       people.total AS a, people.confirmed AS b, people.suspended AS c,
       people.new_in_window AS d, people.active_in_window AS e
FROM people
UNION ALL
SELECT 'jobs', status, model, n, NULL, NULL, NULL, NULL FROM job_counts
UNION ALL
SELECT 'durations', NULL, NULL, n, p50, p95, NULL, NULL FROM durations
UNION ALL
SELECT 'ledger', reason, NULL, total, NULL, NULL, NULL, NULL FROM ledger
UNION ALL
SELECT 'revenue', currency, NULL, orders, amount, refunded, NULL, NULL FROM revenue
"""


def stats_statement(dialect: str) -> str:
    return _STATS_SQL.format(
        duration=_DURATION[dialect],
        percentiles=_PERCENTILES[dialect],
        # Read twice: two index-only scans beat Postgres' default of materialising the rows
        # (which spills to disk past work_mem for a month of jobs).
        inlined="NOT MATERIALIZED" if dialect == "postgresql" else "",
    )


@dataclass
class StatsRows:
    users: dict[str, int] = field(default_factory=dict)
    jobs: list[tuple[str, str, int]] = field(default_factory=list)
    durations: tuple[int, float | None, float | None] = (0, None, None)
    ledger: dict[str, int] = field(default_factory=dict)
    revenue: dict[str, tuple[int, int, int]] = field(default_factory=dict)


def _int(value: Any) -> int:
    return int(value or 0)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


async def stats(session: AsyncSession, *, since: datetime) -> StatsRows:
    """Every count of the admin stats, in one round trip to the database."""
    dialect = session.get_bind().dialect.name
    # Bound through the timestamp type, so SQLite compares against its stored text form.
    statement = text(stats_statement(dialect)).bindparams(
        bindparam("since", since, type_=UTCDateTime())
    )
    rows = (await session.execute(statement)).all()
    result = StatsRows()
    for section, k1, k2, a, b, c, d, e in rows:
        if section == "users":
            result.users = {
                "total": _int(a),
                "confirmed": _int(b),
                "suspended": _int(c),
                "new_in_window": _int(d),
                "active_in_window": _int(e),
            }
        elif section == "jobs":
            result.jobs.append((str(k1), str(k2), _int(a)))
        elif section == "durations":
            result.durations = (_int(a), _float(b), _float(c))
        elif section == "ledger":
            result.ledger[str(k1)] = _int(a)
        elif section == "revenue":
            result.revenue[str(k1)] = (_int(a), _int(b), _int(c))
    return result


# --- system metrics ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueRow:
    queued: int
    running: int
    oldest_queued_at: datetime | None
    stale_leases: int
    stale_queued: int


async def queue_state(session: AsyncSession, *, now: datetime, queued_before: datetime) -> QueueRow:
    """The queue in one statement, through the (status, updated_at) index's leading column."""
    queued = Job.status == JobStatus.QUEUED.value
    running = Job.status == JobStatus.RUNNING.value
    row = (
        await session.execute(
            select(
                func.count(case((queued, 1))),
                func.count(case((running, 1))),
                func.min(case((queued, Job.created_at))),
                func.count(case((and_(running, Job.lease_until < now), 1))),
                func.count(case((and_(queued, Job.created_at < queued_before), 1))),
            ).where(or_(queued, running))
        )
    ).one()
    return QueueRow(
        queued=_int(row[0]),
        running=_int(row[1]),
        oldest_queued_at=row[2],
        stale_leases=_int(row[3]),
        stale_queued=_int(row[4]),
    )


async def server_version(session: AsyncSession) -> str:
    dialect = session.get_bind().dialect.name
    query = "SHOW server_version" if dialect == "postgresql" else "SELECT sqlite_version()"
    return str(await session.scalar(text(query)))
