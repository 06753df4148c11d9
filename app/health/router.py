"""`/health` (each port with its latency) and `/__version`."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.deps import PortsDep, SettingsDep

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


class DatabaseFileMissing(Exception):
    """The SQLite file is gone; open connections would keep writing to a deleted file."""


class DiskAlmostFull(Exception):
    pass


async def _check(
    adapter: str, probe: Callable[[], Awaitable[None]], *, timeout_seconds: float
) -> PortHealth:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_seconds):
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
    """Check each port, all at once and each within a time limit.

    503 when the database is down (or its SQLite file is gone); other outages, and a data
    folder short of free space, report `degraded`.
    """
    settings = ports.settings
    database_file = ports.database.file_path

    async def database() -> None:
        await ports.database.ping()
        # Checked after connecting (which creates a missing file on a fresh start): a file
        # deleted under open connections still answers queries, into nowhere.
        if database_file is not None and not await anyio.to_thread.run_sync(database_file.exists):
            raise DatabaseFileMissing(str(database_file))

    async def disk() -> None:
        free = await anyio.to_thread.run_sync(_free_bytes, settings.data_dir)
        if free < settings.min_free_disk_bytes:
            raise DiskAlmostFull(f"{free} bytes free")

    probes: dict[str, tuple[str, Callable[[], Awaitable[None]]]] = {
        "database": (ports.database.dialect, database),
        "kv": (ports.kv.name, ports.kv.ping),
        "mail": (ports.mailer.name, ports.mailer.ping),
        "storage": (ports.storage.name, ports.storage.ping),
        "disk": ("data_dir", disk),
    }
    results = await asyncio.gather(
        *(
            _check(adapter, probe, timeout_seconds=settings.health_probe_timeout_seconds)
            for adapter, probe in probes.values()
        )
    )
    checks: dict[str, PortHealth] = dict(zip(probes, results, strict=True))
    # Nothing to call: dispatch reports which adapter the selection rule picked.
    checks["dispatch"] = DispatchHealth(
        status="ok",
        adapter=ports.dispatcher.name,
        latency_ms=0.0,
        finishes_after_response=ports.dispatcher.finishes_after_response,
    )
    if checks["database"].status == "error":
        overall: Literal["ok", "degraded", "down"] = "down"
    elif any(check.status == "error" for check in checks.values()):
        overall = "degraded"
    else:
        overall = "ok"
    body = HealthOut(status=overall, checks=checks)
    return JSONResponse(body.model_dump(), status_code=503 if overall == "down" else 200)


def _free_bytes(folder: Path) -> int:
    # The folder may not exist yet on a fresh start; its nearest existing parent tells.
    path = folder.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


@router.get("/__version", response_model=VersionOut)
async def version(settings: SettingsDep) -> VersionOut:
    return VersionOut(
        name=settings.app_name,
        version=settings.app_version,
        commit=settings.git_commit or None,
        environment=settings.environment.value,
    )
