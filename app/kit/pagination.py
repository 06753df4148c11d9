"""Pagination for every list: keyset cursors on `(created_at, id)`, limit/offset for older
clients, an opt-in exact total, and the one page envelope."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.kit.errors import Unprocessable

MAX_LIMIT = 100

# The largest value a 64-bit SQL integer holds (SQLite's and Postgres' BIGINT).
MAX_OFFSET = 2**63 - 1


class InvalidCursor(Unprocessable):
    code = "invalid_cursor"
    message = "The cursor is not one this list handed out; start again without it."


@dataclass(frozen=True, slots=True)
class Cursor:
    """The position after a row: its sort time (creation, for most lists) and its id, which
    breaks ties."""

    at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps([self.at.isoformat(), self.id.hex], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            at, row_id = json.loads(raw)
            cursor = cls(at=datetime.fromisoformat(at), id=uuid.UUID(hex=row_id))
        except (binascii.Error, ValueError, TypeError, AttributeError) as exc:
            raise InvalidCursor() from exc
        if cursor.at.tzinfo is None:
            raise InvalidCursor()
        return cursor


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int
    cursor: Cursor | None
    include_total: bool


async def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (1-{MAX_LIMIT}).")
    ] = 20,
    offset: Annotated[
        int,
        Query(ge=0, le=MAX_OFFSET, description="Items to skip (prefer `cursor`: it stays fast)."),
    ] = 0,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="`next_cursor` of the previous page."),
    ] = None,
    include_total: Annotated[
        bool, Query(description="Count every matching item into `total` (costs a scan).")
    ] = False,
) -> PageParams:
    decoded = Cursor.decode(cursor) if cursor else None
    if decoded is not None and offset:
        raise InvalidCursor("Use either `cursor` or `offset`, not both.")
    return PageParams(limit=limit, offset=offset, cursor=decoded, include_total=include_total)


PageParamsDep = Annotated[PageParams, Depends(page_params)]

RowT = TypeVar("RowT")
ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class Window(Generic[RowT]):
    """One page of rows as the database returned them, before they become API items."""

    rows: list[RowT]
    params: PageParams
    total: int | None
    next_cursor: str | None


async def fetch_window(
    session: AsyncSession,
    query: Select[RowT],
    *,
    params: PageParams,
    timestamp: InstrumentedAttribute[datetime],
    id: InstrumentedAttribute[uuid.UUID],
    newest_first: bool = True,
) -> Window[RowT]:
    """Run `query` (filtered, not ordered) for one page in `(timestamp, id)` order.

    The cursor condition is a range on the index's leading order columns, so a deep page
    costs what the first one does; one extra row says whether there is a next page.
    """
    total = None
    if params.include_total:
        total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    if params.cursor is not None:
        at, last_id = params.cursor.at, params.cursor.id
        if newest_first:
            query = query.where(timestamp <= at, or_(timestamp < at, id < last_id))
        else:
            query = query.where(timestamp >= at, or_(timestamp > at, id > last_id))
    order = (timestamp.desc(), id.desc()) if newest_first else (timestamp.asc(), id.asc())
    query = query.order_by(*order).limit(params.limit + 1)
    if params.offset:
        query = query.offset(params.offset)
    rows: list[RowT] = list(await session.scalars(query))
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last: Any = rows[-1]
        next_cursor = Cursor(at=getattr(last, timestamp.key), id=getattr(last, id.key)).encode()
    return Window(rows=rows, params=params, total=total, next_cursor=next_cursor)


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int | None = Field(description="Every matching item; only with `include_total=true`.")
    limit: int
    offset: int
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )

    @classmethod
    def of(cls, window: Window[Any], items: Sequence[ItemT]) -> Page[ItemT]:
        return cls(
            items=list(items),
            total=window.total,
            limit=window.params.limit,
            offset=window.params.offset,
            next_cursor=window.next_cursor,
        )


# Lists documented as plain arrays (chat messages) carry the page in headers instead.
TOTAL_HEADER = "X-Total-Count"
NEXT_CURSOR_HEADER = "X-Next-Cursor"
PAGE_HEADERS_OPENAPI: dict[str, Any] = {
    TOTAL_HEADER: {
        "description": "Every matching item; only with `include_total=true` (costs a count).",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Link": {
        "description": 'The next page, `<path?cursor=…&limit=…>; rel="next"`; absent at the end.',
        "schema": {"type": "string"},
    },
    NEXT_CURSOR_HEADER: {
        "description": "The `cursor` of the next page (the one in `Link`); absent at the end.",
        "schema": {"type": "string"},
    },
}


def page_headers(
    window: Window[Any], *, path: str, query: Sequence[tuple[str, str]]
) -> dict[str, str]:
    """`X-Total-Count`, and `Link`/`X-Next-Cursor` for the page after this one.

    The link is relative (the path and query of the request with the cursor moved on), never
    built from the Host header a client sent.
    """
    headers: dict[str, str] = {}
    if window.total is not None:
        headers[TOTAL_HEADER] = str(window.total)
    if window.next_cursor is not None:
        kept = [(name, value) for name, value in query if name not in {"cursor", "offset"}]
        if not any(name == "limit" for name, _ in kept):
            kept.append(("limit", str(window.params.limit)))
        kept.append(("cursor", window.next_cursor))
        headers["Link"] = f'<{path}?{urlencode(kept)}>; rel="next"'
        headers[NEXT_CURSOR_HEADER] = window.next_cursor
    return headers
