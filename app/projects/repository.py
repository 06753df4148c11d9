"""All SQL about projects."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.db import Database
from app.kit.pagination import PageParams, Window
from app.kit.reads import KeysetList, Statement
from app.models import Job, JobStatus, Project
from app.projects.schemas import ProjectOut


async def get_owned(
    session: AsyncSession, *, user_id: uuid.UUID, project_id: uuid.UUID
) -> Project | None:
    return await session.scalar(
        select(Project).where(Project.id == project_id, Project.user_id == user_id)
    )


def _owned(filters: frozenset[str]) -> Statement:
    query = select(*Project.__table__.c).where(Project.user_id == bindparam("user_id"))
    if "status" in filters:
        query = query.where(Project.status == bindparam("status"))
    return query


_OWNED = KeysetList(_owned, timestamp=Project.created_at, id=Project.id)


async def list_owned(
    database: Database, *, user_id: uuid.UUID, status: str | None, page: PageParams
) -> Window[ProjectOut]:
    """A page of the user's projects (one SELECT, through the driver)."""
    return await _OWNED.window(database, page, ProjectOut, user_id=user_id, status=status)


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
