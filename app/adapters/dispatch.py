"""Job dispatch port: run a job now in this process, or hand it to a durable queue."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

logger = logging.getLogger("app.dispatch")

JobRunner = Callable[[uuid.UUID], Awaitable[None]]


class JobDispatcher(Protocol):
    name: str

    async def dispatch(self, job_id: uuid.UUID) -> None:
        """Arrange for the job to run; called only after the job's row is committed."""
        ...

    async def drain(self) -> None:
        """Wait for work this process started (shutdown, tests)."""
        ...


class InProcessDispatcher:
    """Runs each job as a background task of the process that accepted it.

    The request answers at once and the job continues on the event loop. Fine for a server
    that keeps running; a function frozen after its response needs the durable queue instead.
    """

    name = "in_process"

    def __init__(self, run: JobRunner) -> None:
        self._run = run
        self._tasks: set[asyncio.Task[None]] = set()

    async def dispatch(self, job_id: uuid.UUID) -> None:
        task = asyncio.create_task(self._guarded(job_id), name=f"job-{job_id}")
        # The loop keeps only weak references to tasks; hold them until they finish.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, job_id: uuid.UUID) -> None:
        try:
            await self._run(job_id)
        except Exception:
            logger.exception("job run crashed", extra={"job_id": str(job_id)})

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
