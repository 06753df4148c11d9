"""Indexes that serve each list's filter and its keyset order `(created_at, id)`.

Every list pages by `WHERE <filter> AND (created_at, id) < cursor ORDER BY created_at, id`;
an index on the filter columns followed by both order columns answers a page of any depth
with one range scan. The old indexes ended at `created_at`, so ties and deep pages fell back
to sorting.

Revision ID: 0004_list_indexes
Revises: 0003_projects_jobs_chat
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_list_indexes"
down_revision: str | None = "0003_projects_jobs_chat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# name, table, columns before, columns after (None: the index is new)
INDEXES: list[tuple[str, str, list[str] | None, list[str]]] = [
    (
        "ix_projects_user_created",
        "projects",
        ["user_id", "created_at"],
        ["user_id", "created_at", "id"],
    ),
    (
        "ix_projects_user_status_created",
        "projects",
        None,
        ["user_id", "status", "created_at", "id"],
    ),
    ("ix_jobs_user_created", "jobs", ["user_id", "created_at"], ["user_id", "created_at", "id"]),
    ("ix_jobs_user_status_created", "jobs", None, ["user_id", "status", "created_at", "id"]),
    (
        "ix_jobs_project_created",
        "jobs",
        ["project_id", "created_at"],
        ["project_id", "created_at", "id"],
    ),
    (
        "ix_credit_transactions_user_created",
        "credit_transactions",
        ["user_id", "created_at"],
        ["user_id", "created_at", "id"],
    ),
    ("ix_chats_user_updated", "chats", ["user_id", "updated_at"], ["user_id", "updated_at", "id"]),
    (
        "ix_chat_messages_chat_created",
        "chat_messages",
        ["chat_id", "created_at"],
        ["chat_id", "created_at", "id"],
    ),
    ("ix_assets_user_created", "assets", None, ["user_id", "created_at", "id"]),
    (
        "ix_assets_user_type_created",
        "assets",
        ["user_id", "type", "created_at"],
        ["user_id", "type", "created_at", "id"],
    ),
]


def upgrade() -> None:
    for name, table, before, after in INDEXES:
        if before is not None:
            op.drop_index(name, table_name=table)
        op.create_index(name, table, after)


def downgrade() -> None:
    for name, table, before, _after in reversed(INDEXES):
        op.drop_index(name, table_name=table)
        if before is not None:
            op.create_index(name, table, before)
