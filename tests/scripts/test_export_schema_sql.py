"""scripts/export_schema_sql.py: the schema for the Supabase SQL editor, run on a real Postgres."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import asyncpg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from app.models import Base
from scripts import migrate
from scripts.export_schema_sql import ROOT, main, schema_sql

TABLES = sorted(Base.metadata.tables)


def head_revision() -> str:
    head = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_current_head()
    assert head is not None
    return head


@pytest.fixture(scope="module")
def sql() -> str:
    return schema_sql()


class TestContent:
    @pytest.mark.parametrize("table", TABLES)
    def test_each_table_is_created_with_row_level_security(self, sql: str, table: str) -> None:
        assert re.search(rf"^CREATE TABLE {table} \(", sql, re.MULTILINE)
        assert f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY;' in sql

    def test_it_is_one_transaction_that_records_the_revision(self, sql: str) -> None:
        statements = [line for line in sql.splitlines() if line and not line.startswith("--")]
        assert statements[0] == "BEGIN;"
        assert statements[-1] == "COMMIT;"
        assert f"version_num='{head_revision()}'" in sql

    def test_main_prints_it(self, sql: str, capsys: pytest.CaptureFixture[str]) -> None:
        assert main([]) == 0
        assert capsys.readouterr().out == sql

    def test_main_writes_a_file(self, sql: str, tmp_path: Path) -> None:
        target = tmp_path / "schema.sql"
        assert main(["--output", str(target)]) == 0
        assert target.read_text() == sql


async def _fresh_database(server_url: str) -> str:
    name = f"exported_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def _run_script(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _state(url: str) -> tuple[dict[str, bool], str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "select c.relname, c.relrowsecurity from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind = 'r'"
        )
        version: str = await connection.fetchval("select version_num from alembic_version")
    finally:
        await connection.close()
    return {row["relname"]: row["relrowsecurity"] for row in rows}, version


@pytest.mark.postgres
class TestOnPostgres:
    def test_the_sql_builds_the_schema_on_a_fresh_database(
        self, sql: str, postgres_url: str
    ) -> None:
        url = asyncio.run(_fresh_database(postgres_url))

        asyncio.run(_run_script(url, sql))

        security, version = asyncio.run(_state(url))
        assert sorted(security) == sorted([*TABLES, "alembic_version"])
        assert all(security[table] for table in TABLES)
        assert version == head_revision()

    def test_migrations_continue_from_it(
        self, sql: str, postgres_url: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        url = asyncio.run(_fresh_database(postgres_url))
        asyncio.run(_run_script(url, sql))

        # Nothing left to apply: the script recorded the head revision.
        assert migrate.main(["--database-url", url]) == 0

        assert asyncio.run(_state(url))[1] == head_revision()
        assert "Done" in capsys.readouterr().out
