"""After the migrations, Supabase's REST roles can read none of the product's tables."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from app.models import Base

pytestmark = pytest.mark.postgres


def plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _row_security(url: str) -> dict[str, bool]:
    connection = await asyncpg.connect(plain(url))
    try:
        rows = await connection.fetch(
            "select c.relname, c.relrowsecurity from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind in ('r', 'p') "
            "and c.relname <> 'alembic_version'"
        )
    finally:
        await connection.close()
    return {row["relname"]: row["relrowsecurity"] for row in rows}


def test_every_public_table_has_row_level_security(postgres_database: str) -> None:
    security = asyncio.run(_row_security(postgres_database))

    assert set(security) == set(Base.metadata.tables)
    assert [name for name, enabled in security.items() if not enabled] == []


async def _rows_seen_by_a_granted_role(url: str) -> tuple[int, int]:
    """Like Supabase's `anon`: granted SELECT on the table, and no policy letting it see rows."""
    role = f"rest_reader_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(plain(url))
    # Everything here (the role, the row) is rolled back afterwards.
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute(f'create role "{role}" nologin')
        await connection.execute(f'grant select on users to "{role}"')
        await connection.execute(
            "insert into users (id, email, username, full_name, dob, credits, created_at, "
            "updated_at) values ($1, 'rls@example.com', 'rls_person', 'R L S', "
            "'1990-01-01', 0, now(), now())",
            uuid.uuid4(),
        )
        owner_sees: int = await connection.fetchval("select count(*) from users")
        await connection.execute(f'set local role "{role}"')
        role_sees: int = await connection.fetchval("select count(*) from users")
        return owner_sees, role_sees
    finally:
        await transaction.rollback()
        await connection.close()


def test_a_role_granted_select_sees_no_rows(postgres_database: str) -> None:
    owner_sees, role_sees = asyncio.run(_rows_seen_by_a_granted_role(postgres_database))

    assert owner_sees >= 1
    assert role_sees == 0
