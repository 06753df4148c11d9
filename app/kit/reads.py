"""Hot reads straight through the driver: one compiled SELECT, one call, no ORM session.

A list page or a row by key is one SELECT, and one SELECT outside a transaction reads one
committed snapshot, as the read sessions' statements do. The ORM session around it costs far
more than the query: the unit of work, the identity map, an instance per row and, on SQLite,
a driver thread hop for each cursor call (four per statement). Here a statement is compiled
once per database and its parameters go through the column types' own bind processors. The
driver then runs it in a single call:

- Postgres: asyncpg's `fetch` outside a transaction, so it autocommits; asyncpg's statement
  cache keeps it prepared (unless a transaction pooler turned the cache off).
- SQLite: a plain sqlite3 connection on the calling thread (`Database.loop_reader`): an
  indexed page costs less there than the thread hop aiosqlite would make to run it.

`fetch_rows` returns the values the ORM would load. `fetch_models` hands the driver's values
to a Pydantic model as they are wherever Pydantic reads them to the same value (UUID text,
timestamps, numbers), so a row costs one validation in Rust rather than a Python call per
column.

Statements must be built once (module level, or memoised per shape, as `KeysetList` does) with
`bindparam()` for every value that changes per request: compiling is the expensive part, and
it happens once per statement object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import from_json
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    Float,
    Integer,
    Numeric,
    Select,
    String,
    TypeDecorator,
    Uuid,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.util import await_, greenlet_spawn

from app.kit.db import Database
from app.kit.pagination import Cursor, PageParams, Window
from app.models.base import UTCDateTime

Row = dict[str, Any]
# Any SELECT, whatever its columns.
Statement = Select[*tuple[Any, ...]]
ModelT = TypeVar("ModelT", bound=BaseModel)
Processor = Callable[[Any], Any]

# Column types whose driver values a Pydantic field reads as the ORM's value, per dialect
# (subclasses that are TypeDecorators or Enums are not among them, unless named here).
_PLAIN = (Integer, String, Boolean, Date)


def _sqlite_timestamp(value: str) -> str:
    # SQLite keeps UTC timestamps as naive ISO text; say which zone it is.
    return value if value.endswith(("Z", "+00:00")) else value + "+00:00"


def _json_value(value: Any) -> Any:
    # asyncpg decodes JSON through the codec SQLAlchemy registers; SQLite hands back text.
    return from_json(value) if isinstance(value, str) else value


def _is_plain(kind: Any) -> bool:
    return isinstance(kind, _PLAIN) and not isinstance(kind, TypeDecorator | Enum)


def _plain_number(kind: Any) -> bool:
    """A float column read as floats, or a numeric one as Decimals: what the drivers give."""
    if not isinstance(kind, Numeric | Float) or isinstance(kind, TypeDecorator):
        return False
    return (isinstance(kind, Float) and not kind.asdecimal) or (
        not isinstance(kind, Float) and bool(kind.asdecimal)
    )


def _result_processor(kind: Any, dialect: Dialect) -> Processor | None:
    if dialect.name == "postgresql" and isinstance(kind, Numeric | Float):
        # SQLAlchemy's asyncpg processors want the type the server reports; asyncpg's own
        # values already are what they would return.
        if not _plain_number(kind):
            raise ValueError(f"{kind!r}: not supported on the read path")
        return None
    processor: Processor | None = kind.dialect_impl(dialect).result_processor(dialect, None)
    return processor


def _model_input(kind: Any, dialect: Dialect, processor: Processor | None) -> Processor | None:
    """What turns the driver's value into one a model field reads to the ORM's value."""
    if isinstance(kind, JSON):
        return _json_value
    if dialect.name == "sqlite":
        if isinstance(kind, UTCDateTime):
            return _sqlite_timestamp
        if (isinstance(kind, Uuid) and kind.as_uuid) or _is_plain(kind) or _plain_number(kind):
            return None  # UUIDs as hex text, numbers and text as they are
        return processor
    if isinstance(kind, UTCDateTime):
        return None  # timestamptz comes back aware, in UTC
    if (isinstance(kind, Uuid) and kind.as_uuid) or _is_plain(kind) or _plain_number(kind):
        return None
    return processor


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    binds: tuple[Processor | None, ...]
    keys: tuple[str, ...]
    # (column key, processor) for the columns whose values need one.
    results: tuple[tuple[str, Processor], ...]
    model_inputs: tuple[tuple[str, Processor], ...]


def _compile(statement: Statement, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    names = tuple(compiled.positiontup or ())
    binds = []
    defaults: dict[str, Any] = {}
    for name in names:
        bind = compiled.binds[name]
        if bind.expanding:
            raise ValueError(f"expanding parameter {name!r}: not supported on the read path")
        if not bind.required:
            defaults[name] = bind.effective_value
        binds.append(bind.type.dialect_impl(dialect).bind_processor(dialect))
    results: list[tuple[str, Processor]] = []
    model_inputs: list[tuple[str, Processor]] = []
    keys = tuple(str(column.key) for column in statement.selected_columns)
    for key, column in zip(keys, statement.selected_columns, strict=True):
        processor = _result_processor(column.type, dialect)
        if processor is not None:
            results.append((key, processor))
        given = _model_input(column.type, dialect, processor)
        if given is not None:
            model_inputs.append((key, given))
    return _Compiled(
        sql=str(compiled),
        names=names,
        defaults=defaults,
        binds=tuple(binds),
        keys=keys,
        results=tuple(results),
        model_inputs=tuple(model_inputs),
    )


def _compiled(database: Database, statement: Statement) -> _Compiled:
    cache = database.compiled_reads
    found = cache.get(id(statement))
    if found is None or found[0] is not statement:
        found = (statement, _compile(statement, database.engine.dialect))
        cache[id(statement)] = found
    compiled: _Compiled = found[1]
    return compiled


def _arguments(compiled: _Compiled, params: Mapping[str, Any]) -> tuple[Any, ...]:
    values = []
    for name, process in zip(compiled.names, compiled.binds, strict=True):
        value = params[name] if name in params else compiled.defaults[name]
        values.append(process(value) if process is not None and value is not None else value)
    return tuple(values)


def _translated(
    error: Exception,
    compiled: _Compiled,
    arguments: tuple[Any, ...],
    dialect: Dialect,
    *,
    invalidated: bool = False,
) -> sa_exc.StatementError:
    """The driver's error as SQLAlchemy raises its own (what the outage handling reads)."""
    return sa_exc.DBAPIError.instance(
        compiled.sql,
        arguments,
        error,
        Exception,
        connection_invalidated=invalidated,
        dialect=dialect,
    )


def _run_pooled(database: Database, compiled: _Compiled, arguments: tuple[Any, ...]) -> Any:
    """In SQLAlchemy's greenlet: check a connection out, run the statement, check it in."""
    engine = database.engine.sync_engine
    fairy = engine.pool.connect()
    try:
        driver: Any = fairy.driver_connection
        try:
            if database.dialect == "sqlite":
                return await_(driver.execute_fetchall(compiled.sql, arguments))
            return await_(driver.fetch(compiled.sql, *arguments))
        except Exception as error:
            # A connection that broke is not handed to the next request.
            broken = isinstance(error, OSError) or bool(
                getattr(driver, "is_closed", lambda: False)()
            )
            if broken:
                fairy.invalidate(error)
            raise _translated(
                error, compiled, arguments, engine.dialect, invalidated=broken
            ) from error
    finally:
        fairy.close()


async def _fetch(
    database: Database, statement: Statement, params: Mapping[str, Any] | None
) -> tuple[_Compiled, Any]:
    compiled = _compiled(database, statement)
    arguments = _arguments(compiled, params or {})
    reader = database.loop_reader()
    if reader is None:
        return compiled, await greenlet_spawn(_run_pooled, database, compiled, arguments)
    try:
        return compiled, reader.execute(compiled.sql, arguments).fetchall()
    except Exception as error:
        raise _translated(error, compiled, arguments, database.engine.dialect) from error


def _processed(values: Any, keys: tuple[str, ...], steps: tuple[tuple[str, Processor], ...]) -> Row:
    row = dict(zip(keys, values, strict=True))
    for key, step in steps:
        value = row[key]
        if value is not None:
            row[key] = step(value)
    return row


async def fetch_rows(
    database: Database, statement: Statement, params: Mapping[str, Any] | None = None
) -> list[Row]:
    """Run `statement` with `params` (by bind name): rows as dicts by column key, holding
    the values the ORM would load."""
    compiled, raw = await _fetch(database, statement, params)
    return [_processed(values, compiled.keys, compiled.results) for values in raw]


async def fetch_models(
    database: Database,
    statement: Statement,
    model: type[ModelT],
    params: Mapping[str, Any] | None = None,
) -> list[ModelT]:
    """Run `statement` and validate each row into `model`, whose fields are named as the
    statement's columns."""
    compiled, raw = await _fetch(database, statement, params)
    keys, steps, validate = compiled.keys, compiled.model_inputs, model.model_validate
    return [validate(_processed(values, keys, steps)) for values in raw]


@dataclass(frozen=True, slots=True)
class _Shape:
    filters: frozenset[str]
    cursor: bool
    offset: bool


class KeysetList:
    """One list read a page at a time in `(timestamp, id)` order, through `fetch_models`.

    `build(filters)` returns the list's filtered, unordered SELECT for the names of the
    filters a request uses, with a `bindparam()` of that name for each. The page statement
    (cursor, limit and offset as parameters too) and the count are built once per shape.
    """

    def __init__(
        self,
        build: Callable[[frozenset[str]], Statement],
        *,
        timestamp: Any,
        id: Any,
        newest_first: bool = True,
    ) -> None:
        self._build = build
        self._timestamp = timestamp
        self._id = id
        self._newest_first = newest_first
        self._pages: dict[_Shape, Statement] = {}
        self._counts: dict[frozenset[str], Statement] = {}

    def page_statement(self, shape: _Shape) -> Statement:
        statement = self._pages.get(shape)
        if statement is None:
            statement = self._pages[shape] = self._page(shape)
        return statement

    def _page(self, shape: _Shape) -> Statement:
        query = self._build(shape.filters)
        timestamp, row_id = self._timestamp, self._id
        if shape.cursor:
            at = bindparam("cursor_at", type_=timestamp.type)
            last = bindparam("cursor_id", type_=row_id.type)
            # A range on the index's leading order columns: a deep page costs what the
            # first one does.
            if self._newest_first:
                query = query.where(timestamp <= at, or_(timestamp < at, row_id < last))
            else:
                query = query.where(timestamp >= at, or_(timestamp > at, row_id > last))
        order = (
            (timestamp.desc(), row_id.desc())
            if self._newest_first
            else (timestamp.asc(), row_id.asc())
        )
        query = query.order_by(*order).limit(bindparam("page_limit", type_=Integer()))
        if shape.offset:
            query = query.offset(bindparam("page_offset", type_=Integer()))
        return query

    def count_statement(self, filters: frozenset[str]) -> Statement:
        statement = self._counts.get(filters)
        if statement is None:
            query = self._build(filters).subquery()
            statement = self._counts[filters] = select(func.count().label("total")).select_from(
                query
            )
        return statement

    async def window(
        self, database: Database, page: PageParams, model: type[ModelT], **filters: Any
    ) -> Window[ModelT]:
        """One page, validated into `model`; filters given as None are not applied."""
        args = {name: value for name, value in filters.items() if value is not None}
        used = frozenset(args)
        total = None
        if page.include_total:
            [counted] = await fetch_rows(database, self.count_statement(used), args)
            total = int(counted["total"])
        shape = _Shape(filters=used, cursor=page.cursor is not None, offset=page.offset > 0)
        params = {**args, "page_limit": page.limit + 1}
        if page.cursor is not None:
            params["cursor_at"] = page.cursor.at
            params["cursor_id"] = page.cursor.id
        if page.offset:
            params["page_offset"] = page.offset
        rows = await fetch_models(database, self.page_statement(shape), model, params)
        next_cursor = None
        if len(rows) > page.limit:
            rows = rows[: page.limit]
            last = rows[-1]
            next_cursor = Cursor(
                at=getattr(last, self._timestamp.key), id=getattr(last, self._id.key)
            ).encode()
        return Window(rows=rows, params=page, total=total, next_cursor=next_cursor)
