"""Internal HTTP routes: QStash delivers jobs here, and a cron scheduler triggers the sweep.

Kept out of the public OpenAPI schema: only QStash (signed) and the scheduler (bearer secret)
call them.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from app.config import API_PREFIX
from app.deps import PortsDep, SettingsDep
from app.internal import service
from app.internal.schemas import RunOut, SweepOut
from app.kit.errors import responses

router = APIRouter(prefix=f"{API_PREFIX}/internal", tags=["internal"], include_in_schema=False)


async def signed_body(
    request: Request,
    settings: SettingsDep,
    upstash_signature: Annotated[str | None, Header()] = None,
) -> bytes:
    """The raw body, once its QStash signature checks out for the URL it was sent to."""
    body = await request.body()
    # The signature names the public URL QStash called, not the host this process sees.
    url = settings.public_base_url.rstrip("/") + request.url.path
    service.verify_delivery(settings=settings, signature=upstash_signature, body=body, url=url)
    return body


async def cron_caller(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    service.check_cron_secret(settings=settings, authorization=authorization)


@router.post(
    "/jobs/{job_id}/run",
    response_model=RunOut,
    responses=responses(
        service.MessageMismatch,
        service.InvalidSignature,
        service.SigningKeysMissing,
        service.RetryLater,
    ),
)
async def run_job(
    job_id: uuid.UUID, ports: PortsDep, body: Annotated[bytes, Depends(signed_body)]
) -> RunOut:
    """Run one job delivered by QStash; a 5xx answer makes QStash deliver it again."""
    service.check_message(body, job_id)
    return await service.run_delivered_job(ports=ports, job_id=job_id)


@router.get(
    "/cron/sweep",
    response_model=SweepOut,
    dependencies=[Depends(cron_caller)],
    responses=responses(service.InvalidCronSecret, service.CronSecretMissing, service.RetryLater),
)
async def cron_sweep(ports: PortsDep) -> SweepOut:
    """Send stalled jobs again and fail those out of attempts; for a cron scheduler."""
    result = await service.cron_sweep(ports=ports)
    return SweepOut(**asdict(result))
