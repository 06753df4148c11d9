"""The sweep: over HTTP for a cron scheduler, and periodically inside a long-running server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.internal.service import EXHAUSTED, sweep
from app.jobs import runner
from app.jobs.service import charge_reference, refund_reference
from app.main import create_app
from app.models import Job
from tests.auth.test_router import assert_error
from tests.conftest import empty_tables, http_client, make_settings, running_app
from tests.factories import API, TestUser, balance, create_project, create_user, submit_job
from tests.internal.conftest import (
    CRON_SECRET,
    age_job,
    expire_lease,
    job_row,
    ledger_count,
    lose_dispatches,
    render_paths,
)
from tests.support.qstash_server import QStashState

SWEEP = f"{API}/internal/cron/sweep"
STALE = 3600


async def cron_sweep(client: httpx.AsyncClient, secret: str = CRON_SECRET) -> dict[str, int]:
    response = await client.get(SWEEP, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200, response.text
    counts: dict[str, int] = response.json()
    return counts


async def unsent_job(
    client: httpx.AsyncClient, app: FastAPI, user: TestUser | None = None, **overrides: Any
) -> tuple[TestUser, uuid.UUID]:
    """A charged, queued job whose dispatch never reached the queue."""
    user = user or await create_user(app)
    project = await create_project(client, user)
    restore = lose_dispatches(app)
    try:
        created = await submit_job(client, user, project["id"], **overrides)
    finally:
        restore()
    return user, uuid.UUID(created["id"])


async def crashed_run(app: FastAPI, job_id: uuid.UUID, *, store: tuple[int, ...] = ()) -> Job:
    """Claim the job as a runner does, store the given variants, then stop without finishing
    and let the lease lapse: what a runner killed mid-job leaves behind."""
    ports = app.state.ports
    job = await runner.claim_job(ports, job_id)
    assert job is not None
    if store:
        plan = await runner._plan(ports, job)
        produced: set[int] = set()
        for variant in store:
            await runner._store_variant(ports, plan, job.attempts, variant, produced)
    await expire_lease(app, job_id)
    return job


async def exhausted_job(
    client: httpx.AsyncClient, app: FastAPI, **overrides: Any
) -> tuple[TestUser, uuid.UUID]:
    """A job whose every attempt was claimed by a runner that then died."""
    user, job_id = await unsent_job(client, app, **overrides)
    for attempt in range(app.state.ports.settings.job_max_attempts):
        await crashed_run(app, job_id, store=(0,) if attempt == 0 else ())
    return user, job_id


class TestAuth:
    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Authorization": "Bearer wrong-secret"},
            {"Authorization": f"Basic {CRON_SECRET}"},
            {"Authorization": CRON_SECRET},
        ],
    )
    async def test_a_missing_or_wrong_secret_is_401(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ):
        response = await client.get(SWEEP, headers=headers)
        assert_error(response, 401, "invalid_cron_secret")

    async def test_without_a_cron_secret_it_is_503(self, database_url: str, tmp_path: Path):
        settings = make_settings(database_url=database_url, data_dir=tmp_path / "data")
        async with running_app(settings) as app, http_client(app) as client:
            response = await client.get(SWEEP, headers={"Authorization": "Bearer anything"})
            assert_error(response, 503, "cron_not_configured")


class TestRedispatch:
    async def test_a_job_left_queued_is_sent_again_and_runs(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        user, job_id = await unsent_job(client, app)
        # Younger than JOB_STALE_AFTER_SECONDS: its publish may still be on the way.
        assert await cron_sweep(client) == {"redispatched": 0, "failed": 0, "checked": 0}

        await age_job(app, job_id, STALE)
        assert await cron_sweep(client) == {"redispatched": 1, "failed": 0, "checked": 1}

        [message] = qstash.messages
        assert message.deduplication_id == f"{job_id}-0"
        [delivery] = await qstash.deliver_pending(client)
        assert delivery.status == 200
        assert (await job_row(app, job_id)).status == "succeeded"
        assert await balance(client, user) == 9
        assert await cron_sweep(client) == {"redispatched": 0, "failed": 0, "checked": 0}

    async def test_a_job_whose_runner_died_resumes_and_keeps_its_renders(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        user, job_id = await unsent_job(client, app, variants=3)
        await crashed_run(app, job_id, store=(0,))
        before = await render_paths(app, job_id)
        assert list(before) == [0]

        assert await cron_sweep(client) == {"redispatched": 1, "failed": 0, "checked": 1}
        [message] = qstash.messages
        # A new id per attempt: QStash would drop a repeat of the first publish's id.
        assert message.deduplication_id == f"{job_id}-1"
        [delivery] = await qstash.deliver_pending(client)

        assert delivery.body["outcome"] == "ran"
        job = await job_row(app, job_id)
        assert (job.status, job.attempts, job.refunded_credits) == ("succeeded", 2, 0)
        after = await render_paths(app, job_id)
        assert sorted(after) == [0, 1, 2]
        assert after[0] == before[0]
        assert await balance(client, user) == 7
        assert await ledger_count(app, charge_reference(job_id)) == 1

    async def test_concurrent_sweeps_publish_a_job_once(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        user, job_id = await unsent_job(client, app)
        await age_job(app, job_id, STALE)

        await asyncio.gather(sweep(app.state.ports), sweep(app.state.ports))

        assert len(qstash.messages) == 1
        await qstash.deliver_pending(client)
        job = await job_row(app, job_id)
        assert (job.status, job.attempts) == ("succeeded", 1)
        assert await balance(client, user) == 9


class TestExhausted:
    async def test_fails_and_refunds_once_under_concurrent_and_repeated_sweeps(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        user, job_id = await exhausted_job(client, app, variants=2)
        assert await balance(client, user) == 8

        results = await asyncio.gather(sweep(app.state.ports), sweep(app.state.ports))

        assert sum(result.failed for result in results) == 1
        assert sum(result.redispatched for result in results) == 0
        job = await job_row(app, job_id)
        assert (job.status, job.error, job.attempts) == ("failed", EXHAUSTED, 3)
        # Variant 0 was delivered before the crashes: only the other one is refunded.
        assert job.refunded_credits == 1
        assert await balance(client, user) == 9
        assert await ledger_count(app, refund_reference(job_id)) == 1
        assert qstash.messages == []

        assert await cron_sweep(client) == {"redispatched": 0, "failed": 0, "checked": 0}
        assert await balance(client, user) == 9
        project = await client.get(f"{API}/projects/{job.project_id}", headers=user.headers)
        assert project.json()["status"] == "failed"

    async def test_the_counts_cover_each_kind_of_job(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        user, stale = await unsent_job(client, app)
        await age_job(app, stale, STALE)
        _, fresh = await unsent_job(client, app, user)
        _, crashed = await unsent_job(client, app, user)
        await crashed_run(app, crashed)
        _, exhausted = await exhausted_job(client, app)
        _, done = await unsent_job(client, app, user)
        assert await runner.run_job(app.state.ports, done) is not None
        await age_job(app, done, STALE)

        assert await cron_sweep(client) == {"redispatched": 2, "failed": 1, "checked": 3}

        published = sorted(message.deduplication_id or "" for message in qstash.messages)
        assert published == sorted([f"{stale}-0", f"{crashed}-1"])
        assert (await job_row(app, fresh)).status == "queued"
        assert (await job_row(app, exhausted)).status == "failed"


class TestInProcess:
    """Without QStash the sweep re-dispatches to background tasks in this process."""

    async def test_concurrent_sweeps_run_a_job_once(self, database_url: str, tmp_path: Path):
        settings = make_settings(database_url=database_url, data_dir=tmp_path / "data")
        async with running_app(settings) as app, http_client(app) as client:
            user, job_id = await unsent_job(client, app, variants=2)
            await age_job(app, job_id, STALE)

            results = await asyncio.gather(*(sweep(app.state.ports) for _ in range(3)))
            await app.state.ports.dispatcher.drain()

            # A sweep that reads after another's dispatch started finds the job running.
            assert sum(result.redispatched for result in results) >= 1
            job = await job_row(app, job_id)
            assert (job.status, job.attempts) == ("succeeded", 1)
            assert sorted(await render_paths(app, job_id)) == [0, 1]
            assert await balance(client, user) == 8


def sweeper_tasks() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "periodic-sweep"]


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app through its whole lifespan, as a server runs it."""
    app = create_app(settings)
    await empty_tables(app.state.ports.database)
    try:
        async with app.router.lifespan_context(app), http_client(app) as client:
            yield app, client
    finally:
        await empty_tables(app.state.ports.database)
        await app.state.ports.database.dispose()


class TestPeriodicSweep:
    @pytest.fixture(autouse=True)
    def long_running(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("VERCEL", raising=False)
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)

    async def test_runs_while_the_server_is_up_and_stops_with_it(
        self, database_url: str, tmp_path: Path
    ):
        settings = make_settings(
            database_url=database_url,
            data_dir=tmp_path / "data",
            sweep_interval_seconds=1,
            job_stale_after_seconds=1,
        )
        async with served(settings) as (app, client):
            [task] = sweeper_tasks()
            _, job_id = await unsent_job(client, app)
            deadline = time.monotonic() + 15
            while (await job_row(app, job_id)).status != "succeeded":
                assert time.monotonic() < deadline, "the periodic sweep did not run the job"
                await asyncio.sleep(0.1)
        assert task.done()
        assert sweeper_tasks() == []

    @pytest.mark.parametrize(
        ("environment", "interval"), [({"VERCEL": "1"}, 60), ({}, 0)], ids=["serverless", "off"]
    )
    async def test_not_started_on_serverless_or_when_disabled(
        self,
        database_url: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        environment: dict[str, str],
        interval: int,
    ):
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        # No job runs here, so no platform dispatcher is needed.
        settings = make_settings(
            database_url=database_url,
            data_dir=tmp_path / "data",
            sweep_interval_seconds=interval,
            job_dispatch="in_process",
        )
        async with served(settings):
            assert sweeper_tasks() == []
