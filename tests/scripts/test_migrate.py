"""scripts/migrate.py: migrations applied to DATABASE_URL, with unsuitable targets refused."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import asyncpg
import pytest

from app.models import Base
from scripts.migrate import main


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment: no developer .env, no DATABASE_URL, development mode."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ENVIRONMENT", "development")
    return monkeypatch


class TestRefusals:
    def test_no_url(self, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        assert main([]) == 2
        assert "DATABASE_URL is not set" in capsys.readouterr().err

    def test_sqlite_in_production(
        self, env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        env.setenv("ENVIRONMENT", "production")
        env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")

        assert main([]) == 2
        assert "production needs a Postgres" in capsys.readouterr().err
        assert not (tmp_path / "app.db").exists()

    @pytest.mark.parametrize("url", ["mysql://root@localhost/app", "not a url"])
    def test_other_databases(
        self, env: pytest.MonkeyPatch, url: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["--database-url", url]) == 2
        assert capsys.readouterr().err.startswith("migrate: ")


class TestSqlite:
    def test_migrates_a_local_file_from_the_environment(
        self, env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        path = tmp_path / "data" / "app.db"
        env.setenv("DATABASE_URL", f"sqlite:///{path}")

        assert main([]) == 0
        assert main([]) == 0  # a second run has nothing to do

        with sqlite3.connect(path) as connection:
            names = {row[0] for row in connection.execute("select name from sqlite_master")}
        assert set(Base.metadata.tables) <= names


async def _fresh_database(server_url: str) -> str:
    name = f"migrate_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


async def _tables(url: str) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("select tablename from pg_tables where schemaname = 'public'")
    finally:
        await connection.close()
    return {row[0] for row in rows}


@pytest.mark.postgres
class TestPostgres:
    def test_a_postgres_scheme_url_is_accepted(
        self, env: pytest.MonkeyPatch, postgres_url: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        url = asyncio.run(_fresh_database(postgres_url))
        # Hosting providers hand out postgres://; the script picks the driver itself.
        env.setenv("DATABASE_URL", url.replace("postgresql://", "postgres://", 1))
        env.setenv("ENVIRONMENT", "production")

        assert main([]) == 0

        assert asyncio.run(_tables(url)) == {*Base.metadata.tables, "alembic_version"}
        assert "postgresql+asyncpg://" in capsys.readouterr().out
