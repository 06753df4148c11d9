"""Shared fixtures: real PostgreSQL and Redis servers, migrated databases, the app and a client.

Tests that take the `database_url` fixture (directly or through `app`/`client`) run once on
SQLite and once on PostgreSQL. Each test gets empty tables and a fresh in-memory key-value store.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from sqlalchemy import text

from app.config import Settings
from app.kit.db import Database
from app.main import create_app
from app.models import Base
from tests.factories import TestUser, create_user
from tests.support.services import ServiceUnavailable, postgres_server, redis_server
from tests.support.upstash_server import upstash_rest_server

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
# argon2id at its minimum cost, so tests do not spend their time hashing; the production
# parameters have a test class of their own (tests/auth/test_password_hashing.py).
CHEAP_PASSWORD_HASHING = {
    "password_hash_time_cost": 1,
    "password_hash_memory_kib": 8,
    "password_hash_parallelism": 1,
}


def _service_missing(what: str, exc: Exception) -> None:
    message = f"{what} is not available: {exc}"
    if IN_CI:
        pytest.fail(message + " (CI must run the PostgreSQL and Redis tests)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    try:
        with postgres_server() as url:
            yield url
    except ServiceUnavailable as exc:
        _service_missing("PostgreSQL", exc)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    try:
        with redis_server() as url:
            yield url
    except ServiceUnavailable as exc:
        _service_missing("Redis", exc)


UPSTASH_TOKEN = "test-upstash-token"


@pytest.fixture(scope="session")
def upstash_url(redis_url: str) -> Iterator[str]:
    """An Upstash-REST-compatible endpoint in front of the real Redis server."""
    with upstash_rest_server(redis_url, UPSTASH_TOKEN) as url:
        yield url


def run_outside_event_loop(function: Callable[..., object], *args: object) -> None:
    """Run blocking setup that starts its own event loop (Alembic's environment, asyncio.run).

    Such code cannot nest in a running loop, as when a session fixture is first asked for by
    an async fixture; then it runs on a thread of its own.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        function(*args)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(function, *args).result()


def run_migrations(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    config.attributes["configure_logger"] = False
    run_outside_event_loop(command.upgrade, config, "head")


def _asyncpg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _create_database(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "test.db"
    url = f"sqlite+aiosqlite:///{path}"
    run_migrations(url)
    return url


@pytest.fixture(scope="session")
def postgres_database(postgres_url: str) -> str:
    name = f"mugshot_test_{uuid.uuid4().hex[:8]}"
    run_outside_event_loop(asyncio.run, _create_database(postgres_url, name))
    url = _asyncpg_url(postgres_url.rsplit("/", 1)[0] + f"/{name}")
    run_migrations(url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_database")
    return url


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "development",
        "jwt_secret": TEST_JWT_SECRET,
        "frontend_url": "http://frontend.test",
        "public_base_url": "http://test",
        "allowed_origins": "http://frontend.test",
        "rate_limit_signin": 1000,
        "rate_limit_signup": 1000,
        "rate_limit_start": 1000,
        "rate_limit_resend": 1000,
        "rate_limit_forgot": 1000,
        "upstash_redis_rest_url": "",
        "smtp_host": "",
        "log_level": "WARNING",
        # Renders in a thread: a worker pool per test app would start processes in every job
        # test. The render pool's own tests run real worker processes.
        "render_processes": 0,
    }
    # Production refuses the cheap cost, so settings for production keep the real one.
    if overrides.get("environment", "development") == "development":
        values.update(CHEAP_PASSWORD_HASHING)
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url=database_url, data_dir=tmp_path / "data")


async def empty_tables(database: Database) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            quoted = ", ".join(f'"{name}"' for name in tables)
            await connection.execute(text(f"TRUNCATE {quoted} CASCADE"))
        else:
            for name in tables:
                await connection.execute(text(f'DELETE FROM "{name}"'))


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app on its own settings, with empty tables before and after."""
    application = create_app(settings)
    ports = application.state.ports
    await empty_tables(ports.database)
    try:
        yield application
    finally:
        await empty_tables(ports.database)
        await ports.close()


def http_client(app: FastAPI, *, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client whose requests reach the app from the address `peer`, as a socket would."""
    transport = httpx.ASGITransport(app=app, client=(peer, 50123))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(settings) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as http:
        yield http


@pytest.fixture
async def user(app: FastAPI) -> TestUser:
    """A confirmed account with a live session."""
    return await create_user(app)


@pytest.fixture
async def other(app: FastAPI) -> TestUser:
    """A second account, for checking that one person never reaches another's things."""
    return await create_user(app)
