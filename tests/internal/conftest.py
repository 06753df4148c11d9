"""Internal-route fixtures: the app dispatching through a local QStash stand-in, and job helpers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from app.config import Settings
from app.models import CreditTransaction, Job, Render
from app.models.base import utcnow
from tests.conftest import make_settings
from tests.factories import API
from tests.support.dispatch import hold_jobs
from tests.support.qstash_server import QStashServer, QStashState, qstash_server

QSTASH_TOKEN = "test-qstash-token"
CRON_SECRET = "test-cron-secret-0123456789abcdef"
PUBLIC_BASE_URL = "http://test"


@pytest.fixture(scope="session")
def qstash_service() -> Iterator[QStashServer]:
    with qstash_server(QSTASH_TOKEN) as server:
        yield server


@pytest.fixture
def qstash(qstash_service: QStashServer) -> QStashState:
    """The stand-in's state, emptied for this test."""
    qstash_service.state.clear()
    return qstash_service.state


def qstash_settings(server: QStashServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "public_base_url": PUBLIC_BASE_URL,
        "qstash_token": QSTASH_TOKEN,
        "qstash_url": server.url,
        "qstash_current_signing_key": server.state.current_signing_key,
        "qstash_next_signing_key": server.state.next_signing_key,
        "cron_secret": CRON_SECRET,
    }
    values.update(overrides)
    return make_settings(**values)


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, qstash_service: QStashServer, qstash: QStashState
) -> Settings:
    return qstash_settings(qstash_service, database_url=database_url, data_dir=tmp_path / "data")


def run_path(job_id: str | uuid.UUID) -> str:
    return f"{API}/internal/jobs/{job_id}/run"


def run_url(job_id: str | uuid.UUID) -> str:
    return PUBLIC_BASE_URL + run_path(job_id)


def lose_dispatches(app: FastAPI) -> Any:
    """Drop what the next request dispatches, as if the publish never arrived; returns a
    function that puts the real dispatcher back."""
    ports = app.state.ports
    dispatcher = ports.dispatcher
    hold_jobs(app)

    def restore() -> None:
        ports.dispatcher = dispatcher

    return restore


async def job_row(app: FastAPI, job_id: str | uuid.UUID) -> Job:
    async with app.state.ports.database.sessionmaker() as session:
        job = await session.get(Job, uuid.UUID(str(job_id)))
    assert job is not None
    return job


async def render_paths(app: FastAPI, job_id: str | uuid.UUID) -> dict[int, str]:
    async with app.state.ports.database.sessionmaker() as session:
        rows = await session.scalars(select(Render).where(Render.job_id == uuid.UUID(str(job_id))))
        return {render.variant: render.path for render in rows}


async def ledger_count(app: FastAPI, reference: str) -> int:
    async with app.state.ports.database.sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(CreditTransaction)
            .where(CreditTransaction.reference == reference)
        )
    return int(count or 0)


async def age_job(app: FastAPI, job_id: str | uuid.UUID, seconds: float) -> None:
    """Date the job's creation `seconds` back, as if it had been waiting that long."""
    async with app.state.ports.database.sessionmaker.begin() as session:
        await session.execute(
            update(Job)
            .where(Job.id == uuid.UUID(str(job_id)))
            .values(created_at=utcnow() - timedelta(seconds=seconds))
        )


async def expire_lease(app: FastAPI, job_id: str | uuid.UUID) -> None:
    """Let the lease of a running job lapse, as it does when its runner died."""
    async with app.state.ports.database.sessionmaker.begin() as session:
        await session.execute(
            update(Job)
            .where(Job.id == uuid.UUID(str(job_id)))
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
