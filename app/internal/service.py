"""Internal work: verify QStash deliveries, run the delivered job, sweep jobs that stalled."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from app.adapters.kv import KeyValueUnavailable
from app.admin.ops.stats import refresh_rollups
from app.config import Settings, secret_value
from app.internal.schemas import RunOut
from app.jobs import repository as jobs_repository
from app.jobs.service import refund_unproduced
from app.kit.db import transaction
from app.kit.errors import BadRequest, ServiceUnavailable, Unauthorized
from app.models import JobStatus
from app.models.base import utcnow
from app.ports import Ports

logger = logging.getLogger("app.internal")

# Seconds of clock difference between QStash and us tolerated on the signature's nbf/exp.
CLOCK_TOLERANCE_SECONDS = 5
# Jobs looked at per sweep; a backlog larger than this is worked off over several sweeps.
SWEEP_BATCH = 100
EXHAUSTED = "Rendering did not finish after several attempts. Your credits for it were refunded."
# Failures of the database or the network under it (timeouts included): the same delivery
# can succeed later.
TRANSIENT_ERRORS = (SQLAlchemyError, OSError)


class InvalidSignature(Unauthorized):
    code = "invalid_signature"
    message = "The Upstash-Signature header is missing or does not match this request."


class SigningKeysMissing(ServiceUnavailable):
    code = "signing_not_configured"
    message = "QStash signing keys are not configured, so deliveries cannot be verified."


class InvalidCronSecret(Unauthorized):
    code = "invalid_cron_secret"
    message = "A valid cron secret is required."


class CronSecretMissing(ServiceUnavailable):
    code = "cron_not_configured"
    message = "CRON_SECRET is not configured, so the sweep cannot be triggered over HTTP."


class MessageMismatch(BadRequest):
    code = "message_mismatch"
    message = 'The message body must be {"job_id": "<the job id in the path>"}.'


class RetryLater(ServiceUnavailable):
    code = "retry_later"
    message = "The job could not run now; deliver it again later."


def verify_delivery(*, settings: Settings, signature: str | None, body: bytes, url: str) -> None:
    """Accept only a request QStash signed for exactly this URL and body, and not expired."""
    keys = [
        secret_value(key)
        for key in (settings.qstash_current_signing_key, settings.qstash_next_signing_key)
        if key is not None
    ]
    if not keys:
        raise SigningKeysMissing()
    if not signature:
        raise InvalidSignature()
    from qstash import Receiver

    # With one key set, it serves as both: a rotation simply has not been configured.
    receiver = Receiver(current_signing_key=keys[0], next_signing_key=keys[-1])
    try:
        receiver.verify(
            signature=signature,
            body=body.decode(),
            url=url,
            clock_tolerance=CLOCK_TOLERANCE_SECONDS,
        )
    except Exception as exc:
        # SignatureError, but also a body that is not text or a token without a body claim.
        logger.warning("delivery refused", extra={"reason": str(exc)[:200]})
        raise InvalidSignature() from None


def check_message(body: bytes, job_id: uuid.UUID) -> None:
    try:
        data = json.loads(body)
        delivered = uuid.UUID(str(data["job_id"]))
    except (ValueError, KeyError, TypeError):
        raise MessageMismatch() from None
    if delivered != job_id:
        raise MessageMismatch()


async def _outcome(ports: Ports, job_id: uuid.UUID, ended: JobStatus | None) -> RunOut:
    if ended is not None:
        return RunOut(job_id=job_id, status=ended.value, outcome="ran")
    async with ports.database.sessionmaker() as session:
        job = await jobs_repository.get(session, job_id)
    if job is None:
        return RunOut(job_id=job_id, status=None, outcome="missing")
    status = JobStatus(job.status)
    if status.is_final:
        return RunOut(job_id=job_id, status=status.value, outcome="already_finished")
    if job.attempts >= ports.settings.job_max_attempts:
        return RunOut(job_id=job_id, status=status.value, outcome="exhausted")
    if status is JobStatus.RUNNING:
        # A live lease: its runner finishes it, or the sweeper sends it again once it expires.
        return RunOut(job_id=job_id, status=status.value, outcome="in_progress")
    # Queued with attempts left, yet not claimed: another runner released it meanwhile.
    raise RetryLater()


async def run_delivered_job(*, ports: Ports, job_id: uuid.UUID) -> RunOut:
    """Run a delivered job through the same leased claim as every runner.

    2xx tells QStash to stop: the job ended, had ended, or is someone else's to finish.
    503 asks for the delivery again: the job is still waiting to run because the database
    failed us or storage was down (the runner put the job back in the queue).
    """
    from app.jobs.runner import run_job

    try:
        ended = await run_job(ports, job_id)
        if ended is JobStatus.QUEUED:
            raise RetryLater()
        return await _outcome(ports, job_id, ended)
    except TRANSIENT_ERRORS as exc:
        logger.warning("job delivery failed", extra={"job_id": str(job_id), "error": str(exc)})
        raise RetryLater() from exc


def check_cron_secret(*, settings: Settings, authorization: str | None) -> None:
    if settings.cron_secret is None:
        raise CronSecretMissing()
    scheme, _, supplied = (authorization or "").partition(" ")
    expected = settings.cron_secret.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        supplied.strip().encode(), expected.encode()
    ):
        raise InvalidCronSecret()


@dataclass
class SweepResult:
    redispatched: int = 0
    failed: int = 0
    checked: int = 0


async def _fail_exhausted(ports: Ports, job_id: uuid.UUID) -> bool:
    async with transaction(ports.database.sessionmaker) as session:
        if not await jobs_repository.fail_exhausted(
            session,
            job_id=job_id,
            max_attempts=ports.settings.job_max_attempts,
            error=EXHAUSTED,
        ):
            return False
        # Counted after the UPDATE holds the row, so no runner can add a render in between.
        produced = len(await jobs_repository.produced_variants(session, job_id))
        job = await jobs_repository.get(session, job_id)
        assert job is not None
        await refund_unproduced(session, job, produced)
        await jobs_repository.refresh_project_status(session, job.project_id)
    logger.info("job failed after its last attempt", extra={"job_id": str(job_id)})
    return True


async def sweep(ports: Ports) -> SweepResult:
    """Send stalled jobs again and fail (and refund) those with no attempts left.

    Stalled: queued for longer than JOB_STALE_AFTER_SECONDS, or running with an expired lease
    (its runner died). Safe to run concurrently: a re-sent job still runs only once because
    runs claim it with a conditional UPDATE, and failing is conditional in the same way.
    """
    settings = ports.settings
    now = utcnow()
    async with ports.database.sessionmaker() as session:
        stale = await jobs_repository.stale_jobs(
            session,
            queued_before=now - timedelta(seconds=settings.job_stale_after_seconds),
            now=now,
            limit=SWEEP_BATCH,
        )
    result = SweepResult(checked=len(stale))
    for job in stale:
        if job.attempts >= settings.job_max_attempts:
            if await _fail_exhausted(ports, job.id):
                result.failed += 1
            continue
        try:
            # Counted over every round, so an admin retry's runs are not taken for duplicates.
            await ports.dispatcher.dispatch(job.id, attempt=job.prior_attempts + job.attempts)
        except Exception:
            # Left as it is, the job is found again by the next sweep.
            logger.exception("sweep could not dispatch a job", extra={"job_id": str(job.id)})
            continue
        result.redispatched += 1
    if result.redispatched or result.failed:
        logger.info("sweep done", extra={**vars(result)})
    # Keeps the admin stats' daily rollups current, so no stats request has to write them.
    await refresh_rollups(ports.database, now=now)
    await record_sweep(ports, result, started_at=now)
    return result


# Where the last sweep's time and counts are kept, for GET /admin/metrics/system.
LAST_SWEEP_KEY = "sweep:last"


async def record_sweep(ports: Ports, result: SweepResult, *, started_at: datetime) -> None:
    """Note when this sweep ran; a key-value outage must not fail the sweep that did its work."""
    record = {"at": started_at.isoformat(), **vars(result)}
    try:
        await ports.kv.put(LAST_SWEEP_KEY, json.dumps(record, separators=(",", ":")))
    except KeyValueUnavailable as exc:
        logger.warning("sweep time not recorded", extra={"error": str(exc)})


async def cron_sweep(*, ports: Ports) -> SweepResult:
    try:
        return await sweep(ports)
    except TRANSIENT_ERRORS as exc:
        logger.warning("sweep failed", extra={"error": str(exc)})
        raise RetryLater("The sweep could not run now; try again later.") from exc


async def _sweep_every(ports: Ports, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await sweep(ports)
        except Exception:
            logger.exception("periodic sweep failed")


@contextlib.asynccontextmanager
async def periodic_sweeps(ports: Ports) -> AsyncIterator[asyncio.Task[None] | None]:
    """Sweep every SWEEP_INTERVAL_SECONDS while a long-running server is up.

    Serverless functions are frozen between requests, so there the cron endpoint does it.
    """
    interval = ports.settings.sweep_interval_seconds
    if ports.settings.is_serverless or interval <= 0:
        yield None
        return
    task = asyncio.create_task(_sweep_every(ports, interval), name="periodic-sweep")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
