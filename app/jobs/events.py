"""Progress streams of `GET /jobs/{id}/events`: bounded, resumable, capped per user.

A stream polls the job with short read-only sessions, sends each render as it lands and a
status event on every change, and ends after `SSE_MAX_SECONDS` with a `retry:` hint, so
EventSource reconnects and resumes from its `Last-Event-ID` without repeating events.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from fastapi.sse import ServerSentEvent
from sqlalchemy.exc import SQLAlchemyError

from app.adapters.kv import KeyValueStore, KeyValueUnavailable
from app.jobs import repository
from app.jobs.schemas import JobEvent
from app.jobs.service import render_view
from app.kit.errors import AppError, BadRequest
from app.models import Job, JobStatus, Render
from app.models.base import utcnow
from app.ports import Ports

logger = logging.getLogger("app.jobs.events")

# How long EventSource waits before it reconnects to a stream that ended.
RETRY_MS = 1000
# Polls start fast and slow down as the job ages: most jobs finish in seconds, and a long one
# should not cost a query every quarter second for minutes.
POLL_MIN_SECONDS = 0.25
POLL_MAX_SECONDS = 2.0
POLL_SLOWDOWN = 0.125  # seconds of poll interval per second of job age
# A stream slot outlives its stream's bound by this much before it counts as leaked.
SLOT_GRACE_SECONDS = 30


class TooManyStreams(AppError):
    status = 429
    code = "too_many_streams"
    message = "Too many open event streams. Close one or try again later."

    def __init__(self, retry_after_seconds: int) -> None:
        retry = max(1, retry_after_seconds)
        super().__init__(
            f"Too many open event streams. Close one or try again in {retry} seconds.",
            headers={"Retry-After": str(retry)},
        )


class InvalidLastEventId(BadRequest):
    code = "invalid_last_event_id"
    message = "Last-Event-ID is not an id this stream sent."


@dataclass(frozen=True, slots=True)
class StreamCursor:
    """What the client has seen: the last status and progress, and the renders it was sent.

    Encoded as each event's id, so a reconnect's `Last-Event-ID` says where to resume.
    """

    status: str = ""
    progress: int = -1
    variants: frozenset[int] = frozenset()

    def encode(self) -> str:
        return f"{self.status}:{self.progress}:{','.join(map(str, sorted(self.variants)))}"

    @classmethod
    def parse(cls, value: str, *, job: Job) -> StreamCursor:
        try:
            status, progress, variants = value.split(":")
            cursor = cls(
                status=JobStatus(status).value,
                progress=int(progress),
                variants=frozenset(int(part) for part in variants.split(",") if part),
            )
        except ValueError as exc:
            raise InvalidLastEventId() from exc
        if not 0 <= cursor.progress <= 100 or any(
            not 0 <= variant < job.variants for variant in cursor.variants
        ):
            raise InvalidLastEventId()
        return cursor


@dataclass(frozen=True, slots=True)
class StreamSettings:
    max_seconds: float
    # On a platform that buffers the whole response (Lambda behind API Gateway) a stream ends
    # as soon as it has news, so the client gets it now instead of when the bound is reached.
    end_after_news: bool


@dataclass(frozen=True, slots=True)
class _Snapshot:
    job: Job
    renders: list[Render]


async def _read(ports: Ports, job_id: uuid.UUID) -> _Snapshot | None:
    # A short read-only session per poll: no connection is held while the stream waits.
    async with ports.database.read_sessionmaker() as session:
        job = await repository.get(session, job_id)
        if job is None:
            return None
        return _Snapshot(job=job, renders=await repository.renders_for(session, [job_id]))


def poll_interval(job: Job) -> float:
    age = (utcnow() - job.created_at).total_seconds()
    return min(POLL_MAX_SECONDS, max(POLL_MIN_SECONDS, age * POLL_SLOWDOWN))


def _status_event(job: Job, cursor: StreamCursor, final: bool) -> ServerSentEvent:
    data = JobEvent(
        id=job.id,
        status=job.status,
        progress=job.progress,
        error=job.error,
        renders=len(cursor.variants),
    )
    return ServerSentEvent(data=data, event="end" if final else "status", id=cursor.encode())


async def job_event_stream(
    *, ports: Ports, job_id: uuid.UUID, cursor: StreamCursor, stream: StreamSettings
) -> AsyncIterator[ServerSentEvent]:
    """`render` per new variant, `status` on each change, `end` once the job has ended."""
    deadline = time.monotonic() + stream.max_seconds
    yield ServerSentEvent(comment="stream open", retry=RETRY_MS)
    while True:
        try:
            snapshot = await _read(ports, job_id)
        except (SQLAlchemyError, OSError) as exc:
            # The response has started, so no error status can be sent: end the stream and
            # let the reconnect meet the outage as a proper 503.
            logger.warning(
                "event stream ended: database unavailable",
                extra={"job_id": str(job_id), "error": type(exc).__name__},
            )
            return
        if snapshot is None:  # deleted with its project or account
            yield ServerSentEvent(data={"id": str(job_id), "status": "deleted"}, event="end")
            return
        job, news = snapshot.job, False
        for render in snapshot.renders:
            if render.variant in cursor.variants:
                continue
            cursor = replace(cursor, variants=cursor.variants | {render.variant})
            data = await render_view(ports, render)
            yield ServerSentEvent(data=data, event="render", id=cursor.encode())
            news = True
        final = JobStatus(job.status).is_final
        if final or (job.status, job.progress) != (cursor.status, cursor.progress):
            cursor = replace(cursor, status=job.status, progress=job.progress)
            yield _status_event(job, cursor, final)
            news = True
        if final:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (news and stream.end_after_news):
            return
        await asyncio.sleep(min(poll_interval(job), remaining))


class StreamSlots:
    """Counts a user's open streams in the key-value store, so the cap holds across instances.

    Each slot carries its own expiry: a stream ends by its bound, so a slot left behind by an
    instance that died stops counting soon after, without anyone cleaning up.
    """

    def __init__(self, kv: KeyValueStore, *, limit: int, stream_seconds: float) -> None:
        self._kv = kv
        self._limit = limit
        self._lifetime = math.ceil(stream_seconds) + SLOT_GRACE_SECONDS

    @staticmethod
    def _key(user_id: uuid.UUID) -> str:
        return f"streams:{user_id}"

    async def acquire(self, user_id: uuid.UUID) -> str | None:
        """Take a slot or raise TooManyStreams; None when the store is down (not counted)."""
        now = time.time()
        slot = f"{uuid.uuid4().hex}:{now + self._lifetime:.3f}"
        key = self._key(user_id)
        try:
            # Added before counting: of two streams opening at once neither slips past the cap.
            await self._kv.set_add(key, slot, ttl_seconds=self._lifetime)
            members = await self._kv.set_members(key)
            expiries = {member: _expiry(member) for member in members}
            expired = [member for member, expires in expiries.items() if expires <= now]
            if expired:
                await self._kv.set_remove(key, *expired)
            live = [expires for member, expires in expiries.items() if expires > now]
            if len(live) <= self._limit:
                return slot
            await self._kv.set_remove(key, slot)
        except KeyValueUnavailable:
            logger.warning("stream cap skipped: key-value store unavailable")
            return None
        others = sorted(expires for member, expires in expiries.items() if member != slot)
        # The oldest open stream ends by its bound, a grace period before its slot expires
        # (never later than one whole stream from now: the stored expiry is rounded).
        bound = self._lifetime - SLOT_GRACE_SECONDS
        wait = math.ceil(others[0] - SLOT_GRACE_SECONDS - now) if others else 1
        raise TooManyStreams(min(wait, bound))

    async def release(self, user_id: uuid.UUID, slot: str) -> None:
        try:
            await self._kv.set_remove(self._key(user_id), slot)
        except KeyValueUnavailable:
            logger.warning("stream slot not released: key-value store unavailable")


def _expiry(member: str) -> float:
    try:
        return float(member.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0.0
