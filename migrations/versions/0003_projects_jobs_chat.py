"""Projects, jobs, renders, idempotency keys and chats.

Revision ID: 0003_projects_jobs_chat
Revises: 0002_assets
Create Date: 2026-11-22
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import enable_row_level_security

revision: str = "0003_projects_jobs_chat"
down_revision: str | None = "0002_assets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def _owner(table: str) -> sa.Column[uuid.UUID]:
    return sa.Column(
        "user_id",
        sa.Uuid(),
        sa.ForeignKey("users.id", ondelete="CASCADE", name=f"fk_{table}_user_id_users"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _owner("projects"),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("platform", sa.String(30), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("headline", sa.String(200), nullable=False),
        sa.Column("subtext", sa.String(300), nullable=True),
        sa.Column("vibe", sa.String(100), nullable=True),
        sa.Column("model_pref", sa.String(40), nullable=True),
        sa.Column("selfie_asset_ids", sa.JSON(), nullable=False),
        sa.Column("ref_asset_ids", sa.JSON(), nullable=False),
        sa.Column("copy_target_asset_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_projects_user_created", "projects", ["user_id", "created_at"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _owner("jobs"),
        sa.Column(
            "project_id",
            sa.Uuid(),
            sa.ForeignKey("projects.id", ondelete="CASCADE", name="fk_jobs_project_id_projects"),
            nullable=False,
        ),
        sa.Column("model", sa.String(40), nullable=False),
        sa.Column("quality", sa.String(10), nullable=False),
        sa.Column("variants", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("cost_credits", sa.Integer(), nullable=False),
        sa.Column("refunded_credits", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", TIMESTAMP, nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_jobs_user_created", "jobs", ["user_id", "created_at"])
    op.create_index("ix_jobs_project_created", "jobs", ["project_id", "created_at"])
    op.create_index("ix_jobs_status_updated", "jobs", ["status", "updated_at"])

    op.create_table(
        "renders",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "job_id",
            sa.Uuid(),
            sa.ForeignKey("jobs.id", ondelete="CASCADE", name="fk_renders_job_id_jobs"),
            nullable=False,
        ),
        _owner("renders"),
        sa.Column("variant", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(100), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(50), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("job_id", "variant", name="uq_renders_job_variant"),
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _owner("idempotency_keys"),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column(
            "job_id",
            sa.Uuid(),
            sa.ForeignKey("jobs.id", ondelete="CASCADE", name="fk_idempotency_keys_job_id_jobs"),
            nullable=False,
        ),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),
    )

    op.create_table(
        "chats",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _owner("chats"),
        sa.Column(
            "project_id",
            sa.Uuid(),
            sa.ForeignKey("projects.id", ondelete="SET NULL", name="fk_chats_project_id_projects"),
            nullable=True,
        ),
        sa.Column("session_name", sa.String(120), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_chats_user_updated", "chats", ["user_id", "updated_at"])

    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "chat_id",
            sa.Uuid(),
            sa.ForeignKey("chats.id", ondelete="CASCADE", name="fk_chat_messages_chat_id_chats"),
            nullable=False,
        ),
        sa.Column("sender", sa.String(10), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "job_id",
            sa.Uuid(),
            sa.ForeignKey("jobs.id", ondelete="SET NULL", name="fk_chat_messages_job_id_jobs"),
            nullable=True,
        ),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_chat_messages_chat_created", "chat_messages", ["chat_id", "created_at"])
    enable_row_level_security(
        "projects", "jobs", "renders", "idempotency_keys", "chats", "chat_messages"
    )


def downgrade() -> None:
    for table in ("chat_messages", "chats", "idempotency_keys", "renders", "jobs", "projects"):
        op.drop_table(table)
