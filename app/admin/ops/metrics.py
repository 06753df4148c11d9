"""Admin metrics: the database pool and server, the job queue, dispatch and the sweeper."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.kv import KeyValueUnavailable
from app.admin.ops import repository
from app.admin.ops.schemas import (
    DatabaseMetricsOut,
    DispatchMetrics,
    PoolOut,
    QueueMetrics,
    SweeperMetrics,
    SystemMetricsOut,
)
from app.internal.service import LAST_SWEEP_KEY
from app.models.base import utcnow
from app.ports import Ports

logger = logging.getLogger("app.admin")


def _pool_figure(pool: object, name: str) -> int | None:
    """A QueuePool's figure; pools without one (NullPool on serverless, SQLite in memory)
    report null rather than a made-up number."""
    method = getattr(pool, name, None)
    if method is None:
        return None
    try:
        return int(method())
    except (TypeError, NotImplementedError):
        return None


async def database_metrics(*, session: AsyncSession, ports: Ports) -> DatabaseMetricsOut:
    engine = ports.database.engine
    pool = engine.pool
    version = await repository.server_version(session)
    return DatabaseMetricsOut(
        dialect=engine.dialect.name,
        driver=engine.dialect.driver,
        server_version=version,
        pool=PoolOut(
            implementation=type(pool).__name__,
            size=_pool_figure(pool, "size"),
            checked_in=_pool_figure(pool, "checkedin"),
            checked_out=_pool_figure(pool, "checkedout"),
            overflow=_pool_figure(pool, "overflow"),
            status=pool.status(),
        ),
    )


async def _last_sweep(ports: Ports) -> dict[str, object]:
    try:
        raw = await ports.kv.get(LAST_SWEEP_KEY)
    except KeyValueUnavailable as exc:
        logger.warning("last sweep unreadable", extra={"error": str(exc)})
        return {}
    if raw is None:
        return {}
    try:
        record = json.loads(raw)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _count(record: dict[str, object], name: str) -> int | None:
    value = record.get(name)
    return value if isinstance(value, int) else None


async def system_metrics(*, session: AsyncSession, ports: Ports) -> SystemMetricsOut:
    settings = ports.settings
    now = utcnow()
    queue = await repository.queue_state(
        session,
        now=now,
        queued_before=now - timedelta(seconds=settings.job_stale_after_seconds),
    )
    record = await _last_sweep(ports)
    last_run_at = None
    if isinstance(record.get("at"), str):
        try:
            last_run_at = datetime.fromisoformat(str(record["at"]))
        except ValueError:
            last_run_at = None
    oldest = queue.oldest_queued_at
    return SystemMetricsOut(
        jobs=QueueMetrics(
            queued=queue.queued,
            running=queue.running,
            oldest_queued_age_seconds=(
                None if oldest is None else round((now - oldest).total_seconds(), 3)
            ),
            stale_leases=queue.stale_leases,
            stale_queued=queue.stale_queued,
        ),
        dispatch=DispatchMetrics(
            adapter=ports.dispatcher.name,
            finishes_after_response=ports.dispatcher.finishes_after_response,
        ),
        sweeper=SweeperMetrics(
            last_run_at=last_run_at,
            seconds_since_last_run=(
                None if last_run_at is None else round((now - last_run_at).total_seconds(), 3)
            ),
            checked=_count(record, "checked"),
            redispatched=_count(record, "redispatched"),
            failed=_count(record, "failed"),
            interval_seconds=0 if settings.is_serverless else settings.sweep_interval_seconds,
        ),
    )
