"""Projects (thumbnail briefs), their jobs, the renders jobs produce, and idempotency keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, IdMixin, utcnow


class ProjectStatus(StrEnum):
    DRAFT = "draft"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


class Project(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "projects"
    __table_args__ = (
        Index("ix_projects_user_created", "user_id", "created_at", "id"),
        Index("ix_projects_user_status_created", "user_id", "status", "created_at", "id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(10), default="design")
    platform: Mapped[str] = mapped_column(String(30))
    width: Mapped[int]
    height: Mapped[int]
    headline: Mapped[str] = mapped_column(String(200), default="")
    subtext: Mapped[str | None] = mapped_column(String(300), default=None)
    vibe: Mapped[str | None] = mapped_column(String(100), default=None)
    model_pref: Mapped[str | None] = mapped_column(String(40), default=None)
    selfie_asset_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    ref_asset_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    copy_target_asset_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # Style set by chat directions (or PATCH): "#rrggbb" colours over the vibe's palette, the
    # headline's size relative to what fits, and the side of the frame the person stands on.
    background_color: Mapped[str | None] = mapped_column(String(7), default=None)
    accent_color: Mapped[str | None] = mapped_column(String(7), default=None)
    headline_scale: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    person_side: Mapped[str | None] = mapped_column(String(5), default=None)
    status: Mapped[str] = mapped_column(String(10), default=ProjectStatus.DRAFT.value)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Job(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_user_created", "user_id", "created_at", "id"),
        Index("ix_jobs_user_status_created", "user_id", "status", "created_at", "id"),
        Index("ix_jobs_project_created", "project_id", "created_at", "id"),
        Index("ix_jobs_status_updated", "status", "updated_at"),
        # The admin job list's filters and sorts, each ending in its keyset order. The first
        # also carries what the stats read of a window's jobs, so they come from the index.
        Index(
            "ix_jobs_created",
            "created_at",
            "id",
            "user_id",
            "status",
            "model",
            "started_at",
            "finished_at",
        ),
        Index("ix_jobs_updated", "updated_at", "id"),
        Index("ix_jobs_status_created", "status", "created_at", "id"),
        Index("ix_jobs_model_created", "model", "created_at", "id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(40))
    quality: Mapped[str] = mapped_column(String(10))
    variants: Mapped[int]
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    instruction: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.QUEUED.value)
    progress: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    # What went wrong, for admins only: `error` is what the person sees.
    error_kind: Mapped[str | None] = mapped_column(String(40), default=None)
    error_detail: Mapped[str | None] = mapped_column(Text, default=None)
    error_retryable: Mapped[bool | None] = mapped_column(Boolean, default=None)
    # What the job delivers: stills in `output_format` (png, jpeg, webp), or one video clip of
    # `duration_seconds` at `aspect_ratio`.
    kind: Mapped[str] = mapped_column(String(10), default="image", server_default="image")
    output_format: Mapped[str | None] = mapped_column(String(10), default=None)
    duration_seconds: Mapped[int | None] = mapped_column(default=None)
    aspect_ratio: Mapped[str | None] = mapped_column(String(10), default=None)
    cost_credits: Mapped[int]
    refunded_credits: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    # The process that claimed the current lease (host:pid), for admins following a run.
    lease_holder: Mapped[str | None] = mapped_column(String(120), default=None)
    # Admin retries of a failed job; each starts a new round of attempts, and each round has
    # its own charge and refund references in the ledger.
    retries: Mapped[int] = mapped_column(default=0)
    prior_attempts: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Render(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "renders"
    __table_args__ = (UniqueConstraint("job_id", "variant", name="uq_renders_job_variant"),)

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    variant: Mapped[int]
    bucket: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(1024))
    width: Mapped[int]
    height: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(50))
    size_bytes: Mapped[int]
    # A video's still frame (JPEG) in the same bucket, shown before it plays.
    poster_path: Mapped[str | None] = mapped_column(String(1024), default=None)


class IdempotencyKey(IdMixin, CreatedAtMixin, Base):
    """A client's retry key for POST /jobs, written in the same transaction as the job."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    response_status: Mapped[int]
    response_body: Mapped[dict[str, Any]] = mapped_column(JSON)
