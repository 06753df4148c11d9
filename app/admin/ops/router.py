"""HTTP routes of `/admin/jobs`, `/admin/stats` and `/admin/metrics/*`; every one admin-only."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Body, Query
from fastapi.openapi.models import Example

from app.admin.audit import AdminActionName, AuditTarget, record_admin_action
from app.admin.deps import AdminRouter, AuditActorDep
from app.admin.ops import metrics, service, stats
from app.admin.ops.repository import JobFilters
from app.admin.ops.schemas import (
    AdminJobDetail,
    AdminJobOut,
    DatabaseMetricsOut,
    JobSort,
    RefundIn,
    RetryIn,
    SortOrder,
    StatsOut,
    StatsWindow,
    SystemMetricsOut,
)
from app.admin.schemas import IsoDateTime
from app.credits.service import InsufficientCredits
from app.deps import KVDep, PortsDep, SessionDep
from app.kit.errors import responses
from app.kit.pagination import InvalidCursor, Page, PageParamsDep
from app.models import JobStatus

router = AdminRouter()
NOT_FOUND = responses(service.AdminJobNotFound)
RETRY_EXAMPLES: dict[str, Example] = {
    "with_reason": {
        "summary": "A retry with a note for the audit trail",
        "value": {"reason": "Provider outage is over; run it again."},
    },
    "bare": {"summary": "No note (the body may also be left out)", "value": {}},
}
REFUND_EXAMPLES: dict[str, Example] = {
    "refund": {
        "summary": "Credits back for a job whose renders were unusable",
        "value": {"reason": "The renders were blank; refunded."},
    }
}
ModelFilter = Annotated[str | None, Query(min_length=1, max_length=40, description="Model id.")]


@router.get(
    "/jobs",
    response_model=Page[AdminJobOut],
    responses=responses(InvalidCursor, service.InvalidTimeRange),
)
async def list_jobs(
    session: SessionDep,
    page: PageParamsDep,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    model: ModelFilter = None,
    user_id: uuid.UUID | None = None,
    created_from: Annotated[
        IsoDateTime | None, Query(description="Created at or after (ISO 8601; UTC if no zone).")
    ] = None,
    created_to: Annotated[
        IsoDateTime | None, Query(description="Created before (ISO 8601; UTC if no zone).")
    ] = None,
    sort: JobSort = "created_at",
    order: SortOrder = "desc",
) -> Page[AdminJobOut]:
    """Every user's jobs, filtered and sorted. Time orders page by `cursor` or `offset`;
    status and model orders by `offset`."""
    filters = JobFilters(
        status=status_filter.value if status_filter else None,
        model=model,
        user_id=user_id,
        created_from=service.aware(created_from),
        created_to=service.aware(created_to),
    )
    return await service.list_jobs(
        session=session, filters=filters, sort=sort, order=order, page=page
    )


@router.get("/jobs/{job_id}", response_model=AdminJobDetail, responses=NOT_FOUND)
async def get_job(job_id: uuid.UUID, session: SessionDep, ports: PortsDep) -> AdminJobDetail:
    """The job with its attempts, lease, renders, ledger rows and the failure details its
    owner never sees."""
    job = await service.get_job(session, job_id)
    return await service.job_detail(session=session, ports=ports, job=job)


@router.post(
    "/jobs/{job_id}/retry",
    response_model=AdminJobDetail,
    responses={**NOT_FOUND, **responses(service.JobNotFailed, InsufficientCredits)},
)
async def retry_job(
    job_id: uuid.UUID,
    session: SessionDep,
    ports: PortsDep,
    actor: AuditActorDep,
    body: Annotated[RetryIn | None, Body(openapi_examples=RETRY_EXAMPLES)] = None,
) -> AdminJobDetail:
    """Run a failed job again through the dispatcher. What its failure refunded is charged
    again (402 if its owner can no longer pay); 409 unless the job is failed. Audited."""
    job = await service.get_job(session, job_id)
    before = service.job_state(job)
    updated, charged = await service.retry_job(session=session, ports=ports, job=job)
    await record_admin_action(
        session=session,
        actor=actor,
        action=AdminActionName.JOB_RETRY,
        target_type=AuditTarget.JOB,
        target_id=job_id,
        reason=body.reason if body else None,
        before=before,
        after={**service.job_state(updated), "charged_credits": charged},
    )
    return await service.job_detail(session=session, ports=ports, job=updated)


@router.post(
    "/jobs/{job_id}/refund",
    response_model=AdminJobDetail,
    responses={
        **NOT_FOUND,
        **responses(service.JobNotSucceeded, service.JobAlreadyRefunded),
    },
)
async def refund_job(
    job_id: uuid.UUID,
    body: Annotated[RefundIn, Body(openapi_examples=REFUND_EXAMPLES)],
    session: SessionDep,
    ports: PortsDep,
    actor: AuditActorDep,
) -> AdminJobDetail:
    """Give back the credits of a succeeded job, exactly once (409 after that). Audited."""
    job = await service.get_job(session, job_id)
    before = service.job_state(job)
    updated, amount = await service.refund_job(session=session, job=job)
    await record_admin_action(
        session=session,
        actor=actor,
        action=AdminActionName.JOB_REFUND,
        target_type=AuditTarget.JOB,
        target_id=job_id,
        reason=body.reason,
        before=before,
        after={**service.job_state(updated), "refunded_now": amount},
    )
    return await service.job_detail(session=session, ports=ports, job=updated)


@router.get("/stats", response_model=StatsOut)
async def get_stats(
    session: SessionDep,
    kv: KVDep,
    ports: PortsDep,
    window: StatsWindow = "24h",
    fresh: Annotated[bool, Query(description="Skip the 60-second cache.")] = False,
) -> StatsOut:
    """Users, jobs, credits and revenue over the window, counted in one database query and
    cached for 60 seconds (`fresh=1` counts now)."""
    return await stats.get_stats(
        session=session, kv=kv, window=window, fresh=fresh, database=ports.database
    )


@router.get("/metrics/database", response_model=DatabaseMetricsOut)
async def database_metrics(session: SessionDep, ports: PortsDep) -> DatabaseMetricsOut:
    """The connection pool (size, checked in and out, overflow), dialect and server version."""
    return await metrics.database_metrics(session=session, ports=ports)


@router.get("/metrics/system", response_model=SystemMetricsOut)
async def system_metrics(session: SessionDep, ports: PortsDep) -> SystemMetricsOut:
    """The job queue (queued, running, oldest queued, stale leases), the dispatch adapter and
    when the sweeper last ran."""
    return await metrics.system_metrics(session=session, ports=ports)
