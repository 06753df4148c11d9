"""Daily rollups of the admin stats, the triggers that mark a changed day stale, and the index
that finds succeeded jobs by duration bucket for exact percentiles.

A past UTC day's jobs and ledger rows rarely change, but they can: an admin retry sends an old
failed job back to the queue, a deleted project or account takes its jobs and ledger rows with
it (foreign key cascades), and a job queued long ago may still run. Rather than trust every
such path to remember the rollups, a row trigger on each table marks the row's day stale in
the same transaction, whatever made the change. Changes to today's rows (every job's normal
life) skip the write: today is never rolled up.

The bucket expression here is the one `app/admin/ops/repository.py` sends; they must match
for the index to serve the percentile lookup.

Revision ID: 0010_stats_daily
Revises: 0009_project_style
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import enable_row_level_security

revision: str = "0010_stats_daily"
down_revision: str | None = "0009_project_style"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUCCEEDED = "status = 'succeeded' AND started_at IS NOT NULL AND finished_at IS NOT NULL"
_PG_SECONDS = "EXTRACT(EPOCH FROM (finished_at - started_at))::float8"
_PG_BUCKET = (
    f"CASE WHEN {_PG_SECONDS} < 10 THEN CAST({_PG_SECONDS} * 10 AS bigint) "
    f"WHEN {_PG_SECONDS} < 100 THEN 90 + CAST({_PG_SECONDS} AS bigint) "
    f"ELSE 180 + CAST({_PG_SECONDS} / 10 AS bigint) END"
)
_SQLITE_SECONDS = "((julianday(finished_at) - julianday(started_at)) * 86400.0)"
_SQLITE_BUCKET = (
    f"CASE WHEN {_SQLITE_SECONDS} < 10 THEN CAST({_SQLITE_SECONDS} * 10 AS INTEGER) "
    f"WHEN {_SQLITE_SECONDS} < 100 THEN 90 + CAST({_SQLITE_SECONDS} AS INTEGER) "
    f"ELSE 180 + CAST({_SQLITE_SECONDS} / 10 AS INTEGER) END"
)
INDEX = "ix_jobs_succeeded_duration"

# Watched columns: those the stats read. `clock_timestamp()`, not `now()`: a long transaction's
# change is judged by when it happens.
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION stats_days_mark_stale() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    today date := (clock_timestamp() AT TIME ZONE 'UTC')::date;
    changed date;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        changed := (OLD.created_at AT TIME ZONE 'UTC')::date;
        IF changed < today THEN
            INSERT INTO stats_days (day, stale) VALUES (changed, true)
            ON CONFLICT (day) DO UPDATE SET stale = true WHERE NOT stats_days.stale;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        changed := (NEW.created_at AT TIME ZONE 'UTC')::date;
        IF changed < today THEN
            INSERT INTO stats_days (day, stale) VALUES (changed, true)
            ON CONFLICT (day) DO UPDATE SET stale = true WHERE NOT stats_days.stale;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
"""

WATCHED = {
    "jobs": "status, model, started_at, finished_at, created_at",
    "credit_transactions": "reason, delta, created_at",
}


def _sqlite_triggers(table: str, columns: str) -> list[str]:
    mark = (
        "INSERT INTO stats_days (day, stale) VALUES (substr({row}.created_at, 1, 10), 1) "
        "ON CONFLICT (day) DO UPDATE SET stale = 1 WHERE NOT stats_days.stale;"
    )
    old, new = mark.format(row="OLD"), mark.format(row="NEW")
    today = "date('now')"
    return [
        f"CREATE TRIGGER {table}_stats_insert AFTER INSERT ON {table} "
        f"WHEN NEW.created_at < {today} BEGIN {new} END",
        f"CREATE TRIGGER {table}_stats_delete AFTER DELETE ON {table} "
        f"WHEN OLD.created_at < {today} BEGIN {old} END",
        f"CREATE TRIGGER {table}_stats_update_old AFTER UPDATE OF {columns} ON {table} "
        f"WHEN OLD.created_at < {today} BEGIN {old} END",
        f"CREATE TRIGGER {table}_stats_update_new AFTER UPDATE OF {columns} ON {table} "
        f"WHEN NEW.created_at < {today} BEGIN {new} END",
    ]


def upgrade() -> None:
    op.create_table(
        "stats_days",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "stats_daily",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("section", sa.String(16), primary_key=True),
        sa.Column("key1", sa.String(64), primary_key=True),
        sa.Column("key2", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.Integer(), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    enable_row_level_security("stats_days", "stats_daily")
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            f"CREATE INDEX {INDEX} ON jobs (({_PG_BUCKET}), created_at) "
            f"INCLUDE (started_at, finished_at) WHERE {_SUCCEEDED}"
        )
        op.execute(_PG_FUNCTION)
        for table, columns in WATCHED.items():
            op.execute(
                f"CREATE TRIGGER {table}_stats_days "
                f"AFTER INSERT OR DELETE OR UPDATE OF {columns} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION stats_days_mark_stale()"
            )
    else:
        op.execute(
            f"CREATE INDEX {INDEX} ON jobs (({_SQLITE_BUCKET}), created_at, started_at, "
            f"finished_at) WHERE {_SUCCEEDED}"
        )
        for table, columns in WATCHED.items():
            for statement in _sqlite_triggers(table, columns):
                op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_stats_days ON {table}")
        op.execute("DROP FUNCTION IF EXISTS stats_days_mark_stale()")
    else:
        for table in WATCHED:
            for suffix in ("insert", "delete", "update_old", "update_new"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_stats_{suffix}")
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
    op.drop_table("stats_daily")
    op.drop_table("stats_days")
