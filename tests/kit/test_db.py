"""The request session: reads beside a writer on SQLite, writers queue, rollbacks undo."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from app.kit.db import Database
from tests.conftest import http_client, make_settings, running_app
from tests.factories import API, create_user


async def test_reads_are_answered_while_a_writer_holds_the_lock(
    sqlite_database: str, tmp_path: Path
):
    settings = make_settings(database_url=sqlite_database, data_dir=tmp_path)
    async with running_app(settings) as app, http_client(app) as client:
        user = await create_user(app)
        async with app.state.ports.database.sessionmaker() as writer:
            # The writer's transaction began IMMEDIATE: it holds the write lock until rollback.
            await writer.execute(text("UPDATE users SET bio = 'held' WHERE id IS NULL"))
            me = await client.get(f"{API}/auth/me", headers=user.headers)
            assert me.status_code == 200
            assert writer.in_transaction()
            await writer.rollback()


async def test_writers_wait_for_each_other_instead_of_failing(sqlite_database: str, tmp_path: Path):
    settings = make_settings(database_url=sqlite_database, data_dir=tmp_path)
    async with running_app(settings) as app, http_client(app) as client:
        user = await create_user(app)
        database = app.state.ports.database
        async with database.sessionmaker() as writer:
            await writer.execute(text("UPDATE users SET bio = 'first' WHERE id IS NULL"))
            patch = asyncio.create_task(
                client.patch(f"{API}/profile", json={"bio": "second"}, headers=user.headers)
            )
            await asyncio.sleep(0.2)
            # The PATCH is queued on the busy timeout behind the open write transaction.
            assert not patch.done()
            await writer.commit()
        response = await patch
        assert response.status_code == 200
        assert response.json()["bio"] == "second"


class TestPostgresEngine:
    """Which asyncpg options a URL gets; the engine connects lazily, so no server is needed."""

    def test_statement_cache_on_for_a_direct_connection(self):
        database = Database("postgresql+asyncpg://app:secret@db.example.com:5432/postgres")
        assert database.statement_cache
        assert not database.engine.pool._pre_ping

    @pytest.mark.parametrize(
        "url",
        [
            "postgresql+asyncpg://app:secret@aws-0-eu.pooler.supabase.com:6543/postgres",
            "postgresql+asyncpg://app:secret@pgbouncer.internal:5432/app?pgbouncer=true",
        ],
    )
    def test_statement_cache_off_behind_a_transaction_pooler(self, url: str):
        database = Database(url)
        assert not database.statement_cache
        # Our flag, not a server setting: asyncpg must not send it on.
        assert "pgbouncer" not in database.url.query

    def test_the_setting_overrides_the_guess(self):
        url = "postgresql+asyncpg://app:secret@db.example.com:5432/postgres"
        assert not Database(url, statement_cache=False).statement_cache


def test_uvicorn_extras_stay_out_of_the_vercel_bundle():
    root = Path(__file__).resolve().parents[2]
    runtime = (root / "requirements.txt").read_text().lower()
    server = (root / "requirements-server.txt").read_text().lower()
    for package in ("uvloop", "httptools"):
        assert package not in runtime
        assert f"{package}==" in server
