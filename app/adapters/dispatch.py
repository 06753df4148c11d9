"""Job dispatch port: run a job now in this process, or hand it to a durable queue."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from app.config import API_PREFIX

logger = logging.getLogger("app.dispatch")

JobRunner = Callable[[uuid.UUID], Awaitable[None]]

# How often QStash retries a delivery that failed (5xx, timeout, no connection).
DELIVERY_RETRIES = 3
# Publishing runs inside a request, after its commit: give up fast rather than hold the
# response; a job that could not be published stays queued and the sweeper sends it again.
PUBLISH_RETRIES = 2
PUBLISH_BACKOFF_MS = 100


class DispatchFailed(Exception):
    """The queue did not take the job; it stays queued until the sweeper sends it again."""


class JobDispatcher(Protocol):
    name: str
    # Whether a job dispatched during a request still runs to its end once the response is
    # sent, on the platform this process runs on. Production on serverless requires it.
    finishes_after_response: bool

    async def dispatch(self, job_id: uuid.UUID, *, attempt: int = 0) -> None:
        """Arrange for the job to run; called only after the job's row is committed.

        `attempt` is the number of runs the job has had so far. Dispatching the same job for
        the same attempt again may be treated as a duplicate and dropped.
        """
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
    # True only for a process that keeps running; a frozen function stops its tasks.
    finishes_after_response = False

    def __init__(self, run: JobRunner) -> None:
        self._run = run
        self._tasks: set[asyncio.Task[None]] = set()

    async def dispatch(self, job_id: uuid.UUID, *, attempt: int = 0) -> None:
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


def job_run_url(public_base_url: str, job_id: uuid.UUID) -> str:
    """The internal endpoint QStash delivers a job to; also the URL its signature names."""
    return f"{public_base_url.rstrip('/')}{API_PREFIX}/internal/jobs/{job_id}/run"


def deduplication_id(job_id: uuid.UUID, attempt: int) -> str:
    # Per attempt: QStash drops a repeated id for a while, and a job whose runner died must
    # still be sent again within that window.
    return f"{job_id}-{attempt}"


class QStashDispatcher:
    """Publishes each job to Upstash QStash, which POSTs it to our signed internal endpoint.

    The work then happens in a request of its own that QStash retries until it succeeds,
    so nothing depends on a serverless function staying alive after it answered.
    """

    name = "qstash"
    finishes_after_response = True

    def __init__(
        self,
        *,
        token: str,
        public_base_url: str,
        base_url: str = "",
        retries: int = DELIVERY_RETRIES,
    ) -> None:
        self._token = token
        self._base_url = base_url
        self.public_base_url = public_base_url
        self.retries = retries
        self._client: Any = None

    def _qstash(self) -> Any:
        if self._client is None:
            # Imported on first use so a cold start that never dispatches does not pay for it.
            from qstash import AsyncQStash
            from qstash.http import RetryConfig

            retry = RetryConfig(
                retries=PUBLISH_RETRIES, backoff=lambda retry: PUBLISH_BACKOFF_MS * (retry + 1)
            )
            self._client = AsyncQStash(self._token, retry=retry, base_url=self._base_url or None)
        return self._client

    async def dispatch(self, job_id: uuid.UUID, *, attempt: int = 0) -> None:
        try:
            published = await self._qstash().message.publish_json(
                url=job_run_url(self.public_base_url, job_id),
                body={"job_id": str(job_id)},
                retries=self.retries,
                deduplication_id=deduplication_id(job_id, attempt),
            )
        except Exception as exc:
            logger.error(
                "job dispatch failed", extra={"job_id": str(job_id), "error": str(exc)[:300]}
            )
            raise DispatchFailed(f"QStash did not accept job {job_id}: {exc}") from exc
        logger.info(
            "job dispatched",
            extra={
                "job_id": str(job_id),
                "message_id": published.message_id,
                "deduplicated": published.deduplicated,
            },
        )

    async def drain(self) -> None:
        # Nothing runs here: QStash holds the work until it is delivered.
        return None
