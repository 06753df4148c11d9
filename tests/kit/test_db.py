"""The request session: reads beside a writer on SQLite, writers queue, rollbacks undo."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

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
