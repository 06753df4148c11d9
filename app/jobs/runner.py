"""Running a job: claim it under a lease, render each variant, store it, finish exactly once.

Every step that changes the job is a conditional UPDATE keyed on the attempt number that
claimed it, so a runner whose lease expired (and whose job another runner took over) can no
longer write progress, renders or the final state. Variants already stored are skipped, so a
re-run after a crash resumes where the last one stopped.

The missing variants render concurrently, each holding one of its provider's slots (the
provider's concurrency limit, shared by every job in the process). A variant checks for a cancel
request when it gets its slot; after a cancel or a failure no new variant starts, and those
already rendering finish and are stored, so the refund counts exactly what was delivered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy.exc import IntegrityError

from app.adapters.storage import ObjectNotFound, ObjectRejected, StorageUnavailable
from app.assets import repository as assets_repository
from app.chat.directions import Style, apply_edit, parse_directions, project_style
from app.jobs import repository
from app.jobs.clips import clip_size, make_clip
from app.jobs.delivery import delivery_for
from app.jobs.imaging import EXTENSIONS, ImageFormat, deliver_still
from app.jobs.service import refund_unproduced
from app.kit.db import transaction
from app.models import Asset, Job, JobStatus, Project, Render
from app.providers.base import Brief, InputImage, ProviderError, RenderRequest
from app.providers.prompt import build_prompt
from app.providers.registry import ModelSpec, UnknownModel, get_model, render_size

if TYPE_CHECKING:
    from app.ports import Ports

logger = logging.getLogger("app.jobs")

UNEXPECTED_FAILURE = "Rendering failed unexpectedly. Your credits for it were refunded."
INPUT_MISSING = "A photo used by this project was deleted. Update the project and try again."
CANCELED = "Canceled."
STORAGE_REFUSED = "The render could not be stored. Your credits for it were refunded."
STORAGE_DOWN = "Renders could not be saved. Your credits for the missing ones were refunded."


# Admin-only failure kinds, stored beside the message the person sees.
FAILED_PROVIDER = "provider_error"
FAILED_UNEXPECTEDLY = "unexpected_error"
FAILED_STORAGE_REFUSED = "storage_refused"
FAILED_STORAGE_DOWN = "storage_unavailable"
MAX_ERROR_DETAIL_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a run failed, for admins: never shown to the person whose job it was."""

    kind: str
    detail: str
    retryable: bool | None = None

    def values(self) -> dict[str, object]:
        return {
            "error_kind": self.kind,
            "error_detail": self.detail[:MAX_ERROR_DETAIL_CHARS],
            "error_retryable": self.retryable,
        }


def runner_identity() -> str:
    """Who holds a lease: this host and process, as an admin can look them up."""
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


class LostLease(Exception):
    """Another runner owns the job now; this one stops without touching it."""


@dataclass(frozen=True, slots=True)
class RunPlan:
    job: Job
    spec: ModelSpec
    brief: Brief
    prompt: str
    images: tuple[InputImage, ...]
    max_bytes: int  # the platform's upload limit, which lossy stills are fitted under


@dataclass(frozen=True, slots=True)
class StoredFile:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    poster: bytes | None = None  # a video's still frame, stored beside it as JPEG


def _side(value: str | None) -> Literal["left", "right"] | None:
    return "left" if value == "left" else "right" if value == "right" else None


def planned_style(project: Project, instruction: str | None) -> Style:
    """The project's style with the job's own directions over it (the project stays as is)."""
    style = project_style(project)
    if instruction:
        style, _ = apply_edit(style, parse_directions(instruction), source="parser")
    return style


async def _load_images(ports: Ports, spec: ModelSpec, assets: list[Asset]) -> list[InputImage]:
    images = []
    for asset in assets:
        try:
            data = await ports.storage.get(asset.bucket, asset.path)
        except ObjectNotFound as exc:
            raise ProviderError(INPUT_MISSING, retryable=False, internal=str(asset.id)) from exc
        role = {"selfie": "selfie", "copy_target": "copy_target"}.get(asset.type, "reference")
        images.append(InputImage(data=data, content_type=asset.content_type, role=role))  # type: ignore[arg-type]
    return images


async def _plan(ports: Ports, job: Job) -> RunPlan:
    async with ports.database.sessionmaker() as session:
        project = await session.get(Project, job.project_id)
        if project is None:
            raise ProviderError(INPUT_MISSING, retryable=False, internal="project gone")
        spec = get_model(job.model)
        selfie_ids = [uuid.UUID(i) for i in project.selfie_asset_ids][: spec.max_selfies]
        ref_ids = [uuid.UUID(i) for i in project.ref_asset_ids][: spec.max_references]
        wanted = selfie_ids + ref_ids
        if project.copy_target_asset_id is not None:
            wanted.append(project.copy_target_asset_id)
        found = {
            asset.id: asset
            for asset in await assets_repository.get_owned_assets(
                session, user_id=job.user_id, ids=wanted
            )
        }
    if len(found) < len(set(wanted)):
        raise ProviderError(INPUT_MISSING, retryable=False, internal="asset row gone")
    images = await _load_images(ports, spec, [found[i] for i in dict.fromkeys(wanted)])
    if job.kind == "video" and job.aspect_ratio:
        width, height = clip_size(spec, job.quality, job.aspect_ratio)
    else:
        width, height = render_size(project.width, project.height, job.quality)
    style = planned_style(project, job.instruction)
    brief = Brief(
        platform=project.platform,
        width=width,
        height=height,
        headline=style.headline,
        subtext=style.subtext,
        vibe=style.vibe,
        mode="copy" if project.mode == "copy" else "design",
        instruction=job.instruction,
        background_color=style.background_color,
        accent_color=style.accent_color,
        headline_scale=style.headline_scale,
        person_side=_side(style.person_side),
    )
    prompt = build_prompt(
        brief,
        selfies=sum(1 for image in images if image.role == "selfie"),
        references=sum(1 for image in images if image.role != "selfie"),
    )
    return RunPlan(
        job=job,
        spec=spec,
        brief=brief,
        prompt=prompt,
        images=tuple(images),
        max_bytes=delivery_for(project.platform).max_bytes,
    )


async def _make_file(ports: Ports, plan: RunPlan, request: RenderRequest) -> StoredFile:
    """The file to store for one variant: the clip of a video job, else the delivered still."""
    job = plan.job
    if job.kind == "video":
        clip = await make_clip(ports, job, plan.spec, request)
        return StoredFile(
            clip.data, clip.content_type, clip.extension, clip.width, clip.height, clip.poster.data
        )
    output = await ports.providers.for_model(plan.spec).render(request)
    # Rows from before formats existed have none: they were PNG.
    image_format: ImageFormat = job.output_format or "png"  # type: ignore[assignment]
    still = await ports.providers.render_pool.run(
        deliver_still, output, plan.brief.width, plan.brief.height, image_format, plan.max_bytes
    )
    return StoredFile(
        still.data, still.content_type, EXTENSIONS[still.format], still.width, still.height
    )


async def _store_variant(
    ports: Ports, plan: RunPlan, attempt: int, variant: int, produced: set[int]
) -> None:
    """Render one variant, store it, and record it with the job's progress."""
    job = plan.job
    request = RenderRequest(
        model_id=plan.spec.id,
        provider_model=plan.spec.provider_model,
        brief=plan.brief,
        prompt=plan.prompt,
        quality=job.quality,
        images=plan.images,
        params=job.params,
        seed=str(job.id),
        variant=variant,
        duration=job.duration_seconds,
        aspect_ratio=job.aspect_ratio,
    )
    stored = await _make_file(ports, plan, request)
    bucket = ports.buckets.renders.name
    # A random part keeps render URLs unguessable although the bucket is public-read.
    stem = f"{job.user_id}/{job.id}/{variant}-{secrets.token_urlsafe(12)}"
    path = f"{stem}.{stored.extension}"
    poster_path = f"{stem}-poster.jpg" if stored.poster is not None else None
    paths = [path]
    await ports.storage.put(
        bucket, path, stored.data, content_type=stored.content_type, upsert=False
    )
    try:
        if poster_path is not None and stored.poster is not None:
            paths.append(poster_path)
            await ports.storage.put(
                bucket, poster_path, stored.poster, content_type="image/jpeg", upsert=False
            )
    except BaseException:
        await ports.storage.delete(bucket, paths)
        raise
    try:
        async with transaction(ports.database.sessionmaker) as session:
            session.add(
                Render(
                    job_id=job.id,
                    user_id=job.user_id,
                    variant=variant,
                    bucket=bucket,
                    path=path,
                    width=stored.width,
                    height=stored.height,
                    content_type=stored.content_type,
                    size_bytes=len(stored.data),
                    poster_path=poster_path,
                )
            )
            await session.flush()
            # Counted in the database: variants running beside this one may have committed.
            delivered = len(await repository.produced_variants(session, job.id))
            progress = round(100 * delivered / job.variants)
            if not await repository.record_progress(
                session,
                job_id=job.id,
                attempt=attempt,
                progress=min(progress, 99),
                lease_seconds=ports.settings.job_lease_seconds,
            ):
                raise LostLease()
    except (LostLease, IntegrityError):
        await ports.storage.delete(bucket, paths)
        raise LostLease() from None
    produced.add(variant)


async def _finish(
    ports: Ports,
    job: Job,
    attempt: int,
    status: JobStatus,
    error: str | None = None,
    failure: Failure | None = None,
) -> None:
    async with transaction(ports.database.sessionmaker) as session:
        produced = len(await repository.produced_variants(session, job.id))
        values: dict[str, object] = {"status": status.value, "error": error}
        if failure is not None:
            values.update(failure.values())
        if status is JobStatus.SUCCEEDED:
            values["progress"] = 100
        if not await repository.finish(
            session,
            job_id=job.id,
            from_status=JobStatus.RUNNING.value,
            attempt=attempt,
            values=values,
        ):
            return
        if status is not JobStatus.SUCCEEDED:
            fresh = await repository.get(session, job.id)
            assert fresh is not None
            await refund_unproduced(session, fresh, produced)
        await repository.refresh_project_status(session, job.project_id)
    logger.info(
        "job finished", extra={"job_id": str(job.id), "status": status.value, "attempt": attempt}
    )


async def _release_or_fail(
    ports: Ports, job: Job, attempt: int, failure: Failure
) -> JobStatus | None:
    """After a transient outage: back to the queue while attempts remain, else failed."""
    if attempt >= ports.settings.job_max_attempts:
        await _finish(ports, job, attempt, JobStatus.FAILED, STORAGE_DOWN, failure)
        return JobStatus.FAILED
    async with transaction(ports.database.sessionmaker) as session:
        if not await repository.release(session, job_id=job.id, attempt=attempt):
            return None
        await repository.refresh_project_status(session, job.project_id)
    return JobStatus.QUEUED


async def _render_missing(ports: Ports, plan: RunPlan, attempt: int, produced: set[int]) -> bool:
    """Render every variant not stored yet; return True if a cancel request stopped it.

    The first failure is raised once the variants already rendering have finished.
    """
    job = plan.job
    slots = ports.providers.slots(plan.spec)
    failures: list[Exception] = []
    stopped = asyncio.Event()
    canceled = False

    async def render(variant: int) -> None:
        nonlocal canceled
        async with slots:
            if stopped.is_set():
                return
            try:
                # The check's session must be closed before finishing opens another one: on
                # SQLite each holds the write lock for as long as it is open.
                async with ports.database.sessionmaker() as session:
                    cancel = await repository.cancel_requested(session, job.id)
                if cancel:
                    canceled = True
                    stopped.set()
                    return
                await _store_variant(ports, plan, attempt, variant, produced)
            except Exception as error:
                failures.append(error)
                stopped.set()

    await asyncio.gather(*(render(v) for v in range(job.variants) if v not in produced))
    if failures:
        raise failures[0]
    return canceled


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _provider_name(job: Job) -> str:
    """The provider behind the job's model, naming where a provider error came from."""
    try:
        return get_model(job.model).provider
    except UnknownModel:
        return job.model


async def claim_job(ports: Ports, job_id: uuid.UUID) -> Job | None:
    async with transaction(ports.database.sessionmaker) as session:
        job = await repository.claim(
            session,
            job_id=job_id,
            lease_seconds=ports.settings.job_lease_seconds,
            max_attempts=ports.settings.job_max_attempts,
            holder=runner_identity(),
        )
        if job is not None:
            await repository.refresh_project_status(session, job.project_id)
        return job


async def run_job(ports: Ports, job_id: uuid.UUID) -> JobStatus | None:
    """Run the job if it can be claimed; return how it ended, or None if not claimed here.

    QUEUED means a transient outage sent the job back to the queue for a later attempt; the
    renders stored so far are kept and the next run only makes the missing ones.
    """
    job = await claim_job(ports, job_id)
    if job is None:
        return None
    attempt = job.attempts
    try:
        plan = await _plan(ports, job)
        async with ports.database.sessionmaker() as session:
            produced = await repository.produced_variants(session, job.id)
        if await _render_missing(ports, plan, attempt, produced):
            await _finish(ports, job, attempt, JobStatus.CANCELED, CANCELED)
            return JobStatus.CANCELED
    except LostLease:
        logger.warning("job lease lost; another runner has it", extra={"job_id": str(job_id)})
        return None
    except ObjectRejected as error:
        # Storage refuses this render for good (its size or type): retrying cannot help.
        logger.warning("job failed", extra={"job_id": str(job_id), "reason": str(error)})
        failure = Failure(FAILED_STORAGE_REFUSED, _describe(error), retryable=False)
        await _finish(ports, job, attempt, JobStatus.FAILED, STORAGE_REFUSED, failure)
        return JobStatus.FAILED
    except StorageUnavailable as error:
        # An outage is not the job's fault and may pass: queue it again rather than fail it.
        logger.warning("job paused", extra={"job_id": str(job_id), "reason": str(error)})
        failure = Failure(FAILED_STORAGE_DOWN, _describe(error), retryable=True)
        return await _release_or_fail(ports, job, attempt, failure)
    except ProviderError as error:
        logger.warning(
            "job failed",
            extra={"job_id": str(job_id), "reason": error.internal or error.user_message},
        )
        failure = Failure(
            FAILED_PROVIDER,
            f"{_provider_name(job)}: {error.internal or error.user_message}",
            retryable=error.retryable,
        )
        await _finish(ports, job, attempt, JobStatus.FAILED, error.user_message, failure)
        return JobStatus.FAILED
    except Exception as error:
        logger.exception("job crashed", extra={"job_id": str(job_id)})
        failure = Failure(FAILED_UNEXPECTEDLY, _describe(error))
        await _finish(ports, job, attempt, JobStatus.FAILED, UNEXPECTED_FAILURE, failure)
        return JobStatus.FAILED
    await _finish(ports, job, attempt, JobStatus.SUCCEEDED)
    return JobStatus.SUCCEEDED
