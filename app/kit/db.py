"""Database engine and the one-transaction-per-request session (SQLite or Postgres)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

logger = logging.getLogger("app.db")

AfterCommit = Callable[[], Awaitable[None]]
_AFTER_COMMIT = "after_commit"
_READ_ONLY = "sqlite_read_only"
SQLITE_POOL_SIZE = 16
POSTGRES_POOL_SIZE = 20
# Below the idle timeouts of Supabase's poolers and common load balancers.
POOL_RECYCLE_SECONDS = 300
_AFTER_ROLLBACK = "after_rollback"


# Supabase's transaction pooler (Supavisor/PgBouncer in transaction mode) listens on 6543.
TRANSACTION_POOLER_PORT = 6543


def behind_transaction_pooler(url: URL) -> bool:
    """Whether the URL names a pooler that hands each transaction to any server connection,
    so prepared statements cannot be kept: port 6543, or `?pgbouncer=true` as Prisma spells it."""
    flag = str(url.query.get("pgbouncer", "")).lower()
    return url.port == TRANSACTION_POOLER_PORT or flag in ("true", "1")


class Database:
    """Owns the engine and hands out sessions; one per process, created lazily by the app."""

    def __init__(
        self,
        url: str,
        *,
        serverless: bool = False,
        echo: bool = False,
        statement_cache: bool | None = None,
    ) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            database = self.url.database
            kwargs["connect_args"] = {"timeout": 30}
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                # Requests beyond the pool wait for a connection rather than open one that is
                # closed again on return: a new one costs a thread and four PRAGMAs.
                kwargs.update(pool_size=SQLITE_POOL_SIZE, max_overflow=0)
            kwargs["pool_reset_on_return"] = None
        elif self.dialect == "postgresql":
            if statement_cache is None:
                statement_cache = not behind_transaction_pooler(self.url)
            # asyncpg would send the flag to the server as a setting; it is ours, not theirs.
            self.url = self.url.difference_update_query(["pgbouncer"])
            if not statement_cache:
                # A transaction pooler cannot keep prepared statements across transactions.
                kwargs["connect_args"] = {
                    "statement_cache_size": 0,
                    "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4().hex}__",
                }
            if serverless:
                kwargs["poolclass"] = NullPool
            else:
                # No pre-ping: it costs a round trip on every checkout. Connections are
                # replaced before servers and poolers drop idle ones, and one that broke
                # anyway is invalidated by the error it raises (the request answers 503).
                # No overflow either: an overflow connection is closed on return, so bursts
                # would pay a connect (several round trips) per request.
                kwargs.update(
                    pool_recycle=POOL_RECYCLE_SECONDS, pool_size=POSTGRES_POOL_SIZE, max_overflow=0
                )
        self.statement_cache = bool(statement_cache) and self.dialect == "postgresql"
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # For requests that only read (GET, HEAD): no BEGIN and no COMMIT, each SELECT reads
        # its own committed snapshot, as every statement of a READ COMMITTED transaction
        # would on Postgres. That saves two round trips there, and on SQLite (WAL: readers
        # beside a writer) the driver thread hops of an explicit BEGIN.
        read_options = (
            {"isolation_level": "AUTOCOMMIT"}
            if self.dialect == "postgresql"
            else {_READ_ONLY: True}
        )
        self.read_sessionmaker = async_sessionmaker(
            self.engine.execution_options(**read_options),
            expire_on_commit=False,
            autoflush=False,
        )

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE so concurrent writers queue instead of failing."""

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine.pool, "reset")
    def on_reset(dbapi_connection: Any, _record: Any, state: Any) -> None:
        # In place of rollback-on-return: a request's session has already committed or rolled
        # back, and a rollback with nothing to undo would still cost a driver thread hop.
        if state.asyncio_safe and dbapi_connection.driver_connection.in_transaction:
            dbapi_connection.rollback()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        # A deferred transaction that reads and then writes can fail with SQLITE_BUSY when
        # another writer committed in between; taking the write lock up front avoids that.
        # Read-only sessions are the exception: they only read, so they need no BEGIN.
        if not connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


async def end_read_only_transaction(session: AsyncSession) -> None:
    """Finish a transaction that has only read, before slow work such as password hashing.

    Otherwise SQLite's write lock (and, on Postgres, a pooled connection) would be held for the
    whole computation. Later statements in the request open a new transaction as usual.
    """
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("the transaction has pending changes; it is not read-only")
    if session.in_transaction():
        await session.commit()


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the request's transaction has committed; dropped on rollback."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def after_rollback(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` if the request's transaction does not commit (undo work done outside it)."""
    session.info.setdefault(_AFTER_ROLLBACK, []).append(callback)


async def _run_callbacks(session: AsyncSession, key: str) -> None:
    callbacks: list[AfterCommit] = session.info.pop(key, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            logger.exception("%s work failed", key.replace("_", "-"))


async def run_after_commit(session: AsyncSession) -> None:
    session.info.pop(_AFTER_ROLLBACK, None)
    await _run_callbacks(session, _AFTER_COMMIT)


async def run_after_rollback(session: AsyncSession) -> None:
    session.info.pop(_AFTER_COMMIT, None)
    await _run_callbacks(session, _AFTER_ROLLBACK)


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """Yield a session that commits at the end, or rolls back if the body raised."""
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            await run_after_rollback(session)
            raise
        try:
            await session.commit()
        except BaseException:
            await run_after_rollback(session)
            raise
        await run_after_commit(session)
