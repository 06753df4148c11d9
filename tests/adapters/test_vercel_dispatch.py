"""The Vercel dispatcher registers each job with the invocation's wait_until, as vercel-runtime
opens and drains it around every request (`begin_wait_until` / `finish_wait_until_async`)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import pytest
from vercel_runtime.wait_until import begin_wait_until, finish_wait_until_async

from app.adapters.dispatch import VercelDispatcher, vercel_wait_until_reachable
from app.composition import build_ports
from tests.conftest import make_settings


class SlowJobs:
    """A runner whose jobs end only when the test lets them."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started: list[uuid.UUID] = []
        self.finished: list[uuid.UUID] = []

    async def __call__(self, job_id: uuid.UUID) -> None:
        self.started.append(job_id)
        await self.release.wait()
        self.finished.append(job_id)


def test_the_hook_is_reachable_where_the_runtime_publishes_it():
    assert vercel_wait_until_reachable()
    assert VercelDispatcher(SlowJobs()).finishes_after_response


async def test_the_invocation_ends_only_after_the_job():
    jobs = SlowJobs()
    dispatcher = VercelDispatcher(jobs)
    job_id = uuid.uuid4()

    collector = begin_wait_until()
    await dispatcher.dispatch(job_id)
    # The handler returned; the runtime now drains the invocation's wait_until work.
    drained = asyncio.create_task(finish_wait_until_async(collector))
    await asyncio.sleep(0.05)
    assert jobs.started == [job_id]
    assert not drained.done()

    jobs.release.set()
    await asyncio.wait_for(drained, timeout=5)
    assert jobs.finished == [job_id]


async def test_outside_an_invocation_the_job_runs_and_says_it_is_unguarded(
    caplog: pytest.LogCaptureFixture,
):
    jobs = SlowJobs()
    dispatcher = VercelDispatcher(jobs)
    job_id = uuid.uuid4()
    with caplog.at_level(logging.WARNING, logger="app.dispatch"):
        await dispatcher.dispatch(job_id)
    assert "without wait_until" in caplog.text

    jobs.release.set()
    await dispatcher.drain()
    assert jobs.finished == [job_id]


async def test_a_dispatch_after_the_invocation_ended_still_runs_the_job(
    caplog: pytest.LogCaptureFixture,
):
    jobs = SlowJobs()
    dispatcher = VercelDispatcher(jobs)
    job_id = uuid.uuid4()
    late = asyncio.Event()

    async def dispatch_later() -> None:
        # Started inside the request, so it carries the request's (soon closed) wait_until.
        await late.wait()
        await dispatcher.dispatch(job_id)

    collector = begin_wait_until()
    straggler = asyncio.create_task(dispatch_later())
    await finish_wait_until_async(collector)

    with caplog.at_level(logging.WARNING, logger="app.dispatch"):
        late.set()
        await straggler
    assert "not registered with wait_until" in caplog.text
    jobs.release.set()
    await dispatcher.drain()
    assert jobs.finished == [job_id]


class TestSelection:
    async def test_on_vercel_jobs_go_through_wait_until(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ):
        monkeypatch.setenv("VERCEL", "1")
        ports = build_ports(make_settings(data_dir=tmp_path))
        try:
            assert ports.dispatcher.name == "vercel_wait_until"
            assert ports.dispatcher.finishes_after_response
        finally:
            await ports.close()

    async def test_qstash_wins_when_it_is_configured(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ):
        monkeypatch.setenv("VERCEL", "1")
        ports = build_ports(make_settings(data_dir=tmp_path, qstash_token="token"))
        try:
            assert ports.dispatcher.name == "qstash"
        finally:
            await ports.close()

    async def test_a_server_runs_jobs_in_process(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ):
        monkeypatch.delenv("VERCEL", raising=False)
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
        ports = build_ports(make_settings(data_dir=tmp_path))
        try:
            assert ports.dispatcher.name == "in_process"
        finally:
            await ports.close()
