"""Job rules: charge credits through the ledger, honour idempotency keys, cancel and refund."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.storage import object_url
from app.auth.identity import SignedInUser
from app.config import API_PREFIX, Settings
from app.credits.service import CreditReason, apply_credit_change
from app.jobs import repository
from app.jobs.delivery import delivery_for
from app.jobs.schemas import JobCreate, JobCreated, JobOut, ModelOut, ParamOut, RenderOut
from app.kit.db import after_commit
from app.kit.errors import Conflict, NotFound, Unprocessable
from app.kit.idempotency import IdempotencyKeyInFlight, IdempotencyKeyReused
from app.kit.pagination import Page, PageParams
from app.models import IdempotencyKey, Job, JobStatus, Project, Render
from app.models.base import utcnow
from app.ports import Ports
from app.projects import repository as projects_repository
from app.projects.service import ProjectNotFound
from app.providers.registry import (
    CATALOGUE,
    InvalidModelParameter,
    ModelSpec,
    get_model,
    is_available,
    require_available,
)

DEFAULT_MODEL = "studio"
DEFAULT_VIDEO_MODEL = "studio_motion"
# Stored content type -> the format a render reports.
_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/webp": "webp",
    "video/mp4": "mp4",
}


class JobNotFound(NotFound):
    message = "Job not found."


class ReferenceRequired(Unprocessable):
    code = "reference_required"
    message = "This model edits an image: add a selfie or a reference image to the project."


class JobAlreadyFinished(Conflict):
    code = "job_finished"
    message = "The job has already finished."


def charge_reference(job_id: uuid.UUID, retry: int = 0) -> str:
    """The ledger reference of a job's charge; each admin retry is charged under its own."""
    return f"job:{job_id}:charge" if retry == 0 else f"job:{job_id}:charge:{retry}"


def refund_reference(job_id: uuid.UUID, retry: int = 0) -> str:
    """The reference of a run's refund: once per job, and once more per admin retry."""
    return f"job:{job_id}:refund" if retry == 0 else f"job:{job_id}:refund:{retry}"


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


@dataclass(frozen=True, slots=True)
class Output:
    """What a job will deliver, checked against its model."""

    kind: str
    quality: str
    format: str | None
    duration: int | None
    aspect_ratio: str | None


def _choose_model(data: JobCreate, project: Project, settings: Settings) -> ModelSpec:
    if data.model:
        return get_model(data.model, settings)
    if data.kind == "video":
        return get_model(DEFAULT_VIDEO_MODEL)
    spec = get_model(project.model_pref or DEFAULT_MODEL)
    if data.kind == "image" and spec.kind != "image":
        return get_model(DEFAULT_MODEL)
    return spec


def _check_output(spec: ModelSpec, project: Project, data: JobCreate) -> Output:
    kind = data.kind or spec.kind
    if kind != spec.kind:
        raise InvalidModelParameter(f"Model '{spec.id}' makes {spec.kind}s, not {kind}s.")
    quality = spec.check_quality(data.quality)
    if spec.kind == "image":
        if data.duration is not None or data.aspect_ratio is not None:
            raise InvalidModelParameter(
                "'duration' and 'aspect_ratio' are for video jobs; an image takes the "
                "project's size."
            )
        image_format = data.format or delivery_for(project.platform).format
        return Output("image", quality, image_format, None, None)
    if data.format is not None:
        raise InvalidModelParameter(
            f"Model '{spec.id}' makes videos in its own format; 'format' is for images."
        )
    duration = spec.check_duration(data.duration)
    ratio = spec.check_aspect_ratio(data.aspect_ratio, project.width, project.height)
    return Output("video", quality, None, duration, ratio)


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
    spec = _choose_model(data, project, ports.settings)
    require_available(spec, ports.settings)
    params = spec.check_params(data.params)
    _check_inputs(spec, project, data.variants)
    output = _check_output(spec, project, data)

    job = Job(
        id=uuid.uuid4(),
        user_id=user.id,
        project_id=project.id,
        model=spec.id,
        kind=output.kind,
        quality=output.quality,
        variants=data.variants,
        params=params,
        instruction=instruction,
        output_format=output.format,
        duration_seconds=output.duration,
        aspect_ratio=output.aspect_ratio,
        cost_credits=spec.cost(output.quality, data.variants, output.duration),
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
        kind=job.kind,
        format=job.output_format,
        duration=job.duration_seconds,
        aspect_ratio=job.aspect_ratio,
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
    """Give back the credits of the variants that were not delivered, once per job.

    What the delivered variants cost is rounded up, so a draft job whose total was rounded
    up to whole credits never refunds more than it charged for what was left undone.
    """
    amount = job.cost_credits - math.ceil(job.cost_credits * produced / job.variants)
    if amount <= 0:
        return 0
    change = await apply_credit_change(
        session=session,
        user_id=job.user_id,
        delta=amount,
        reason=CreditReason.JOB_REFUND,
        reference=refund_reference(job.id, job.retries),
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


def download_path(job_id: uuid.UUID, variant: int) -> str:
    return f"{API_PREFIX}/jobs/{job_id}/renders/{variant}/download"


async def render_view(ports: Ports, render: Render) -> RenderOut:
    async def url_of(path: str) -> str:
        return await object_url(
            ports.storage,
            ports.buckets,
            render.bucket,
            path,
            expires_in=ports.settings.signed_url_ttl_seconds,
        )

    return RenderOut(
        variant=render.variant,
        url=await url_of(render.path),
        width=render.width,
        height=render.height,
        format=_FORMATS.get(render.content_type, render.content_type.rpartition("/")[2]),
        content_type=render.content_type,
        size_bytes=render.size_bytes,
        download_url=ports.settings.public_base_url.rstrip("/")
        + download_path(render.job_id, render.variant),
        poster_url=await url_of(render.poster_path) if render.poster_path else None,
    )


async def job_views(session: AsyncSession, ports: Ports, jobs: list[Job]) -> list[JobOut]:
    renders = await repository.renders_for(session, [job.id for job in jobs])
    by_job: dict[uuid.UUID, list[RenderOut]] = {}
    for render in renders:
        by_job.setdefault(render.job_id, []).append(await render_view(ports, render))
    return [
        JobOut(
            id=job.id,
            project_id=job.project_id,
            model=job.model,
            kind=job.kind,
            quality=job.quality,
            variants=job.variants,
            format=job.output_format,
            duration=job.duration_seconds,
            aspect_ratio=job.aspect_ratio,
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
            kind=spec.kind,
            description=spec.description,
            available=is_available(spec, ports.settings),
            credits_per_image=spec.credits_per_image,
            cost_by_quality={quality: spec.cost(quality, 1) for quality in spec.qualities},
            qualities=list(spec.qualities),
            credits_per_second=spec.credits_per_second or None,
            durations=list(spec.durations) or None,
            aspect_ratios=list(spec.aspect_ratios) or None,
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
