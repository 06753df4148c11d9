"""All SQL about projects."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import PageParams, Window, fetch_window
from app.models import Job, JobStatus, Project


async def get_owned(
    session: AsyncSession, *, user_id: uuid.UUID, project_id: uuid.UUID
) -> Project | None:
    return await session.scalar(
        select(Project).where(Project.id == project_id, Project.user_id == user_id)
    )


async def list_owned(
    session: AsyncSession, *, user_id: uuid.UUID, status: str | None, page: PageParams
) -> Window[Project]:
    query = select(Project).where(Project.user_id == user_id)
    if status is not None:
        query = query.where(Project.status == status)
    return await fetch_window(
        session, query, params=page, timestamp=Project.created_at, id=Project.id
    )


async def has_active_job(session: AsyncSession, project_id: uuid.UUID) -> bool:
    active = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
    found = await session.scalar(
        select(Job.id).where(Job.project_id == project_id, Job.status.in_(active)).limit(1)
    )
    return found is not None


async def job_ids(session: AsyncSession, project_id: uuid.UUID) -> list[uuid.UUID]:
    return list(await session.scalars(select(Job.id).where(Job.project_id == project_id)))


async def delete_project(session: AsyncSession, project_id: uuid.UUID) -> None:
    await session.execute(delete(Project).where(Project.id == project_id))
