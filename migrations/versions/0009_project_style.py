"""Project style set by chat directions, and the edits stored on chat messages.

Revision ID: 0009_project_style
Revises: 0008_job_outputs
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_project_style"
down_revision: str | None = "0008_job_outputs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("background_color", sa.String(7), nullable=True))
        batch.add_column(sa.Column("accent_color", sa.String(7), nullable=True))
        batch.add_column(
            sa.Column("headline_scale", sa.Float(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("person_side", sa.String(5), nullable=True))
    with op.batch_alter_table("chat_messages") as batch:
        batch.add_column(sa.Column("edits", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chat_messages") as batch:
        batch.drop_column("edits")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("person_side")
        batch.drop_column("headline_scale")
        batch.drop_column("accent_color")
        batch.drop_column("background_color")
