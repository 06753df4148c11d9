"""The render pool runs work in worker processes and hands back results and errors intact."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.jobs.imaging import fit_render
from app.kit.render_pool import RenderPool
from app.providers.base import ProviderError
from app.providers.output import NOT_AN_IMAGE
from tests.conftest import http_client, make_settings, running_app
from tests.factories import create_project, create_user, submit_job, wait_for_job
from tests.images import image_bytes, open_image


def worker_identity() -> tuple[int, str]:
    return os.getpid(), threading.current_thread().name


# Work sent to a worker process is a builtin or a light app module: pickling names a function,
# and the worker imports its module (a test module would drag in every fixture's imports).
def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
async def pool() -> AsyncIterator[RenderPool]:
    render_pool = RenderPool(1)
    try:
        yield render_pool
    finally:
        await render_pool.close()


class TestWorkerProcesses:
    async def test_no_process_starts_before_the_first_render(self, pool: RenderPool):
        assert pool.worker_pids() == []

    async def test_work_runs_in_another_process_and_bytes_come_back(self, pool: RenderPool):
        pid = await pool.run(os.getpid)
        assert pid != os.getpid()
        assert pool.worker_pids() == [pid]
        png = await pool.run(fit_render, image_bytes("JPEG", size=(640, 480)), 320, 180)
        assert open_image(png).size == (320, 180)

    async def test_a_provider_error_crosses_with_its_fields(self, pool: RenderPool):
        with pytest.raises(ProviderError) as caught:
            await pool.run(fit_render, b"<html>not an image</html>", 320, 180)
        assert caught.value.user_message == NOT_AN_IMAGE
        assert caught.value.retryable is False
        assert "unreadable image" in caught.value.internal

    async def test_closing_stops_the_workers(self):
        render_pool = RenderPool(2)
        await render_pool.run(os.getpid)
        pids = render_pool.worker_pids()
        assert pids
        await render_pool.close()
        assert not any(process_alive(pid) for pid in pids)
        assert render_pool.worker_pids() == []


class TestInProcess:
    async def test_zero_processes_runs_in_a_worker_thread(self):
        render_pool = RenderPool(0)
        pid, thread = await render_pool.run(worker_identity)
        assert pid == os.getpid()
        assert thread != threading.main_thread().name
        assert render_pool.worker_pids() == []
        await render_pool.close()


class TestStudioJobs:
    async def test_a_job_renders_in_the_pool_which_stops_with_the_app(
        self, sqlite_database: str, tmp_path: Path
    ):
        settings = make_settings(
            database_url=sqlite_database, data_dir=tmp_path, render_processes=1
        )
        async with running_app(settings) as app, http_client(app) as client:
            user = await create_user(app)
            project = await create_project(client, user)
            created = await submit_job(client, user, project["id"], variants=2)
            job = await wait_for_job(client, app, user, created["id"])
            assert job["status"] == "succeeded", job
            assert len(job["renders"]) == 2
            pids = app.state.ports.providers.render_pool.worker_pids()
            assert len(pids) == 1
            assert os.getpid() not in pids
        assert not process_alive(pids[0])
