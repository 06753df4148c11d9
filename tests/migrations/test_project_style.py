"""Migration 0009: the project style columns and message edits agree with the models on both
databases, and the revision goes down and up again cleanly."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.models import Base
from tests.conftest import ROOT, _asyncpg_url, _create_database, run_outside_event_loop

TABLES = {"projects", "chat_messages"}
NEW_COLUMNS = {
    "projects": {"background_color", "accent_color", "headline_scale", "person_side"},
    "chat_messages": {"edits"},
}


def _config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    config.attributes["configure_logger"] = False
    return config


def _touches_our_tables(diff: Any) -> bool:
    text = repr(diff)
    return any(f"'{table}'" in text or f"{table}." in text for table in TABLES)


async def _inspect(url: str) -> tuple[list[Any], dict[str, set[str]]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:

            def read(sync_connection: Any) -> tuple[list[Any], dict[str, set[str]]]:
                diffs = compare_metadata(MigrationContext.configure(sync_connection), Base.metadata)
                inspector = inspect(sync_connection)
                columns = {
                    table: {column["name"] for column in inspector.get_columns(table)}
                    for table in TABLES
                }
                return diffs, columns

            return await connection.run_sync(read)
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    server: str = request.getfixturevalue("postgres_url")
    name = f"mugshot_style_{uuid.uuid4().hex[:8]}"
    run_outside_event_loop(asyncio.run, _create_database(server, name))
    return _asyncpg_url(server.rsplit("/", 1)[0] + f"/{name}")


# SQLite cannot reflect the expression indexes on users; they are not this revision's.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection")
@pytest.mark.filterwarnings("ignore:autogenerate skipping")
def test_models_and_migration_agree_and_the_revision_round_trips(fresh_url: str) -> None:
    config = _config(fresh_url)
    run_outside_event_loop(command.upgrade, config, "head")
    diffs, columns = asyncio.run(_inspect(fresh_url))
    assert [diff for diff in diffs if _touches_our_tables(diff)] == []
    for table, names in NEW_COLUMNS.items():
        assert names <= columns[table]

    previous = ScriptDirectory.from_config(config).get_revision("0009_project_style").down_revision
    assert isinstance(previous, str)
    run_outside_event_loop(command.downgrade, config, previous)
    _, columns = asyncio.run(_inspect(fresh_url))
    for table, names in NEW_COLUMNS.items():
        assert not names & columns[table]

    run_outside_event_loop(command.upgrade, config, "head")
    _, columns = asyncio.run(_inspect(fresh_url))
    assert NEW_COLUMNS["projects"] <= columns["projects"]
