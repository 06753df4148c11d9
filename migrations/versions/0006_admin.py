"""Administration: account roles and suspension, last-seen times, the audit trail, and the
indexes of the admin user list (each sort order, and search over email, username and name).

On Postgres the search is served by pg_trgm GIN indexes when the extension can be created;
where it cannot (no permission, not installed), the lower() indexes remain and the search
scans. Both steps are plain SQL blocks, so `scripts/export_schema_sql.py` renders them too.

Revision ID: 0006_admin
Revises: 0005_payments
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import enable_row_level_security

revision: str = "0006_admin"
down_revision: str | None = "0005_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
SEARCHED_COLUMNS = ("email", "username", "full_name")

# Creating an extension needs a privilege some hosts withhold; the exception handler of a DO
# block runs in a subtransaction, so a refusal leaves the migration's transaction intact.
_CREATE_TRGM = """
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm unavailable (%); user search falls back to scanning', SQLERRM;
END
$$;
"""


def _create_trgm_index(column: str) -> str:
    return f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX IF NOT EXISTS ix_users_{column}_trgm ON users '
                'USING gin (lower({column}) gin_trgm_ops)';
    END IF;
END
$$;
"""


def upgrade() -> None:
    # Plain ADD COLUMN: SQLite takes it in place, where a batch copy of the table would lose
    # the lower() unique indexes, which its reflection cannot read back.
    op.add_column("users", sa.Column("last_seen_at", TIMESTAMP, nullable=True))
    op.add_column("users", sa.Column("suspended_at", TIMESTAMP, nullable=True))
    op.add_column("users", sa.Column("suspension_reason", sa.String(500), nullable=True))
    op.create_index("ix_users_created_at", "users", ["created_at", "id"])
    op.create_index("ix_users_credits", "users", ["credits", "id"])
    op.create_index("ix_users_last_seen_at", "users", ["last_seen_at", "id"])
    op.create_index("ix_users_full_name", "users", [sa.text("lower(full_name)")])

    op.create_table(
        "admin_actions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "actor_id",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_admin_actions_actor_id_users"),
            nullable=True,
        ),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("target_type", sa.String(40), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_admin_actions_created", "admin_actions", ["created_at", "id"])
    op.create_index(
        "ix_admin_actions_actor_created", "admin_actions", ["actor_id", "created_at", "id"]
    )
    op.create_index(
        "ix_admin_actions_target_created", "admin_actions", ["target_id", "created_at", "id"]
    )
    op.create_index(
        "ix_admin_actions_action_created", "admin_actions", ["action", "created_at", "id"]
    )
    enable_row_level_security("admin_actions")

    if op.get_context().dialect.name == "postgresql":
        op.execute(_CREATE_TRGM)
        for column in SEARCHED_COLUMNS:
            op.execute(_create_trgm_index(column))


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for column in SEARCHED_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_users_{column}_trgm")
    op.drop_table("admin_actions")
    op.drop_index("ix_users_full_name", table_name="users")
    op.drop_index("ix_users_last_seen_at", table_name="users")
    op.drop_index("ix_users_credits", table_name="users")
    op.drop_index("ix_users_created_at", table_name="users")
    # SQLite 3.35+ drops a column in place.
    for column in ("suspension_reason", "suspended_at", "last_seen_at"):
        op.drop_column("users", column)
