"""A dispatch adapter that holds jobs until the test releases them to the real runner."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from app.jobs.runner import run_job
from app.models import JobStatus
from app.ports import Ports


class HeldDispatcher:
    """Like a queue whose worker is paused: jobs stay queued until `release`."""

    name = "held"
    finishes_after_response = True

    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        self.held: list[uuid.UUID] = []

    async def dispatch(self, job_id: uuid.UUID, *, attempt: int = 0) -> None:
        self.held.append(job_id)

    async def drain(self) -> None:
        return None

    async def release(self) -> list[JobStatus | None]:
        outcomes = []
        while self.held:
            outcomes.append(await run_job(self.ports, self.held.pop(0)))
        return outcomes


def hold_jobs(app: FastAPI) -> HeldDispatcher:
    ports: Ports = app.state.ports
    dispatcher = HeldDispatcher(ports)
    ports.dispatcher = dispatcher
    return dispatcher
