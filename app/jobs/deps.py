"""`OwnedJob`: the job in the path, loaded for its owner only (else 404); and what its event
stream needs before it starts: the resume point and a slot under the per-user cap."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from anyio import CancelScope
from fastapi import Depends, Header

from app.auth.deps import CurrentUser
from app.config import Platform
from app.deps import PortsDep, SessionDep
from app.jobs import repository
from app.jobs.events import StreamCursor, StreamSettings, StreamSlots
from app.jobs.service import JobNotFound
from app.models import Job


async def get_owned_job(job_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Job:
    job = await repository.get_owned(session, user_id=user.id, job_id=job_id)
    if job is None:
        raise JobNotFound()
    return job


OwnedJob = Annotated[Job, Depends(get_owned_job)]


def get_stream_cursor(
    job: OwnedJob,
    last_event_id: Annotated[
        str | None,
        Header(max_length=200, description="Sent by EventSource on reconnect: resume after it."),
    ] = None,
) -> StreamCursor:
    if not last_event_id:
        return StreamCursor()
    return StreamCursor.parse(last_event_id, job=job)


StreamCursorDep = Annotated[StreamCursor, Depends(get_stream_cursor)]


def get_stream_settings(ports: PortsDep) -> StreamSettings:
    settings = ports.settings
    return StreamSettings(
        max_seconds=settings.event_stream_seconds,
        end_after_news=settings.platform is Platform.AWS_LAMBDA,
    )


StreamSettingsDep = Annotated[StreamSettings, Depends(get_stream_settings)]


async def hold_stream_slot(
    job: OwnedJob, user: CurrentUser, ports: PortsDep, stream: StreamSettingsDep
) -> AsyncIterator[None]:
    """Count the stream against the caller's cap while it is open (429 beyond it).

    Takes the job first, so another user's id is 404 without taking a slot.
    """
    slots = StreamSlots(
        ports.kv,
        limit=ports.settings.sse_max_streams_per_user,
        stream_seconds=stream.max_seconds,
    )
    slot = await slots.acquire(user.id)
    try:
        yield
    finally:
        if slot is not None:
            # Also after a disconnect, when the request's scope is being cancelled.
            with CancelScope(shield=True):
                await slots.release(user.id, slot)


# Request scope: the slot is held until the response has been streamed, not only until the
# handler returns the stream.
StreamSlot = Annotated[None, Depends(hold_stream_slot, scope="request")]
