"""Bodies of the admin job, stats and metrics endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

JobSort = Literal["created_at", "updated_at", "status", "model"]
SortOrder = Literal["asc", "desc"]
StatsWindow = Literal["24h", "7d", "30d"]

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class RetryIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Provider outage is over; run it again."}]},
    )

    reason: Reason | None = Field(default=None, description="Kept in the audit trail.")


class RefundIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "The renders were blank; refunded."}]},
    )

    reason: Reason = Field(description="Why the credits go back; kept in the audit trail.")


class AdminJobOut(BaseModel):
    """A job as admins see it in lists: who, what, how it went, and what it cost."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    project_id: uuid.UUID
    model: str
    quality: str
    variants: int
    status: str
    progress: int
    error: str | None = Field(description="What the person was told.")
    error_kind: str | None = Field(description="Admin only: provider_error, unexpected_error, …")
    cost_credits: int
    refunded_credits: int
    attempts: int = Field(description="Runs in the current round (reset by an admin retry).")
    retries: int = Field(description="Admin retries so far.")
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class LeaseOut(BaseModel):
    holder: str | None = Field(description="host:pid of the runner that claimed the lease.")
    expires_at: datetime | None
    expired: bool


class AttemptsOut(BaseModel):
    current_round: int
    earlier_rounds: int
    total: int
    max_per_round: int


class LedgerEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    delta: int
    reason: str
    reference: str | None
    balance_after: int
    created_at: datetime


class AdminRenderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    variant: int
    bucket: str
    path: str
    width: int
    height: int
    size_bytes: int


class AdminJobDetail(AdminJobOut):
    """Everything stored about one job, including what its owner never sees."""

    params: dict[str, Any]
    instruction: str | None
    cancel_requested: bool
    error_detail: str | None = Field(description="Admin only: the provider's own words.")
    error_retryable: bool | None
    lease: LeaseOut
    attempt_counts: AttemptsOut
    renders: list[AdminRenderOut]
    ledger: list[LedgerEntryOut] = Field(description="The job's charges and refunds.")


class UserStats(BaseModel):
    total: int
    confirmed: int
    suspended: int
    new_in_window: int
    active_in_window: int = Field(
        description="Signed in or refreshed a session in the window (every API user does)."
    )


class ModelJobStats(BaseModel):
    by_status: dict[str, int]
    failure_rate: float | None = Field(description="failed / (succeeded + failed); null if none.")


class DurationStats(BaseModel):
    count: int = Field(description="Succeeded jobs of the window with a start and an end.")
    median_seconds: float | None
    p95_seconds: float | None


class JobStats(BaseModel):
    total: int
    by_status: dict[str, int]
    by_model: dict[str, ModelJobStats]
    duration: DurationStats


class CreditStats(BaseModel):
    granted: int = Field(description="Sign-up bonuses and admin grants.")
    spent: int = Field(description="Job charges, net of nothing: refunds are counted apart.")
    purchased: int
    refunded: int = Field(description="Job refunds given back to people.")
    purchase_refunds: int = Field(description="Credits taken back when a payment was refunded.")
    by_reason: dict[str, int]


class RevenueStats(BaseModel):
    orders: int
    amount: int = Field(description="Minor units (paise, cents).")
    refunded_amount: int


class StatsOut(BaseModel):
    window: StatsWindow
    since: datetime
    generated_at: datetime
    cached: bool
    users: UserStats
    jobs: JobStats
    credits: CreditStats
    revenue: dict[str, RevenueStats] = Field(description="Paid orders of the window by currency.")


class PoolOut(BaseModel):
    implementation: str
    size: int | None
    checked_in: int | None
    checked_out: int | None
    overflow: int | None
    status: str


class DatabaseMetricsOut(BaseModel):
    dialect: str
    driver: str
    server_version: str
    pool: PoolOut


class QueueMetrics(BaseModel):
    queued: int
    running: int
    oldest_queued_age_seconds: float | None
    stale_leases: int = Field(description="Running jobs whose lease has expired.")
    stale_queued: int = Field(description="Queued longer than JOB_STALE_AFTER_SECONDS.")


class DispatchMetrics(BaseModel):
    adapter: str
    finishes_after_response: bool


class SweeperMetrics(BaseModel):
    last_run_at: datetime | None
    seconds_since_last_run: float | None
    checked: int | None
    redispatched: int | None
    failed: int | None
    interval_seconds: int = Field(description="In-process sweep interval; 0: cron only.")


class SystemMetricsOut(BaseModel):
    jobs: QueueMetrics
    dispatch: DispatchMetrics
    sweeper: SweeperMetrics
