"""Job rules: charge credits through the ledger, honour idempotency keys, cancel and refund."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.storage import object_url
from app.auth.identity import SignedInUser
from app.credits.service import CreditReason, apply_credit_change
from app.jobs import repository
from app.jobs.schemas import JobCreate, JobCreated, JobOut, ModelOut, ParamOut, RenderOut
from app.kit.db import after_commit
from app.kit.errors import Conflict, NotFound, Unprocessable
from app.kit.idempotency import IdempotencyKeyInFlight, IdempotencyKeyReused
from app.kit.pagination import Page, PageParams
from app.models import IdempotencyKey, Job, JobStatus, Project
from app.models.base import utcnow
from app.ports import Ports
from app.projects import repository as projects_repository
from app.projects.service import ProjectNotFound
from app.providers.registry import (
    CATALOGUE,
    QUALITIES,
    InvalidModelParameter,
    ModelSpec,
    get_model,
    is_available,
    require_available,
)

DEFAULT_MODEL = "studio"


class JobNotFound(NotFound):
    message = "Job not found."


class ReferenceRequired(Unprocessable):
    code = "reference_required"
    message = "This model edits an image: add a selfie or a reference image to the project."


class JobAlreadyFinished(Conflict):
    code = "job_finished"
    message = "The job has already finished."


def charge_reference(job_id: uuid.UUID) -> str:
    return f"job:{job_id}:charge"


def refund_reference(job_id: uuid.UUID) -> str:
    return f"job:{job_id}:refund"


def _request_hash(data: JobCreate, instruction: str | None) -> str:
    canonical = json.dumps(
        {**data.model_dump(mode="json"), "instruction": instruction},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_inputs(spec: ModelSpec, project: Project, variants: int) -> None:
    if variants > spec.max_variants:
        raise InvalidModelParameter(
            f"Model '{spec.id}' renders at most {spec.max_variants} variants per job."
        )
    has_picture = bool(
        project.selfie_asset_ids or project.ref_asset_ids or project.copy_target_asset_id
    )
    if spec.needs_reference and not has_picture:
        raise ReferenceRequired()


async def submit_job(
    *,
    session: AsyncSession,
    ports: Ports,
    user: SignedInUser,
    data: JobCreate,
    idempotency_key: str | None = None,
    instruction: str | None = None,
) -> JobCreated:
    """Validate, charge and queue a job in the caller's transaction; dispatch after commit.

    A retried request with the same Idempotency-Key gets exactly the first answer back.
    """
    if instruction is None:
        instruction = data.prompt or None
    request_hash = _request_hash(data, instruction)
    if idempotency_key is not None:
        existing = await repository.find_idempotency_key(
            session, user_id=user.id, key=idempotency_key
        )
        if existing is not None:
            expired = existing.created_at < utcnow() - timedelta(
                hours=ports.settings.idempotency_ttl_hours
            )
            if not expired:
                if existing.request_hash != request_hash:
                    raise IdempotencyKeyReused()
                return JobCreated.model_validate(existing.response_body)
            await repository.delete_idempotency_key(session, existing.id)
            await session.flush()

    project = await projects_repository.get_owned(
        session, user_id=user.id, project_id=data.project_id
    )
    if project is None:
        raise ProjectNotFound()
    spec = get_model(data.model or project.model_pref or DEFAULT_MODEL)
    require_available(spec, ports.settings)
    params = spec.check_params(data.params)
    _check_inputs(spec, project, data.variants)

    job = Job(
        id=uuid.uuid4(),
        user_id=user.id,
        project_id=project.id,
        model=spec.id,
        quality=data.quality,
        variants=data.variants,
        params=params,
        instruction=instruction,
        cost_credits=spec.cost(data.quality, data.variants),
        status=JobStatus.QUEUED.value,
        created_at=utcnow(),
    )
    session.add(job)
    await session.flush()
    created = JobCreated(
        id=job.id,
        status=job.status,
        cost_credits=job.cost_credits,
        project_id=job.project_id,
        model=job.model,
        quality=job.quality,
        variants=job.variants,
        created_at=job.created_at,
    )

    if idempotency_key is not None:
        savepoint = await session.begin_nested()
        try:
            session.add(
                IdempotencyKey(
                    user_id=user.id,
                    key=idempotency_key,
                    request_hash=request_hash,
                    job_id=job.id,
                    response_status=202,
                    response_body=created.model_dump(mode="json"),
                )
            )
            await session.flush()
        except IntegrityError as exc:
            # Another request with the same key committed first (or is about to).
            await savepoint.rollback()
            raise IdempotencyKeyInFlight() from exc
        await savepoint.commit()

    await apply_credit_change(
        session=session,
        user_id=user.id,
        delta=-job.cost_credits,
        reason=CreditReason.JOB_CHARGE,
        reference=charge_reference(job.id),
    )
    await repository.refresh_project_status(session, project.id)

    job_id = job.id

    async def dispatch() -> None:
        await ports.dispatcher.dispatch(job_id)

    after_commit(session, dispatch)
    return created


async def refund_unproduced(session: AsyncSession, job: Job, produced: int) -> int:
    """Give back the credits of the variants that were not delivered, once per job."""
    per_variant = job.cost_credits // job.variants
    amount = job.cost_credits - per_variant * produced
    if amount <= 0:
        return 0
    change = await apply_credit_change(
        session=session,
        user_id=job.user_id,
        delta=amount,
        reason=CreditReason.JOB_REFUND,
        reference=refund_reference(job.id),
    )
    if change.applied:
        job.refunded_credits = amount
        await session.flush()
    return amount if change.applied else 0


async def cancel_job(*, session: AsyncSession, job: Job) -> Job:
    """Queued: canceled and refunded now. Running: stops before its next variant."""
    if JobStatus(job.status).is_final:
        raise JobAlreadyFinished()
    canceled = await repository.finish(
        session,
        job_id=job.id,
        from_status=JobStatus.QUEUED.value,
        attempt=None,
        values={"status": JobStatus.CANCELED.value, "error": "Canceled before it started."},
    )
    if canceled:
        fresh = await repository.get(session, job.id)
        assert fresh is not None
        # A job sent back to the queue after an outage may already hold some renders.
        produced = len(await repository.produced_variants(session, job.id))
        await refund_unproduced(session, fresh, produced)
        await repository.refresh_project_status(session, job.project_id)
        return fresh
    if not await repository.request_cancel(session, job.id):
        raise JobAlreadyFinished()
    fresh = await repository.get(session, job.id)
    assert fresh is not None
    return fresh


async def job_views(session: AsyncSession, ports: Ports, jobs: list[Job]) -> list[JobOut]:
    renders = await repository.renders_for(session, [job.id for job in jobs])
    by_job: dict[uuid.UUID, list[RenderOut]] = {}
    for render in renders:
        url = await object_url(
            ports.storage,
            ports.buckets,
            render.bucket,
            render.path,
            expires_in=ports.settings.signed_url_ttl_seconds,
        )
        by_job.setdefault(render.job_id, []).append(
            RenderOut(variant=render.variant, url=url, width=render.width, height=render.height)
        )
    return [
        JobOut(
            id=job.id,
            project_id=job.project_id,
            model=job.model,
            quality=job.quality,
            variants=job.variants,
            params=job.params,
            instruction=job.instruction,
            status=job.status,
            progress=job.progress,
            error=job.error,
            cost_credits=job.cost_credits,
            refunded_credits=job.refunded_credits,
            cancel_requested=job.cancel_requested,
            renders=by_job.get(job.id, []),
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )
        for job in jobs
    ]


async def list_jobs(
    *,
    session: AsyncSession,
    ports: Ports,
    user_id: uuid.UUID,
    project_id: uuid.UUID | None,
    status: str | None,
    page: PageParams,
) -> Page[JobOut]:
    window = await repository.list_owned(
        session, user_id=user_id, project_id=project_id, status=status, page=page
    )
    return Page.of(window, await job_views(session, ports, window.rows))


def catalogue(ports: Ports) -> list[ModelOut]:
    return [
        ModelOut(
            id=spec.id,
            label=spec.label,
            provider=spec.provider,
            description=spec.description,
            available=is_available(spec, ports.settings),
            credits_per_image=spec.credits_per_image,
            cost_by_quality={quality: spec.cost(quality, 1) for quality in QUALITIES},
            max_variants=spec.max_variants,
            max_selfies=spec.max_selfies,
            max_references=spec.max_references,
            needs_reference=spec.needs_reference,
            params={
                name: ParamOut(
                    type=param.type,
                    description=param.description,
                    minimum=param.minimum,
                    maximum=param.maximum,
                    choices=list(param.choices) or None,
                )
                for name, param in spec.params.items()
            },
            strengths=list(spec.strengths),
        )
        for spec in CATALOGUE
    ]
