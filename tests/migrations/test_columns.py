"""After the migrations, every table has exactly the columns (and nullability) of its model."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.models import Base


async def _columns(url: str) -> dict[str, dict[str, bool]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:

            def read(sync_connection: object) -> dict[str, dict[str, bool]]:
                inspector = inspect(sync_connection)
                return {
                    table: {c["name"]: bool(c["nullable"]) for c in inspector.get_columns(table)}
                    for table in Base.metadata.tables
                }

            return await connection.run_sync(read)
    finally:
        await engine.dispose()


def test_migrated_columns_match_the_models(database_url: str) -> None:
    migrated = asyncio.run(_columns(database_url))
    for name, table in Base.metadata.tables.items():
        expected = {column.name: bool(column.nullable) for column in table.columns}
        assert migrated[name] == expected, name


def test_job_outputs_columns_exist(database_url: str) -> None:
    migrated = asyncio.run(_columns(database_url))
    assert migrated["jobs"]["kind"] is False
    for column in ("output_format", "duration_seconds", "aspect_ratio"):
        assert migrated["jobs"][column] is True
    assert migrated["renders"]["poster_path"] is True
