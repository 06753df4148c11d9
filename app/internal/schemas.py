"""Bodies of the internal endpoints called by QStash and the cron scheduler."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

RunOutcome = Literal["ran", "already_finished", "in_progress", "exhausted", "missing"]


class RunOut(BaseModel):
    job_id: uuid.UUID
    status: str | None = Field(description="The job's status after this delivery, if it exists.")
    outcome: RunOutcome = Field(
        description=(
            "ran: this delivery ran the job to its end; already_finished: it had ended before; "
            "in_progress: another runner holds it; exhausted: no attempts left, the sweeper "
            "fails it; missing: the job no longer exists."
        )
    )


class SweepOut(BaseModel):
    redispatched: int
    failed: int
    checked: int
