"""Admin job tools: the failure details users never see, the lease holder, retry rounds, and the
indexes behind the admin job list and the stats.

Revision ID: 0007_admin_jobs
Revises: 0006_admin
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_admin_jobs"
down_revision: str | None = "0006_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("error_kind", sa.String(40), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("error_retryable", sa.Boolean(), nullable=True),
        sa.Column("lease_holder", sa.String(120), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("prior_attempts", sa.Integer(), nullable=False, server_default="0"),
    ]


# name, table, columns
INDEXES: list[tuple[str, str, list[str]]] = [
    # Covering: the stats read a window's jobs from the index alone.
    (
        "ix_jobs_created",
        "jobs",
        ["created_at", "id", "user_id", "status", "model", "started_at", "finished_at"],
    ),
    ("ix_jobs_updated", "jobs", ["updated_at", "id"]),
    ("ix_jobs_status_created", "jobs", ["status", "created_at", "id"]),
    ("ix_jobs_model_created", "jobs", ["model", "created_at", "id"]),
    ("ix_credit_transactions_created", "credit_transactions", ["created_at", "reason", "delta"]),
    ("ix_payments_paid", "payments", ["paid_at"]),
]


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for column in _columns():
            batch.add_column(column)
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _indexed in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("jobs") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
