"""Row level security for new tables on Postgres.

Supabase exposes every table of the public schema through its REST API; with RLS on and no
policies, that API sees nothing, while this service (connecting as the table owner) is unaffected.
"""

from __future__ import annotations

from alembic import op


def enable_row_level_security(*tables: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
