"""Keyset pagination over HTTP: cursors walk every row once, refuse what they did not issue,
and never reach another user's rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, insert

from app.kit.pagination import Cursor
from app.models import Chat, ChatMessage, Project
from tests.auth.test_router import assert_error
from tests.factories import API, TestUser, create_project, create_user

START = datetime(2026, 1, 1, tzinfo=UTC)


async def insert_projects(app: FastAPI, user: TestUser, count: int) -> list[str]:
    """Projects in pairs that share a creation time, so the id has to break ties."""
    rows: list[dict[str, Any]] = [
        {
            "id": uuid.uuid4(),
            "user_id": uuid.UUID(user.id),
            "platform": "youtube",
            "width": 1280,
            "height": 720,
            "headline": f"Episode {index}",
            "created_at": START + timedelta(seconds=index // 2),
            "updated_at": START,
        }
        for index in range(count)
    ]
    async with app.state.ports.database.engine.begin() as connection:
        await connection.execute(insert(Project), rows)
    return [str(row["id"]) for row in rows]


def as_page(response: httpx.Response) -> dict[str, Any]:
    """The page envelope; a plain-array list (chat messages) carries it in headers."""
    body = response.json()
    if isinstance(body, dict):
        return body
    total = response.headers.get("X-Total-Count")
    return {
        "items": body,
        "total": int(total) if total is not None else None,
        "next_cursor": response.headers.get("X-Next-Cursor"),
    }


async def walk(
    client: httpx.AsyncClient, path: str, user: TestUser, *, limit: int, pages: int | None = None
) -> tuple[list[str], str | None]:
    """Follow next_cursor from the first page; stop after `pages` pages when given."""
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(path, params=params, headers=user.headers)
        assert response.status_code == 200, response.text
        page = as_page(response)
        assert len(page["items"]) <= limit
        assert page["total"] is None
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None or (pages is not None and len(seen) >= pages * limit):
            return seen, cursor


class TestCursorWalk:
    async def test_walks_every_row_once_newest_first(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        ids = await insert_projects(app, user, 11)
        seen, cursor = await walk(client, f"{API}/projects", user, limit=3)
        assert cursor is None
        assert sorted(seen) == sorted(ids)
        assert len(seen) == len(set(seen))
        # Newest first, the id breaking ties between rows created at the same instant.
        expected = sorted(ids, key=lambda i: (ids.index(i) // 2, uuid.UUID(i)), reverse=True)
        assert seen == expected

    async def test_rows_added_while_walking_neither_repeat_nor_hide_others(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        ids = await insert_projects(app, user, 10)
        first, cursor = await walk(client, f"{API}/projects", user, limit=4, pages=1)
        # Newer rows arrive between two pages: they belong before the cursor.
        added = [(await create_project(client, user))["id"] for _ in range(3)]
        rest: list[str] = []
        while cursor is not None:
            page = (
                await client.get(
                    f"{API}/projects",
                    params={"limit": 4, "cursor": cursor},
                    headers=user.headers,
                )
            ).json()
            rest += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
        assert sorted(first + rest) == sorted(ids)
        assert not set(added) & set(rest)
        assert len(first + rest) == len(set(first + rest))

    async def test_messages_walk_oldest_first_and_reach_new_ones(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        chat_id = uuid.uuid4()
        message_ids = [uuid.uuid4() for _ in range(7)]
        async with app.state.ports.database.engine.begin() as connection:
            await connection.execute(
                insert(Chat),
                [{"id": chat_id, "user_id": uuid.UUID(user.id), "session_name": "Walk"}],
            )
            await connection.execute(
                insert(ChatMessage),
                [
                    {
                        "id": message_id,
                        "chat_id": chat_id,
                        "sender": "user",
                        "content": f"Message {index}",
                        "created_at": START + timedelta(seconds=index),
                    }
                    for index, message_id in enumerate(message_ids)
                ],
            )
        path = f"{API}/chat/{chat_id}/messages"
        seen, cursor = await walk(client, path, user, limit=3, pages=2)
        sent = await client.post(path, json={"content": "And one more"}, headers=user.headers)
        assert sent.status_code == 201, sent.text
        while cursor is not None:
            page = as_page(await client.get(path, params={"cursor": cursor}, headers=user.headers))
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
        assert seen[:7] == [str(message_id) for message_id in message_ids]
        assert len(seen) == 9  # the message and its reply, after every older one
        assert len(seen) == len(set(seen))

    async def test_offset_pages_still_work_and_offer_a_cursor(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        await insert_projects(app, user, 5)
        by_offset = (
            await client.get(
                f"{API}/projects", params={"limit": 2, "offset": 2}, headers=user.headers
            )
        ).json()
        assert (by_offset["limit"], by_offset["offset"], by_offset["total"]) == (2, 2, None)
        following = (
            await client.get(
                f"{API}/projects",
                params={"limit": 2, "cursor": by_offset["next_cursor"]},
                headers=user.headers,
            )
        ).json()
        everything = (
            await client.get(f"{API}/projects?include_total=true", headers=user.headers)
        ).json()
        assert everything["total"] == 5
        assert [item["id"] for item in following["items"]] == [
            item["id"] for item in everything["items"][4:6]
        ]


LISTS = ["/projects", "/jobs", "/credits/transactions", "/assets", "/chat"]
BAD_CURSORS = [
    "not-a-cursor",
    "W10",  # valid base64 of an empty list
    Cursor(at=START, id=uuid.UUID(int=7)).encode()[:-3],
    # A naive timestamp: no time zone, so not one this API handed out.
    "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwiMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAiXQ",
]


class TestBadCursor:
    async def test_is_refused_in_the_shared_shape(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        for path in LISTS:
            for cursor in BAD_CURSORS:
                response = await client.get(
                    f"{API}{path}", params={"cursor": cursor}, headers=user.headers
                )
                assert_error(response, 422, "invalid_cursor")

    async def test_cursor_and_offset_together_are_refused(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        cursor = Cursor(at=START, id=uuid.uuid4()).encode()
        response = await client.get(
            f"{API}/projects", params={"cursor": cursor, "offset": 1}, headers=user.headers
        )
        assert_error(response, 422, "invalid_cursor")


class TestOwnership:
    async def test_another_users_cursor_shows_only_the_callers_rows(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        owner = await create_user(app)
        other = await create_user(app)
        await insert_projects(app, owner, 6)
        mine = await insert_projects(app, other, 2)
        first = (
            await client.get(f"{API}/projects", params={"limit": 2}, headers=owner.headers)
        ).json()
        seen, _ = await walk(client, f"{API}/projects", other, limit=1)
        assert sorted(seen) == sorted(mine)
        borrowed = await client.get(
            f"{API}/projects",
            params={"cursor": first["next_cursor"]},
            headers=other.headers,
        )
        assert borrowed.status_code == 200
        assert {item["id"] for item in borrowed.json()["items"]} <= set(mine)


class TestIndexes:
    async def test_every_list_page_is_an_index_range_without_a_sort(
        self, client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
    ):
        database = app.state.ports.database
        if database.dialect != "sqlite":
            pytest.skip("the planner of a near-empty Postgres table prefers a scan anyway")
        user = await create_user(app)
        project = await create_project(client, user)
        chat = (
            await client.post(
                f"{API}/chat/new", json={"session_name": "Plan"}, headers=user.headers
            )
        ).json()
        cursor = Cursor(at=START, id=uuid.UUID(int=1)).encode()
        lists = [
            "/projects",
            "/projects?status=draft",
            "/jobs",
            "/jobs?status=queued",
            f"/projects/{project['id']}/jobs",
            "/credits/transactions",
            f"/chat/{chat['chat_id']}/messages",
            "/chat",
            "/assets",
            "/assets?type=selfie",
        ]
        statements: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            if "LIMIT" in statement:
                statements.append((statement, parameters))

        # Lists read through app.kit.reads run on the loop's own SQLite connection.
        loop_reader = database.loop_reader

        class Recording:
            def __init__(self, reader: Any) -> None:
                self._reader = reader

            def execute(self, statement: str, parameters: Any) -> Any:
                capture(None, None, statement, parameters)
                return self._reader.execute(statement, parameters)

        monkeypatch.setattr(database, "loop_reader", lambda: Recording(loop_reader()))
        engine = database.engine.sync_engine
        event.listen(engine, "before_cursor_execute", capture)
        try:
            for path in lists:
                joiner = "&" if "?" in path else "?"
                response = await client.get(
                    f"{API}{path}{joiner}cursor={cursor}", headers=user.headers
                )
                assert response.status_code == 200, (path, response.text)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        assert len(statements) == len(lists)
        async with database.engine.connect() as connection:
            for statement, parameters in statements:
                plan = " / ".join(
                    row[-1]
                    for row in await connection.exec_driver_sql(
                        f"EXPLAIN QUERY PLAN {statement}", parameters
                    )
                )
                assert "USING INDEX ix_" in plan or "USING COVERING INDEX ix_" in plan, plan
                assert "TEMP B-TREE" not in plan, plan
