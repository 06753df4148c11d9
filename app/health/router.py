"""`/health` (each port with its latency) and `/__version`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.deps import PortsDep

router = APIRouter(tags=["health"])


class PortHealth(BaseModel):
    status: Literal["ok", "error"]
    adapter: str
    latency_ms: float
    error: str | None = None


class DispatchHealth(PortHealth):
    # Whether a job still runs to its end after the response that queued it was sent.
    finishes_after_response: bool


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "down"]
    checks: dict[str, DispatchHealth | PortHealth]


class VersionOut(BaseModel):
    name: str
    version: str
    commit: str | None
    environment: str


async def _check(adapter: str, probe: Callable[[], Awaitable[None]]) -> PortHealth:
    started = time.perf_counter()
    try:
        await probe()
    except Exception as exc:
        return PortHealth(
            status="error",
            adapter=adapter,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            error=type(exc).__name__,
        )
    return PortHealth(
        status="ok", adapter=adapter, latency_ms=round((time.perf_counter() - started) * 1000, 2)
    )


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def health(ports: PortsDep) -> JSONResponse:
    """Check each port. 503 when the database is down; other outages report `degraded`."""
    checks = {
        "database": await _check(ports.database.dialect, ports.database.ping),
        "kv": await _check(ports.kv.name, ports.kv.ping),
        "mail": await _check(ports.mailer.name, ports.mailer.ping),
        "storage": await _check(ports.storage.name, ports.storage.ping),
        # Nothing to call: dispatch reports which adapter the selection rule picked.
        "dispatch": DispatchHealth(
            status="ok",
            adapter=ports.dispatcher.name,
            latency_ms=0.0,
            finishes_after_response=ports.dispatcher.finishes_after_response,
        ),
    }
    if checks["database"].status == "error":
        overall: Literal["ok", "degraded", "down"] = "down"
    elif any(check.status == "error" for check in checks.values()):
        overall = "degraded"
    else:
        overall = "ok"
    body = HealthOut(status=overall, checks=checks)
    return JSONResponse(body.model_dump(), status_code=503 if overall == "down" else 200)


@router.get("/__version", response_model=VersionOut)
async def version(ports: PortsDep) -> VersionOut:
    settings = ports.settings
    return VersionOut(
        name=settings.app_name,
        version=settings.app_version,
        commit=settings.git_commit or None,
        environment=settings.environment.value,
    )
