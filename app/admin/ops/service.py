"""Admin job rules: look at any job, retry a failed one, refund a succeeded one, audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.admin.ops import repository
from app.admin.ops.repository import JobFilters
from app.admin.ops.schemas import (
    AdminJobDetail,
    AdminJobOut,
    AdminRenderOut,
    AttemptsOut,
    LeaseOut,
    LedgerEntryOut,
)
from app.credits.service import CreditReason, apply_credit_change
from app.jobs import repository as jobs_repository
from app.jobs.service import charge_reference, refund_reference
from app.kit.db import after_commit
from app.kit.errors import Conflict, NotFound, Unprocessable
from app.kit.pagination import InvalidCursor, Page, PageParams
from app.models import Job, JobStatus
from app.models.base import utcnow
from app.ports import Ports


class AdminJobNotFound(NotFound):
    message = "Job not found."


class JobNotFailed(Conflict):
    code = "job_not_failed"
    message = "Only a failed job can be retried."


class JobNotSucceeded(Conflict):
    code = "job_not_succeeded"
    message = "Only a succeeded job can be refunded."


class JobAlreadyRefunded(Conflict):
    code = "job_already_refunded"
    message = "This job has already been refunded."


class InvalidTimeRange(Unprocessable):
    code = "invalid_time_range"
    message = "`created_from` must be before `created_to`."


def admin_refund_reference(job_id: uuid.UUID) -> str:
    """An admin refund's ledger reference: unique, so a job is refunded this way only once."""
    return f"job:{job_id}:admin_refund"


def job_references(job: Job) -> list[str]:
    """Every ledger reference a job can have had: a charge and a refund per round, and an
    admin refund."""
    references = [admin_refund_reference(job.id)]
    for retry in range(job.retries + 1):
        references += [charge_reference(job.id, retry), refund_reference(job.id, retry)]
    return references


async def list_jobs(
    *,
    session: AsyncSession,
    filters: JobFilters,
    sort: str,
    order: str,
    page: PageParams,
) -> Page[AdminJobOut]:
    if (
        filters.created_from is not None
        and filters.created_to is not None
        and filters.created_from >= filters.created_to
    ):
        raise InvalidTimeRange()
    if page.cursor is not None and sort in ("status", "model"):
        raise InvalidCursor("This order pages by `offset`; `cursor` pages the time orders.")
    window = await repository.list_jobs(session, filters=filters, sort=sort, order=order, page=page)
    return Page.of(window, [AdminJobOut.model_validate(job) for job in window.rows])


async def get_job(session: AsyncSession, job_id: uuid.UUID) -> Job:
    job = await repository.get_job(session, job_id)
    if job is None:
        raise AdminJobNotFound()
    return job


async def job_detail(*, session: AsyncSession, ports: Ports, job: Job) -> AdminJobDetail:
    renders = await repository.renders_of(session, job.id)
    ledger = await repository.ledger_entries(session, job_references(job))
    now = utcnow()
    return AdminJobDetail(
        **AdminJobOut.model_validate(job).model_dump(),
        params=job.params,
        instruction=job.instruction,
        cancel_requested=job.cancel_requested,
        error_detail=job.error_detail,
        error_retryable=job.error_retryable,
        lease=LeaseOut(
            holder=job.lease_holder,
            expires_at=job.lease_until,
            expired=job.lease_until is not None and job.lease_until < now,
        ),
        attempt_counts=AttemptsOut(
            current_round=job.attempts,
            earlier_rounds=job.prior_attempts,
            total=job.attempts + job.prior_attempts,
            max_per_round=ports.settings.job_max_attempts,
        ),
        renders=[AdminRenderOut.model_validate(render) for render in renders],
        ledger=[LedgerEntryOut.model_validate(entry) for entry in ledger],
    )


def job_state(job: Job) -> dict[str, object]:
    """What the audit trail keeps of a job before and after an action."""
    return {
        "status": job.status,
        "attempts": job.attempts,
        "retries": job.retries,
        "cost_credits": job.cost_credits,
        "refunded_credits": job.refunded_credits,
    }


async def retry_job(*, session: AsyncSession, ports: Ports, job: Job) -> tuple[Job, int]:
    """Queue a failed job for a new round of attempts; dispatched after the commit.

    The credits its failure refunded are charged again (under this round's reference), so a
    person who cannot pay any more gets 402 and the job stays failed. Returns the job as it is
    now and the credits charged.
    """
    if job.status != JobStatus.FAILED.value:
        raise JobNotFailed()
    refunded = job.refunded_credits
    if not await repository.requeue_failed(session, job=job):
        raise JobNotFailed()
    retry = job.retries + 1
    if refunded > 0:
        await apply_credit_change(
            session=session,
            user_id=job.user_id,
            delta=-refunded,
            reason=CreditReason.JOB_CHARGE,
            reference=charge_reference(job.id, retry),
        )
    await jobs_repository.refresh_project_status(session, job.project_id)
    fresh = await get_job(session, job.id)
    job_id, attempt = fresh.id, fresh.prior_attempts

    async def dispatch() -> None:
        await ports.dispatcher.dispatch(job_id, attempt=attempt)

    after_commit(session, dispatch)
    return fresh, refunded


async def refund_job(*, session: AsyncSession, job: Job) -> tuple[Job, int]:
    """Give back what a succeeded job cost, once: the job row and the ledger's unique
    reference both refuse a second refund, concurrent ones included."""
    if job.status != JobStatus.SUCCEEDED.value:
        raise JobNotSucceeded()
    amount = job.cost_credits - job.refunded_credits
    if amount <= 0:
        raise JobAlreadyRefunded()
    if not await repository.mark_refunded(session, job=job, amount=amount):
        # Another refund (or a change of status) committed after this request read the job.
        raise JobAlreadyRefunded()
    change = await apply_credit_change(
        session=session,
        user_id=job.user_id,
        delta=amount,
        reason=CreditReason.JOB_REFUND,
        reference=admin_refund_reference(job.id),
    )
    if not change.applied:
        raise JobAlreadyRefunded()
    return await get_job(session, job.id), amount


def aware(value: datetime | None) -> datetime | None:
    """Query times without a zone are read as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
