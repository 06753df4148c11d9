"""All SQL about jobs, renders and idempotency keys, including the conditional state changes
that make a job's run safe under retries and concurrent runners."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import PageParams, Window, fetch_window
from app.models import IdempotencyKey, Job, JobStatus, Project, ProjectStatus, Render
from app.models.base import utcnow


async def get_owned(session: AsyncSession, *, user_id: uuid.UUID, job_id: uuid.UUID) -> Job | None:
    return await session.scalar(select(Job).where(Job.id == job_id, Job.user_id == user_id))


async def get(session: AsyncSession, job_id: uuid.UUID) -> Job | None:
    return await session.scalar(
        select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    )


async def list_owned(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    project_id: uuid.UUID | None,
    status: str | None,
    page: PageParams,
) -> Window[Job]:
    query = select(Job).where(Job.user_id == user_id)
    if project_id is not None:
        query = query.where(Job.project_id == project_id)
    if status is not None:
        query = query.where(Job.status == status)
    return await fetch_window(session, query, params=page, timestamp=Job.created_at, id=Job.id)


async def renders_for(session: AsyncSession, job_ids: list[uuid.UUID]) -> list[Render]:
    if not job_ids:
        return []
    rows = await session.scalars(
        select(Render).where(Render.job_id.in_(job_ids)).order_by(Render.variant)
    )
    return list(rows)


async def latest_still(
    session: AsyncSession, *, user_id: uuid.UUID, project_id: uuid.UUID
) -> Render | None:
    """The newest image render of one of the owner's projects (a video's poster fallback)."""
    return await session.scalar(
        select(Render)
        .join(Job, Job.id == Render.job_id)
        .where(
            Render.user_id == user_id,
            Job.project_id == project_id,
            Job.kind == "image",
            Render.content_type.like("image/%"),
        )
        .order_by(Render.created_at.desc(), Render.variant)
        .limit(1)
    )


async def get_render(session: AsyncSession, *, job_id: uuid.UUID, variant: int) -> Render | None:
    return await session.scalar(
        select(Render).where(Render.job_id == job_id, Render.variant == variant)
    )


async def produced_variants(session: AsyncSession, job_id: uuid.UUID) -> set[int]:
    return set(await session.scalars(select(Render.variant).where(Render.job_id == job_id)))


async def find_idempotency_key(
    session: AsyncSession, *, user_id: uuid.UUID, key: str
) -> IdempotencyKey | None:
    return await session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )


async def delete_idempotency_key(session: AsyncSession, key_id: uuid.UUID) -> None:
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == key_id))


async def claim(
    session: AsyncSession, *, job_id: uuid.UUID, lease_seconds: int, max_attempts: int
) -> Job | None:
    """Take the job for one run: queued, or running with an expired lease, and attempts left.

    One conditional UPDATE, so of two runners racing for the same job only one wins.
    """
    now = utcnow()
    result = await session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.attempts < max_attempts,
            or_(
                Job.status == JobStatus.QUEUED.value,
                and_(Job.status == JobStatus.RUNNING.value, Job.lease_until < now),
            ),
        )
        .values(
            status=JobStatus.RUNNING.value,
            attempts=Job.attempts + 1,
            lease_until=now + timedelta(seconds=lease_seconds),
            started_at=func.coalesce(Job.started_at, now),
            updated_at=now,
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    if result.scalar_one_or_none() is None:
        return None
    return await get(session, job_id)


async def fail_exhausted(
    session: AsyncSession, *, job_id: uuid.UUID, max_attempts: int, error: str
) -> bool:
    """Fail a job that can no longer be claimed because it used up its attempts.

    The mirror of `claim`: queued, or running with an expired lease, but no attempts left.
    One conditional UPDATE, so of two sweepers only one fails (and refunds) the job.
    """
    now = utcnow()
    result = await session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.attempts >= max_attempts,
            or_(
                Job.status == JobStatus.QUEUED.value,
                and_(Job.status == JobStatus.RUNNING.value, Job.lease_until < now),
            ),
        )
        .values(
            status=JobStatus.FAILED.value,
            error=error,
            finished_at=now,
            updated_at=now,
            lease_until=None,
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


async def record_progress(
    session: AsyncSession, *, job_id: uuid.UUID, attempt: int, progress: int, lease_seconds: int
) -> bool:
    """Save progress and extend the lease; False when this runner no longer holds the job."""
    now = utcnow()
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value, Job.attempts == attempt)
        .values(
            progress=progress, lease_until=now + timedelta(seconds=lease_seconds), updated_at=now
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


async def finish(
    session: AsyncSession,
    *,
    job_id: uuid.UUID,
    from_status: str,
    attempt: int | None,
    values: dict[str, Any],
) -> bool:
    """Move a job out of `from_status` (held by `attempt`, when given); False if it moved on."""
    now = utcnow()
    conditions = [Job.id == job_id, Job.status == from_status]
    if attempt is not None:
        conditions.append(Job.attempts == attempt)
    result = await session.execute(
        update(Job)
        .where(*conditions)
        .values(**values, finished_at=now, updated_at=now, lease_until=None)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


async def release(session: AsyncSession, *, job_id: uuid.UUID, attempt: int) -> bool:
    """Hand a running job held by `attempt` back to the queue; its renders stay."""
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value, Job.attempts == attempt)
        .values(status=JobStatus.QUEUED.value, lease_until=None, updated_at=utcnow())
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


async def request_cancel(session: AsyncSession, job_id: uuid.UUID) -> bool:
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value)
        .values(cancel_requested=True, updated_at=utcnow())
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


async def cancel_requested(session: AsyncSession, job_id: uuid.UUID) -> bool:
    value = await session.scalar(select(Job.cancel_requested).where(Job.id == job_id))
    return bool(value)


async def refresh_project_status(session: AsyncSession, project_id: uuid.UUID) -> None:
    """A project's status follows its latest job that was not canceled."""
    latest = await session.scalar(
        select(Job.status)
        .where(Job.project_id == project_id, Job.status != JobStatus.CANCELED.value)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(1)
    )
    status = {
        None: ProjectStatus.DRAFT,
        JobStatus.QUEUED.value: ProjectStatus.QUEUED,
        JobStatus.RUNNING.value: ProjectStatus.RUNNING,
        JobStatus.SUCCEEDED.value: ProjectStatus.DONE,
        JobStatus.FAILED.value: ProjectStatus.FAILED,
    }[latest]
    await session.execute(
        update(Project)
        .where(Project.id == project_id, Project.status != status.value)
        .values(status=status.value, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def stale_jobs(
    session: AsyncSession, *, queued_before: datetime, now: datetime, limit: int
) -> list[Job]:
    """Queued jobs nobody picked up, and running jobs whose runner stopped renewing its lease."""
    rows = await session.scalars(
        select(Job)
        .where(
            or_(
                and_(Job.status == JobStatus.QUEUED.value, Job.created_at < queued_before),
                and_(Job.status == JobStatus.RUNNING.value, Job.lease_until < now),
            )
        )
        .order_by(Job.created_at)
        .limit(limit)
    )
    return list(rows)
