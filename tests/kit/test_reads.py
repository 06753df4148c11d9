"""The driver-level read path: the same values as the ORM, one statement, errors as SQLAlchemy's."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import bindparam, insert, literal, literal_column, select, text
from sqlalchemy import exc as sa_exc

from app.kit.db import Database
from app.kit.reads import Statement, fetch_models, fetch_rows
from app.models import Project
from app.projects.schemas import ProjectOut
from tests.factories import API, TestUser, create_user

START = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


async def insert_varied_projects(database: Database, user: TestUser) -> list[uuid.UUID]:
    """Projects with every kind of column filled in, and left empty."""
    ids = [uuid.uuid4() for _ in range(4)]
    rows: list[dict[str, Any]] = []
    for index, row_id in enumerate(ids):
        rows.append(
            {
                "id": row_id,
                "user_id": uuid.UUID(user.id),
                "platform": "youtube",
                "width": 1280 + index,
                "height": 720,
                "headline": f"Näive “quotes” {index}",
                "subtext": None if index % 2 else "subtext",
                "vibe": "neon" if index % 2 else None,
                "selfie_asset_ids": [str(uuid.uuid4())] if index % 2 else [],
                "ref_asset_ids": [str(uuid.uuid4()), str(uuid.uuid4())] if index else [],
                "copy_target_asset_id": uuid.uuid4() if index == 3 else None,
                "headline_scale": 1.25 + index / 8,
                "background_color": "#ff0000" if index % 2 else None,
                "created_at": START + timedelta(microseconds=index),
                "updated_at": START + timedelta(days=index, microseconds=7),
            }
        )
    async with database.engine.begin() as connection:
        await connection.execute(insert(Project), rows)
    return ids


OWNED = (
    select(*Project.__table__.c)
    .where(Project.user_id == bindparam("user_id"))
    .order_by(Project.created_at)
)


async def orm_rows(database: Database, user: TestUser) -> list[Project]:
    async with database.sessionmaker() as session:
        query = (
            select(Project)
            .where(Project.user_id == uuid.UUID(user.id))
            .order_by(Project.created_at)
        )
        return list(await session.scalars(query))


class TestValues:
    async def test_rows_hold_what_the_orm_loads(self, app: FastAPI) -> None:
        database: Database = app.state.ports.database
        user = await create_user(app)
        await insert_varied_projects(database, user)
        rows = await fetch_rows(database, OWNED, {"user_id": uuid.UUID(user.id)})
        loaded = await orm_rows(database, user)
        assert len(rows) == len(loaded) == 4
        for row, project in zip(rows, loaded, strict=True):
            expected = {column.key: getattr(project, column.key) for column in Project.__table__.c}
            assert row == expected
            assert row["created_at"].tzinfo is not None
            assert isinstance(row["id"], uuid.UUID)

    async def test_models_equal_the_models_of_orm_rows(self, app: FastAPI) -> None:
        database: Database = app.state.ports.database
        user = await create_user(app)
        await insert_varied_projects(database, user)
        models = await fetch_models(database, OWNED, ProjectOut, {"user_id": uuid.UUID(user.id)})
        expected = [ProjectOut.model_validate(row) for row in await orm_rows(database, user)]
        assert models == expected
        assert [m.model_dump_json() for m in models] == [e.model_dump_json() for e in expected]

    async def test_values_written_in_the_statement_and_repeated_parameters(
        self, app: FastAPI
    ) -> None:
        database: Database = app.state.ports.database
        user = await create_user(app)
        ids = await insert_varied_projects(database, user)
        statement = select(Project.id, literal(7).label("seven")).where(
            Project.user_id == bindparam("user_id"),
            Project.width >= bindparam("width"),
            Project.width <= bindparam("width") + 1,
        )
        rows = await fetch_rows(database, statement, {"user_id": uuid.UUID(user.id), "width": 1281})
        assert sorted(row["id"] for row in rows) == sorted(ids[1:3])
        assert {row["seven"] for row in rows} == {7}

    async def test_another_users_rows_are_not_read(self, app: FastAPI) -> None:
        database: Database = app.state.ports.database
        owner, other = await create_user(app), await create_user(app)
        await insert_varied_projects(database, owner)
        assert await fetch_rows(database, OWNED, {"user_id": uuid.UUID(other.id)}) == []


class TestLoopReader:
    async def test_refuses_writes(self, app: FastAPI) -> None:
        database: Database = app.state.ports.database
        reader = database.loop_reader()
        if database.dialect != "sqlite":
            assert reader is None
            return
        assert reader is not None
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.execute("DELETE FROM projects")

    async def test_sees_what_a_session_just_committed(
        self, app: FastAPI, client: httpx.AsyncClient, user: TestUser
    ) -> None:
        for index in range(3):
            created = await client.post(
                f"{API}/projects", json={"headline": f"Fresh {index}"}, headers=user.headers
            )
            listed = await client.get(f"{API}/projects", headers=user.headers)
            assert listed.json()["items"][0]["id"] == created.json()["id"]
            assert len(listed.json()["items"]) == index + 1

    async def test_in_memory_databases_read_through_the_pool(self) -> None:
        database = Database("sqlite+aiosqlite:///:memory:")
        try:
            assert database.loop_reader() is None
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            statement: Statement = select(
                literal(3).label("three"), bindparam("word").label("word")
            )
            assert await fetch_rows(database, statement, {"word": "hi"}) == [
                {"three": 3, "word": "hi"}
            ]
        finally:
            await database.dispose()


class TestFailures:
    async def test_sqlite_busy_is_answered_503(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        user: TestUser,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        database: Database = app.state.ports.database
        if database.dialect != "sqlite":
            pytest.skip("the loop's reader is SQLite's")

        class Busy:
            def execute(self, *_: Any) -> Any:
                # What sqlite3 raises once the busy timeout has run out.
                raise sqlite3.OperationalError("database is locked")

        with monkeypatch.context() as patched:
            patched.setattr(database, "loop_reader", Busy)
            response = await client.get(f"{API}/projects", headers=user.headers)
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"]
        assert (await client.get(f"{API}/projects", headers=user.headers)).status_code == 200

    async def test_a_dropped_postgres_connection_is_replaced(
        self, app: FastAPI, client: httpx.AsyncClient, user: TestUser
    ) -> None:
        database: Database = app.state.ports.database
        if database.dialect != "postgresql":
            pytest.skip("server connections are Postgres'")
        assert (await client.get(f"{API}/projects", headers=user.headers)).status_code == 200
        url = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
        killer = await asyncpg.connect(url)
        try:
            await killer.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await killer.close()
        answers = [
            (await client.get(f"{API}/projects", headers=user.headers)).status_code
            for _ in range(3)
        ]
        # The request that met the dead connection may answer 503; the pool then serves
        # from a new one.
        assert answers[-1] == 200, answers
        assert set(answers) <= {200, 503}

    async def test_driver_errors_arrive_as_sqlalchemy_errors(self, app: FastAPI) -> None:
        database: Database = app.state.ports.database
        statement: Statement = select(literal_column("no_such_column")).select_from(
            Project.__table__
        )
        with pytest.raises(sa_exc.DBAPIError):
            await fetch_rows(database, statement)
