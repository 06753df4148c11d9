"""All SQL of the admin job tools, the stats and the system metrics."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    Date,
    Row,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import PageParams, Window, fetch_window
from app.models import CreditTransaction, Job, JobStatus, Render, StatsDailyRow, StatsDay
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

# The end of both stats statements: revenue (always live) and the rows tagged by section.
_REVENUE_AND_ROWS = """revenue AS (
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
{revenue_and_rows}"""


def live_stats_statement(dialect: str) -> str:
    """Every figure counted from the base tables alone: what the rollups must agree with."""
    return _STATS_SQL.format(
        revenue_and_rows=_REVENUE_AND_ROWS,
        duration=_DURATION[dialect],
        percentiles=_PERCENTILES[dialect],
        # Read twice: two index-only scans beat Postgres' default of materialising the rows
        # (which spills to disk past work_mem for a month of jobs).
        inlined="NOT MATERIALIZED" if dialect == "postgresql" else "",
    )


# --- stats over daily rollups -----------------------------------------------------------------
#
# A window [since, now) is split at UTC midnights: the partial day at its start and the days
# from the first one not rolled up are counted live; the settled whole days between come from
# `stats_daily`. Only a run of valid (not stale) days starting at the window's first whole day
# is used, so a missing or stale day anywhere moves the live part back to it, never leaves a
# hole. Percentiles stay exact: the daily rows keep the number of succeeded jobs per duration
# bucket, the buckets say which bucket holds each wanted rank, and only that bucket's jobs in
# the window are read (by ix_jobs_succeeded_duration) and ranked.

_SUCCEEDED = "status = 'succeeded' AND started_at IS NOT NULL AND finished_at IS NOT NULL"


def _bucket(seconds: str, integer: str) -> str:
    """Tenths of a second below 10 s, seconds below 100 s, ten seconds beyond: monotonic, so
    the buckets rank like the durations. The same text as migration 0010's index."""
    return (
        f"CASE WHEN {seconds} < 10 THEN CAST({seconds} * 10 AS {integer}) "
        f"WHEN {seconds} < 100 THEN 90 + CAST({seconds} AS {integer}) "
        f"ELSE 180 + CAST({seconds} / 10 AS {integer}) END"
    )


_BUCKET = {
    "postgresql": _bucket(_DURATION["postgresql"], "bigint"),
    "sqlite": _bucket(f"({_DURATION['sqlite']})", "INTEGER"),
}
_DAY_OF = {
    "postgresql": "CAST(created_at AT TIME ZONE 'UTC' AS date)",
    "sqlite": "substr(created_at, 1, 10)",
}

# The run of valid days from :first_day, and where the live part starts again after it.
_SPAN = {
    "postgresql": """
marks AS (
  SELECT day, ROW_NUMBER() OVER (ORDER BY day) AS rn
  FROM stats_days
  WHERE day >= CAST(:first_day AS date) AND day < CAST(:end_day AS date) AND NOT stale
),
covered AS (
  SELECT COUNT(*) AS days FROM marks WHERE day - CAST(:first_day AS date) = rn - 1
),
span AS (
  SELECT days,
         CAST(:first_day AS date) + CAST(days AS integer) AS live_day,
         CAST(:first_day_at AS timestamptz) + days * interval '24 hours' AS live_from
  FROM covered
)""",
    "sqlite": """
marks AS (
  SELECT day, ROW_NUMBER() OVER (ORDER BY day) AS rn
  FROM stats_days
  WHERE day >= :first_day AND day < :end_day AND NOT stale
),
covered AS (
  SELECT COUNT(*) AS days FROM marks
  WHERE CAST(julianday(day) - julianday(:first_day) AS INTEGER) = rn - 1
),
span AS (
  SELECT days,
         date(:first_day, '+' || days || ' days') AS live_day,
         date(:first_day, '+' || days || ' days') || ' 00:00:00.000000' AS live_from
  FROM covered
)""",
}

# The ranks each percentile needs, and the interpolation between them: Postgres'
# percentile_cont arithmetic there, the live SQLite statement's arithmetic here, to the bit.
_WANTED = {
    "postgresql": """
wanted AS (
  SELECT p, pos, CAST(floor(pos) AS bigint) + 1 AS low_rank,
         CAST(ceil(pos) AS bigint) + 1 AS high_rank
  FROM (
    SELECT q.p AS p, CAST(q.p AS float8) * CAST(totals.n - 1 AS float8) AS pos
    FROM (VALUES (0.5), (0.95)) AS q(p), totals
    WHERE totals.n > 0
  ) AS positions
)""",
    "sqlite": """
wanted AS (
  SELECT p, pos, CAST(pos AS INTEGER) AS low_rank, CAST(pos AS INTEGER) + 1 AS high_rank
  FROM (
    SELECT q.p AS p, 1 + q.p * (totals.n - 1) AS pos
    FROM (SELECT 0.5 AS p UNION ALL SELECT 0.95) AS q, totals
    WHERE totals.n > 0
  ) AS positions
)""",
}
_INTERPOLATED = {
    "postgresql": "low.seconds + (high.seconds - low.seconds) * (wanted.pos - floor(wanted.pos))",
    "sqlite": (
        "low.seconds + (wanted.pos - CAST(wanted.pos AS INTEGER))"
        " * (COALESCE(high.seconds, low.seconds) - low.seconds)"
    ),
}

# People are counted through indexes rather than one pass over every user row: the total
# from the smallest scan, the unconfirmed and the suspended (few) from migration 0010's
# partial indexes, the new and the active from the ranges of their columns' indexes
# (materialised, so the total is counted once though read twice).
_ROLLUP_STATS_SQL = """
WITH
user_counts AS MATERIALIZED (
  SELECT (SELECT COUNT(*) FROM users) AS total,
         (SELECT COUNT(*) FROM users WHERE email_confirmed_at IS NULL) AS unconfirmed,
         (SELECT COUNT(*) FROM users WHERE suspended_at IS NOT NULL) AS suspended,
         (SELECT COUNT(*) FROM users WHERE created_at >= :since) AS new_in_window,
         (SELECT COUNT(*) FROM users WHERE last_seen_at >= :since) AS active_in_window
),
people AS (
  SELECT total, total - unconfirmed AS confirmed, suspended, new_in_window, active_in_window
  FROM user_counts
),
{span},
recent AS {inlined} (
  SELECT status, model, started_at, finished_at
  FROM jobs WHERE created_at >= :since AND created_at < :first_day_at
  UNION ALL
  SELECT status, model, started_at, finished_at
  FROM jobs WHERE created_at >= (SELECT live_from FROM span)
),
job_counts AS (
  SELECT status, model, SUM(n) AS n
  FROM (
    SELECT status, model, COUNT(*) AS n FROM recent GROUP BY status, model
    UNION ALL
    SELECT key1, key2, value FROM stats_daily
    WHERE section = 'jobs' AND {settled}
  ) AS parts
  GROUP BY status, model
),
histogram AS (
  SELECT bucket, SUM(n) AS n
  FROM (
    SELECT {bucket} AS bucket, COUNT(*) AS n
    FROM recent WHERE {succeeded}
    GROUP BY 1
    UNION ALL
    SELECT bucket, value FROM stats_daily
    WHERE section = 'durations' AND {settled}
  ) AS parts
  GROUP BY bucket
),
totals AS (
  SELECT COALESCE(SUM(n), 0) AS n FROM histogram
),
cumulative AS (
  SELECT bucket, n, SUM(n) OVER (ORDER BY bucket) - n AS before FROM histogram
),
{wanted},
ranks AS (
  SELECT low_rank AS rank FROM wanted
  UNION
  SELECT high_rank FROM wanted
),
targets AS (
  SELECT ranks.rank AS rank, cumulative.bucket AS bucket,
         ranks.rank - cumulative.before AS offset_in_bucket
  FROM ranks JOIN cumulative
    ON ranks.rank > cumulative.before AND ranks.rank <= cumulative.before + cumulative.n
),
candidates AS (
  SELECT {bucket} AS bucket, {duration} AS seconds
  FROM jobs
  WHERE {succeeded} AND created_at >= :since
    AND {bucket} IN (SELECT bucket FROM targets)
),
picked AS (
  SELECT targets.rank AS rank, ordered.seconds AS seconds
  FROM (
    SELECT bucket, seconds, ROW_NUMBER() OVER (PARTITION BY bucket ORDER BY seconds) AS position
    FROM candidates
  ) AS ordered
  JOIN targets
    ON targets.bucket = ordered.bucket AND targets.offset_in_bucket = ordered.position
),
percentiles AS (
  SELECT wanted.p AS p, {interpolated} AS seconds
  FROM wanted
  JOIN picked AS low ON low.rank = wanted.low_rank
  LEFT JOIN picked AS high ON high.rank = wanted.high_rank
),
durations AS (
  SELECT (SELECT n FROM totals) AS n,
         (SELECT seconds FROM percentiles WHERE p = 0.5) AS p50,
         (SELECT seconds FROM percentiles WHERE p = 0.95) AS p95
),
ledger AS (
  SELECT reason, SUM(total) AS total
  FROM (
    SELECT reason, SUM(delta) AS total
    FROM credit_transactions WHERE created_at >= :since AND created_at < :first_day_at
    GROUP BY reason
    UNION ALL
    SELECT reason, SUM(delta)
    FROM credit_transactions WHERE created_at >= (SELECT live_from FROM span)
    GROUP BY reason
    UNION ALL
    SELECT key1, value FROM stats_daily
    WHERE section = 'ledger' AND {settled}
  ) AS parts
  GROUP BY reason
),
{revenue_and_rows}UNION ALL
SELECT 'rollup', NULL, NULL, days, NULL, NULL, NULL, NULL FROM span
"""


def stats_statement(dialect: str) -> str:
    """Every figure of the window in one statement, settled whole days from their rollups."""
    return _ROLLUP_STATS_SQL.format(
        revenue_and_rows=_REVENUE_AND_ROWS,
        span=_SPAN[dialect],
        settled="day >= :first_day AND day < (SELECT live_day FROM span)",
        wanted=_WANTED[dialect],
        interpolated=_INTERPOLATED[dialect],
        bucket=_BUCKET[dialect],
        duration=_DURATION[dialect],
        succeeded=_SUCCEEDED,
        inlined="NOT MATERIALIZED" if dialect == "postgresql" else "",
    )


# A UTC day is settled, and may be rolled up, this long after it ended: past any request's or
# runner's transaction that could still be writing rows stamped inside it. Later changes (an
# old job run, retried or deleted) mark the day stale through the triggers.
SETTLE_AFTER = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class StatsSpan:
    since: datetime
    first_day: date
    end_day: date

    @property
    def first_day_at(self) -> datetime:
        return datetime.combine(self.first_day, time(), tzinfo=UTC)

    @property
    def settled_days(self) -> int:
        return (self.end_day - self.first_day).days


def stats_span(*, since: datetime, now: datetime) -> StatsSpan:
    """The window's whole days: from the first UTC midnight at or after `since` to the last
    settled one."""
    since = since.astimezone(UTC)
    first_day = since.date() if since.time() == time() else since.date() + timedelta(days=1)
    end_day = max(first_day, (now.astimezone(UTC) - SETTLE_AFTER).date())
    return StatsSpan(since=since, first_day=first_day, end_day=end_day)


def stats_parameters(span: StatsSpan) -> list[BindParameter[Any]]:
    return [
        bindparam("since", span.since, type_=UTCDateTime()),
        bindparam("first_day_at", span.first_day_at, type_=UTCDateTime()),
        bindparam("first_day", span.first_day, type_=Date()),
        bindparam("end_day", span.end_day, type_=Date()),
    ]


@dataclass
class StatsRows:
    users: dict[str, int] = field(default_factory=dict)
    jobs: list[tuple[str, str, int]] = field(default_factory=list)
    durations: tuple[int, float | None, float | None] = (0, None, None)
    ledger: dict[str, int] = field(default_factory=dict)
    revenue: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    # Whole days read from the rollups (the live statement reads none).
    rolled_days: int = 0


def _int(value: Any) -> int:
    return int(value or 0)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


async def stats(session: AsyncSession, *, since: datetime, now: datetime) -> StatsRows:
    """Every count of the admin stats, in one round trip to the database."""
    span = stats_span(since=since, now=now)
    if span.settled_days == 0:
        # No whole settled day in the window (24 hours): the plain statement is cheaper.
        return await live_stats(session, since=since)
    dialect = session.get_bind().dialect.name
    statement = text(stats_statement(dialect)).bindparams(*stats_parameters(span))
    return _stats_rows((await session.execute(statement)).all())


async def live_stats(session: AsyncSession, *, since: datetime) -> StatsRows:
    """The same counts from the base tables alone, rollups ignored."""
    dialect = session.get_bind().dialect.name
    # Bound through the timestamp type, so SQLite compares against its stored text form.
    statement = text(live_stats_statement(dialect)).bindparams(
        bindparam("since", since, type_=UTCDateTime())
    )
    return _stats_rows((await session.execute(statement)).all())


def _stats_rows(rows: Sequence[Row[Any]]) -> StatsRows:
    result = StatsRows()
    for row in rows:
        section, k1, k2, a, b, c, d, e = tuple(row)
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
        elif section == "rollup":
            result.rolled_days = _int(a)
    return result


_REFRESH_SQL = {
    "jobs": """
INSERT INTO stats_daily (day, section, key1, key2, bucket, value)
SELECT {day} AS day, 'jobs', status, model, 0, COUNT(*)
FROM jobs
WHERE created_at >= :from_at AND created_at < :to_at AND {day} IN :days
GROUP BY 1, status, model
ON CONFLICT DO NOTHING""",
    "durations": """
INSERT INTO stats_daily (day, section, key1, key2, bucket, value)
SELECT {day} AS day, 'durations', '', '', {bucket} AS bucket, COUNT(*)
FROM jobs
WHERE created_at >= :from_at AND created_at < :to_at AND {day} IN :days AND {succeeded}
GROUP BY 1, 5
ON CONFLICT DO NOTHING""",
    "ledger": """
INSERT INTO stats_daily (day, section, key1, key2, bucket, value)
SELECT {day} AS day, 'ledger', reason, '', 0, SUM(delta)
FROM credit_transactions
WHERE created_at >= :from_at AND created_at < :to_at AND {day} IN :days
GROUP BY 1, reason
ON CONFLICT DO NOTHING""",
}


async def refresh_rollups(session: AsyncSession, *, now: datetime, days: int = 31) -> int:
    """Count the settled days of the last `days` that have no valid rollup; returns how many.

    Safe beside writers and other refreshes. Stale markers are deleted first (that locks them,
    so a trigger marking one again waits for this transaction, then marks the new one); the
    rows are counted after; the day's marker goes in last with ON CONFLICT DO NOTHING, so a
    change that committed after the count (its trigger's marker came first) leaves the day
    stale rather than wrong. On SQLite writers take turns (BEGIN IMMEDIATE).
    """
    dialect = session.get_bind().dialect.name
    end_day = (now.astimezone(UTC) - SETTLE_AFTER).date()
    first_day = end_day - timedelta(days=days)
    valid = set(
        await session.scalars(
            select(StatsDay.day).where(
                StatsDay.day >= first_day, StatsDay.day < end_day, StatsDay.stale.is_(False)
            )
        )
    )
    todo = [
        day for offset in range(days) if (day := first_day + timedelta(days=offset)) not in valid
    ]
    if not todo:
        return 0
    await session.execute(delete(StatsDailyRow).where(StatsDailyRow.day.in_(todo)))
    await session.execute(delete(StatsDay).where(StatsDay.day.in_(todo)))
    bounds: list[BindParameter[Any]] = [
        bindparam("from_at", datetime.combine(todo[0], time(), tzinfo=UTC), type_=UTCDateTime()),
        bindparam(
            "to_at",
            datetime.combine(todo[-1] + timedelta(days=1), time(), tzinfo=UTC),
            type_=UTCDateTime(),
        ),
        bindparam("days", todo, type_=Date(), expanding=True),
    ]
    for statement in _REFRESH_SQL.values():
        sql = statement.format(day=_DAY_OF[dialect], bucket=_BUCKET[dialect], succeeded=_SUCCEEDED)
        await session.execute(text(sql).bindparams(*bounds))
    marked = insert_for(dialect)(StatsDay).values(
        [{"day": day, "stale": False, "computed_at": now} for day in todo]
    )
    await session.execute(marked.on_conflict_do_nothing(index_elements=["day"]))
    return len(todo)


def insert_for(dialect: str) -> Any:
    """The dialect's INSERT, which has ON CONFLICT."""
    if dialect == "postgresql":
        return postgresql.insert
    return sqlite.insert


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
