"""Database engine and the one-transaction-per-request session (SQLite or Postgres)."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from itertools import chain
from pathlib import Path
from typing import Any

from pydantic_core import from_json
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, BooleanClauseList, ColumnClause

from app.kit.pool import FairAsyncQueuePool

logger = logging.getLogger("app.db")

AfterCommit = Callable[[], Awaitable[None]]
# Told which rows of a watched table a committed transaction changed, by primary key; None
# when the statement does not say (an UPDATE without `id = ...`), so any row may have changed.
RowsChanged = Callable[[frozenset[Any] | None], Awaitable[None]]
_AFTER_COMMIT = "after_commit"
_MANAGED = "managed_by_transaction"
_CHANGED_ROWS = "changed_rows"
_READ_ONLY = "sqlite_read_only"
SQLITE_POOL_SIZE = 16
POSTGRES_POOL_SIZE = 20
# Below the idle timeouts of Supabase's poolers and common load balancers.
POOL_RECYCLE_SECONDS = 300
# How long a read on the event loop's thread may wait on SQLite's lock (WAL readers almost
# never do: a checkpoint restarting the log is the exception).
LOOP_READER_BUSY_MS = 100
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
        busy_timeout_seconds: float = 3.0,
    ) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        # JSON columns are parsed by pydantic-core's parser (Rust) rather than the json module:
        # the same values, at a fraction of the cost per column of every row read.
        kwargs: dict[str, Any] = {"echo": echo, "json_deserializer": from_json}
        # The SQLite file, when there is one (health reports it missing).
        self.file_path: Path | None = None
        if self.dialect == "sqlite":
            database = self.url.database
            if database and database != ":memory:":
                self.file_path = Path(database)
                self.file_path.parent.mkdir(parents=True, exist_ok=True)
                # Requests beyond the pool wait for a connection rather than open one that is
                # closed again on return: a new one costs a thread and four PRAGMAs.
                kwargs.update(
                    poolclass=FairAsyncQueuePool, pool_size=SQLITE_POOL_SIZE, max_overflow=0
                )
            kwargs["pool_reset_on_return"] = None
            # How long a writer waits for SQLite's write lock; past it the request is answered
            # 503 (busy) within seconds rather than after the driver's default wait.
            kwargs["connect_args"] = {"timeout": busy_timeout_seconds}
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
                # would pay a connect (several round trips) per request. A request waits
                # `pool_timeout` for a free connection, in the order it asked
                # (app.kit.pool), then gets 503.
                kwargs.update(
                    poolclass=FairAsyncQueuePool,
                    pool_recycle=POOL_RECYCLE_SECONDS,
                    pool_size=POSTGRES_POOL_SIZE,
                    max_overflow=0,
                    pool_timeout=10,
                )
        self.statement_cache = bool(statement_cache) and self.dialect == "postgresql"
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine, busy_timeout_ms=int(busy_timeout_seconds * 1000))
        # A class of its own, so the change watchers below see this database's sessions only.
        self._session_class: type[Session] = type("DatabaseSession", (Session,), {})
        self._watchers: dict[str, list[RowsChanged]] = {}
        self._loop_readers: dict[int, Any] = {}
        # Statements compiled for this database by app.kit.reads, by statement identity.
        self.compiled_reads: dict[int, tuple[Any, Any]] = {}
        self.sessionmaker = async_sessionmaker(
            self.engine,
            expire_on_commit=False,
            autoflush=False,
            sync_session_class=self._session_class,
        )
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
            sync_session_class=self._session_class,
        )

    def watches(self, table_name: str) -> bool:
        return table_name in self._watchers

    def watch_rows(self, table_name: str, callback: RowsChanged) -> None:
        """Call `callback` after every commit that changed rows of `table_name` (UPDATE or
        DELETE, through the ORM or an ORM-enabled statement on a session of this database).

        Inside `transaction()` the callback is awaited before the request answers; other
        sessions run it as a task once they commit. Plain `Connection.execute` is not seen.
        """
        if not self._watchers:
            _track_changes(self._session_class, self._watchers)
        self._watchers.setdefault(table_name, []).append(callback)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    def loop_reader(self) -> Any | None:
        """A plain sqlite3 connection of the calling thread, for single indexed SELECTs run
        right there (None off SQLite files).

        Through aiosqlite every cursor call is a hop to the connection's thread and back,
        which costs more than a page read by index. Beside a writer in WAL mode a reader
        neither waits nor blocks; the connection refuses writes (`query_only`).
        """
        if self.file_path is None:
            return None
        key = threading.get_ident()
        reader = self._loop_readers.get(key)
        if reader is None:
            import sqlite3

            reader = sqlite3.connect(self.file_path, isolation_level=None, check_same_thread=False)
            reader.execute("PRAGMA query_only=ON")
            reader.execute(f"PRAGMA busy_timeout={LOOP_READER_BUSY_MS}")
            self._loop_readers[key] = reader
        return reader

    async def dispose(self) -> None:
        readers, self._loop_readers = self._loop_readers, {}
        for reader in readers.values():
            reader.close()
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE so concurrent writers queue instead of failing."""

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine.pool, "reset")
    def on_reset(dbapi_connection: Any, _record: Any, state: Any) -> None:
        # In place of rollback-on-return: a request's session has already committed or rolled
        # back, and a rollback with nothing to undo would still cost a driver thread hop.
        if state.asyncio_safe and dbapi_connection.driver_connection.in_transaction:
            dbapi_connection.rollback()

    dialect = engine.sync_engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    # With no transaction open (a read session never sends BEGIN), COMMIT and ROLLBACK change
    # nothing, yet each costs a round trip to the driver's thread; the driver knows, for free.
    def nothing_open(dbapi_connection: Any) -> bool:
        driver = dbapi_connection.driver_connection
        # A closed connection is left to the driver, which knows what to do with it.
        return driver._connection is not None and not driver.in_transaction

    def do_commit(dbapi_connection: Any) -> None:
        if not nothing_open(dbapi_connection):
            commit(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        if not nothing_open(dbapi_connection):
            rollback(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        # A deferred transaction that reads and then writes can fail with SQLITE_BUSY when
        # another writer committed in between; taking the write lock up front avoids that.
        # Read-only sessions are the exception: they only read, so they need no BEGIN.
        if not connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _primary_keys(where: Any, table_name: str, key: str) -> frozenset[Any] | None:
    """The primary keys a WHERE clause limits rows to (`key = value`, `key IN (...)`, alone or
    ANDed with other conditions), or None when it does not limit them that way."""

    def limited(clause: Any) -> list[Any] | None:
        if not isinstance(clause, BinaryExpression) or not isinstance(clause.right, BindParameter):
            return None
        column = clause.left
        if not isinstance(column, ColumnClause) or column.name != key:
            return None
        if getattr(column.table, "name", None) != table_name:
            return None
        value = clause.right.effective_value
        if clause.operator is operators.eq:
            return [value]
        if clause.operator is operators.in_op and isinstance(value, list | tuple):
            return list(value)
        return None

    clauses = [where]
    if isinstance(where, BooleanClauseList) and where.operator is operators.and_:
        clauses = list(where.clauses)
    for clause in clauses:
        found = limited(clause)
        if found is not None:
            return frozenset(found)
    return None


def _track_changes(session_class: type[Session], watchers: dict[str, list[RowsChanged]]) -> None:
    def note(session: Session, table_name: str, keys: frozenset[Any] | None) -> None:
        changed: dict[str, set[Any] | None] | None = session.info.get(_CHANGED_ROWS)
        if changed is None:
            changed = session.info[_CHANGED_ROWS] = {}
            registered = changed

            async def notify() -> None:
                session.info.pop(_CHANGED_ROWS, None)
                await _notify(registered, watchers)

            after_commit(session, notify)
        if table_name in changed and changed[table_name] is None:
            return
        if keys is None:
            changed[table_name] = None
        else:
            changed.setdefault(table_name, set()).update(keys)  # type: ignore[union-attr]

    @event.listens_for(session_class, "after_flush")
    def after_flush(session: Session, _context: Any) -> None:
        for instance in chain(session.dirty, session.deleted):
            state = inspect(instance)
            table_name = getattr(state.mapper.local_table, "name", None)
            if table_name not in watchers or state.identity is None:
                continue
            if state.deleted or instance in session.deleted or session.is_modified(instance):
                note(session, table_name, frozenset(state.identity[:1]))

    @event.listens_for(session_class, "do_orm_execute")
    def on_execute(state: ORMExecuteState) -> None:
        if not (state.is_update or state.is_delete):
            return
        table = getattr(state.statement, "table", None)
        table_name = getattr(table, "name", None)
        if table_name not in watchers:
            return
        primary_key = list(getattr(table, "primary_key", ()))
        where = getattr(state.statement, "whereclause", None)
        keys = None
        if len(primary_key) == 1 and where is not None:
            keys = _primary_keys(where, table_name, primary_key[0].name)
        note(state.session, table_name, keys)

    @event.listens_for(session_class, "after_commit")
    def on_commit(session: Session) -> None:
        # A session outside `transaction()` has nobody to await the callbacks: run them as a
        # task (background work, which answers nobody).
        if session.info.get(_MANAGED) or _CHANGED_ROWS not in session.info:
            return
        changed = session.info.pop(_CHANGED_ROWS)
        task = asyncio.get_running_loop().create_task(_notify(changed, watchers))
        _background.add(task)
        task.add_done_callback(_background.discard)

    @event.listens_for(session_class, "after_rollback")
    def on_rollback(session: Session) -> None:
        session.info.pop(_CHANGED_ROWS, None)


_background: set[asyncio.Task[None]] = set()


async def _notify(
    changed: dict[str, set[Any] | None], watchers: dict[str, list[RowsChanged]]
) -> None:
    for table_name, keys in changed.items():
        rows = None if keys is None else frozenset(keys)
        for callback in watchers.get(table_name, ()):
            await callback(rows)


async def end_read_only_transaction(session: AsyncSession) -> None:
    """Finish a transaction that has only read, before slow work such as password hashing.

    Otherwise SQLite's write lock (and, on Postgres, a pooled connection) would be held for the
    whole computation. Later statements in the request open a new transaction as usual.
    """
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("the transaction has pending changes; it is not read-only")
    if session.in_transaction():
        await session.commit()


def after_commit(session: AsyncSession | Session, callback: AfterCommit) -> None:
    """Run `callback` once the request's transaction has committed; dropped on rollback."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def after_rollback(session: AsyncSession | Session, callback: AfterCommit) -> None:
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
        session.info[_MANAGED] = True
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
