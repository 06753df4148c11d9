"""Job outputs: the kind of job (image or video), the image file format, a video's duration and
aspect ratio, and the poster frame stored beside a video render.

Revision ID: 0008_job_outputs
Revises: 0006_admin
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_job_outputs"
down_revision: str | None = "0006_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as jobs:
        # Existing jobs were all stills.
        jobs.add_column(sa.Column("kind", sa.String(10), nullable=False, server_default="image"))
        jobs.add_column(sa.Column("output_format", sa.String(10), nullable=True))
        jobs.add_column(sa.Column("duration_seconds", sa.Integer(), nullable=True))
        jobs.add_column(sa.Column("aspect_ratio", sa.String(10), nullable=True))
    with op.batch_alter_table("renders") as renders:
        renders.add_column(sa.Column("poster_path", sa.String(1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("renders") as renders:
        renders.drop_column("poster_path")
    with op.batch_alter_table("jobs") as jobs:
        jobs.drop_column("aspect_ratio")
        jobs.drop_column("duration_seconds")
        jobs.drop_column("output_format")
        jobs.drop_column("kind")
