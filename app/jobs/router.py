"""HTTP routes of `/jobs` (submit, follow, cancel) and `/models` (the catalogue)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from app.auth.deps import AUTHED, CurrentUser
from app.config import API_PREFIX
from app.credits.service import InsufficientCredits
from app.deps import PortsDep, SessionDep
from app.jobs import service
from app.jobs.deps import OwnedJob, StreamCursorDep, StreamSettingsDep, StreamSlot
from app.jobs.downloads import RenderNotFound, content_disposition, locate_download
from app.jobs.events import InvalidLastEventId, TooManyStreams, job_event_stream
from app.jobs.schemas import JobCreate, JobCreated, JobOut, ModelOut
from app.kit.errors import responses
from app.kit.idempotency import IdempotencyKeyHeader, IdempotencyKeyInFlight, IdempotencyKeyReused
from app.kit.pagination import InvalidCursor, Page, PageParamsDep
from app.models import JobStatus
from app.projects.service import ProjectNotFound
from app.providers.registry import InvalidModelParameter, ModelUnavailable, UnknownModel

router = APIRouter(prefix=API_PREFIX, tags=["jobs"])
NOT_FOUND = responses(service.JobNotFound)


@router.get("/models", response_model=list[ModelOut])
async def list_models(ports: PortsDep) -> list[ModelOut]:
    """Every image model with its cost and whether this server has the key it needs."""
    return service.catalogue(ports)


@router.post(
    "/jobs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobCreated,
    responses={
        **AUTHED,
        **responses(
            InsufficientCredits,
            ProjectNotFound,
            UnknownModel,
            ModelUnavailable,
            InvalidModelParameter,
            service.ReferenceRequired,
            IdempotencyKeyReused,
            IdempotencyKeyInFlight,
        ),
    },
)
async def submit_job(
    body: JobCreate,
    user: CurrentUser,
    session: SessionDep,
    ports: PortsDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JobCreated:
    """Charge the credits and queue the job; follow it with GET /jobs/{id} or its events."""
    return await service.submit_job(
        session=session, ports=ports, user=user, data=body, idempotency_key=idempotency_key
    )


@router.get("/jobs", response_model=Page[JobOut], responses={**AUTHED, **responses(InvalidCursor)})
async def list_jobs(
    user: CurrentUser,
    session: SessionDep,
    ports: PortsDep,
    page: PageParamsDep,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    project_id: uuid.UUID | None = None,
) -> Page[JobOut]:
    """The caller's job history, newest first; filter by status or project."""
    return await service.list_jobs(
        session=session,
        ports=ports,
        user_id=user.id,
        project_id=project_id,
        status=status_filter.value if status_filter else None,
        page=page,
    )


@router.get("/jobs/{job_id}", response_model=JobOut, responses={**AUTHED, **NOT_FOUND})
async def get_job(job: OwnedJob, session: SessionDep, ports: PortsDep) -> JobOut:
    [view] = await service.job_views(session, ports, [job])
    return view


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobOut,
    responses={**AUTHED, **NOT_FOUND, **responses(service.JobAlreadyFinished)},
)
async def cancel_job(job: OwnedJob, session: SessionDep, ports: PortsDep) -> JobOut:
    """Queued: canceled and refunded. Running: stops before the next variant, refunds the rest."""
    updated = await service.cancel_job(session=session, job=job)
    [view] = await service.job_views(session, ports, [updated])
    return view


@router.get(
    "/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses={**AUTHED, **NOT_FOUND, **responses(InvalidLastEventId, TooManyStreams)},
)
async def job_events(
    job: OwnedJob,
    ports: PortsDep,
    cursor: StreamCursorDep,
    stream: StreamSettingsDep,
    _slot: StreamSlot,
) -> AsyncIterable[ServerSentEvent]:
    """Server-sent events: `render` ({variant, url, width, height}) as each variant lands,
    `status` when status or progress changes, and `end` with the final state.

    Each stream ends after `SSE_MAX_SECONDS` and EventSource reconnects (`retry:`), resuming
    after its `Last-Event-ID`; close the EventSource on `end`. At most
    `SSE_MAX_STREAMS_PER_USER` streams per user are open at once (429 beyond).
    """
    async for event in job_event_stream(ports=ports, job_id=job.id, cursor=cursor, stream=stream):
        yield event


@router.get(
    "/jobs/{job_id}/renders/{variant}/download",
    response_class=FileResponse,
    responses={
        **AUTHED,
        **NOT_FOUND,
        **responses(RenderNotFound),
        200: {
            "description": "The file, as an attachment named after the project's headline.",
            "content": {
                "image/jpeg": {},
                "image/png": {},
                "image/webp": {},
                "video/mp4": {},
            },
        },
        307: {"description": "Cloud storage: fetch the attachment from this `Location`."},
    },
)
async def download_render(
    job: OwnedJob,
    session: SessionDep,
    ports: PortsDep,
    variant: Annotated[int, Path(ge=0, le=3)],
) -> Response:
    """Save one render under a name from the headline (`Content-Disposition: attachment`).

    With local storage the API streams the file; with Supabase Storage it redirects (307) to a
    short-lived Storage URL that answers with the same attachment headers, so large videos never
    pass through the API function.
    """
    found = await locate_download(session=session, ports=ports, job=job, variant=variant)
    disposition = content_disposition(found.filename)
    if found.redirect_url is not None:
        return RedirectResponse(
            found.redirect_url,
            status_code=status.HTTP_307_TEMPORARY_REDIRECT,
            headers={"Cache-Control": "private, no-store"},
        )
    assert found.local_file is not None
    return FileResponse(
        found.local_file,
        media_type=found.content_type,
        headers={"Content-Disposition": disposition, "Cache-Control": "private, max-age=3600"},
    )
