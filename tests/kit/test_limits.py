"""Hostile and clumsy requests: oversized, deeply nested or unstorable bodies, huge numbers.

Each is refused with a 4xx that is small, never repeats a secret, and changes nothing.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy.engine import make_url

from app.main import create_app
from tests.auth.test_router import assert_error
from tests.conftest import http_client, make_settings, running_app
from tests.factories import (
    API,
    TestUser,
    balance,
    create_project,
    sign_up_through_api,
    signup_body,
    submit_job,
)
from tests.images import upload
from tests.support.live_app import exchange, live_app

SECRET = "hunter2"


def nested_email(depth: int) -> bytes:
    """A body whose `email` is a string inside `depth` lists (written out: too deep to dump)."""
    return b'{"email": ' + b"[" * depth + b'"x"' + b"]" * depth + b"}"


def raw_json(document: object) -> bytes:
    # ensure_ascii keeps lone surrogates as \ud800 escapes, the way a client sends them.
    return json.dumps(document, ensure_ascii=True).encode()


def assert_validation_error(response: httpx.Response, location: list[object]) -> None:
    """FastAPI's 422 shape: a list of errors, one of them at `location`."""
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert isinstance(errors, list)
    assert any(error["loc"][: len(location)] == location for error in errors), errors


class TestBodySize:
    async def test_a_body_announced_larger_than_the_cap_is_413(self, client: httpx.AsyncClient):
        body = json.dumps({"email": "a@example.com", "password": "x" * (2 * 1024 * 1024)})
        response = await client.post(
            f"{API}/auth/signin", content=body, headers={"Content-Type": "application/json"}
        )
        assert_error(response, 413, "payload_too_large")
        assert len(response.content) < 500

    async def test_a_streamed_body_past_the_cap_is_413(self, client: httpx.AsyncClient):
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"email": "a@example.com", "password": "'
            for _ in range(20):
                yield b"x" * 100_000
            yield b'"}'

        response = await client.post(
            f"{API}/auth/signin", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in response.request.headers
        assert_error(response, 413, "payload_too_large")

    async def test_the_cap_is_a_setting(self, tmp_path: Path, sqlite_database: str):
        settings = make_settings(
            database_url=sqlite_database, data_dir=tmp_path, max_request_body_bytes=2048
        )
        async with running_app(settings) as app, http_client(app) as client:
            fine = await client.post(f"{API}/auth/start", json={"email": "a@example.com"})
            assert fine.status_code == 200
            big = await client.post(
                f"{API}/auth/start", json={"email": "a@example.com", "pad": "x" * 4000}
            )
            assert_error(big, 413, "payload_too_large")

    async def test_uploads_may_be_larger_than_the_json_cap(
        self, client: httpx.AsyncClient, user: TestUser
    ):
        noise = Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3))
        out = io.BytesIO()
        noise.save(out, format="PNG")
        assert len(out.getvalue()) > 1024 * 1024
        response = await upload(client, user, out.getvalue())
        assert response.status_code == 201, response.text


class TestValidationErrorsRepeatNoSecrets:
    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("/auth/signup", signup_body(password=SECRET)),
            ("/auth/signup", signup_body(confirm_password=SECRET + "-other")),
            ("/auth/signin", {"email": "not an email", "password": SECRET}),
            ("/auth/reset-password", {"token": SECRET, "password": SECRET}),
            ("/auth/refresh", {"refresh_token": [SECRET]}),
            ("/auth/confirm", {"token": {"nested": SECRET}}),
        ],
    )
    async def test_secret_fields_are_not_echoed(
        self, client: httpx.AsyncClient, path: str, body: dict[str, object]
    ):
        response = await client.post(f"{API}{path}", json=body)
        assert response.status_code == 422, response.text
        assert isinstance(response.json()["detail"], list)
        assert SECRET not in response.text

    async def test_long_inputs_are_cut_short(self, client: httpx.AsyncClient):
        response = await client.post(f"{API}/auth/start", json={"email": "x" * 500_000})
        assert_validation_error(response, ["body", "email"])
        assert len(response.content) < 2000

    async def test_many_bad_fields_still_give_a_small_answer(self, client: httpx.AsyncClient):
        wide = {f"k{index}": ["v" * 200] * 10 for index in range(10)}
        body = {field: wide for field in signup_body()}
        response = await client.post(f"{API}/auth/signup", json=body)
        assert_validation_error(response, ["body"])
        assert len(response.content) < 20_000

    async def test_a_deeply_nested_body_is_a_small_422(self, client: httpx.AsyncClient):
        for depth in (100, 1000, 5000):
            response = await client.post(
                f"{API}/auth/start",
                content=nested_email(depth),
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 422, (depth, response.text[:300])
            assert isinstance(response.json()["detail"], list)
            assert len(response.content) < 2000

    async def test_a_body_nested_past_the_parser_is_refused(self, client: httpx.AsyncClient):
        deep = b'{"email": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
        response = await client.post(
            f"{API}/auth/start", content=deep, headers={"Content-Type": "application/json"}
        )
        assert_validation_error(response, ["body"])


class TestTextNoDatabaseCanStore:
    @pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "nul\x00here"])
    async def test_is_refused_in_any_field(
        self, client: httpx.AsyncClient, user: TestUser, text: str
    ):
        response = await client.patch(
            f"{API}/profile",
            content=raw_json({"bio": text}),
            headers={**user.headers, "Content-Type": "application/json"},
        )
        assert_validation_error(response, ["body", "bio"])
        profile = (await client.get(f"{API}/profile", headers=user.headers)).json()
        assert profile["bio"] is None

    async def test_is_refused_in_nested_values_and_keys(self, client: httpx.AsyncClient):
        cases: list[tuple[dict[str, object], list[object]]] = [
            ({"email": "a@example.com", "extra": [{"k": "\ud800"}]}, ["body", "extra", 0, "k"]),
            ({"email": "a@example.com", "\x00": 1}, ["body"]),
        ]
        for document, location in cases:
            response = await client.post(
                f"{API}/auth/start",
                content=raw_json(document),
                headers={"Content-Type": "application/json"},
            )
            assert_validation_error(response, location)

    async def test_a_signup_with_such_text_creates_nothing(self, client: httpx.AsyncClient):
        body = signup_body(full_name="Ann\x00")
        response = await client.post(f"{API}/auth/signup", json=body)
        assert_validation_error(response, ["body", "full_name"])
        start = await client.post(f"{API}/auth/start", json={"email": body["email"]})
        assert start.json()["exists"] is False

    async def test_is_refused_in_the_query(self, client: httpx.AsyncClient, user: TestUser):
        response = await client.get(f"{API}/projects?status=%00", headers=user.headers)
        assert_validation_error(response, ["query", "status"])

    async def test_a_control_character_in_an_upload_name_is_dropped(
        self, client: httpx.AsyncClient, user: TestUser
    ):
        from tests.images import image_bytes

        response = await upload(client, user, image_bytes(), filename="me\x00.png")
        assert response.status_code == 201, response.text


class TestHugeNumbers:
    @pytest.mark.parametrize("path", ["/assets", "/projects", "/jobs", "/credits/transactions"])
    async def test_an_offset_beyond_int64_is_422(
        self, client: httpx.AsyncClient, user: TestUser, path: str
    ):
        response = await client.get(
            f"{API}{path}?offset=3056206815740848766976", headers=user.headers
        )
        assert_validation_error(response, ["query", "offset"])
        assert len(response.content) < 1000


async def test_the_connection_survives_hostile_requests(database_url: str, tmp_path: Path):
    """One kept-alive connection: every refusal is a 4xx and the next request still works."""
    settings = make_settings(database_url=database_url, data_dir=tmp_path / "data")
    async with live_app(settings) as live, httpx.AsyncClient(base_url=live.url) as http:
        # Over HTTP: the served app's connections belong to the server's event loop.
        user = await sign_up_through_api(http, live.app)
        reader, writer = await asyncio.open_connection(*live.address)
        auth = {"Authorization": f"Bearer {user.access_token}"}
        json_headers = {**auth, "Content-Type": "application/json"}
        try:
            hostile = [
                ("POST", f"{API}/auth/start", nested_email(1000)),
                ("PATCH", f"{API}/profile", raw_json({"bio": "\ud800"})),
                ("PATCH", f"{API}/profile", raw_json({"bio": "a\x00b"})),
                ("POST", f"{API}/auth/signup", raw_json(signup_body(full_name="\udc00"))),
                ("GET", f"{API}/assets?offset=3056206815740848766976", b""),
                ("GET", f"{API}/projects?limit=99999999999999999999999", b""),
            ]
            for method, path, body in hostile:
                response = await exchange(
                    reader, writer, method, path, headers=json_headers, body=body
                )
                assert 400 <= response.status < 500, (path, response.body[:300])
                assert response.headers.get("connection") != "close"
                ok = await exchange(reader, writer, "GET", f"{API}/profile", headers=auth)
                assert ok.status == 200, ok.body
            profile = ok.json()
            assert profile["bio"] is None
        finally:
            writer.close()


class TestRequestDeadline:
    """A request stuck behind a lock past the deadline gets 504, and its writes roll back."""

    async def test_a_stuck_request_is_504_and_rolled_back(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser, database_url: str
    ):
        project = await create_project(client, user)
        credits_before = await balance(client, user)
        # The same ports (database, sessions) behind a short deadline.
        hurried_settings = app.state.ports.settings.model_copy(
            update={"request_timeout_seconds": 1.0}
        )
        hurried = create_app(hurried_settings, ports=app.state.ports)
        async with http_client(hurried) as hurried_client:
            async with row_lock(database_url, project["id"]):
                response = await hurried_client.post(
                    f"{API}/jobs",
                    json={"project_id": project["id"], "quality": "std", "variants": 1},
                    headers=user.headers,
                )
                assert_error(response, 504, "request_timeout")
        # The job row and the charge were written before the request got stuck; both were
        # rolled back with it.
        assert await balance(client, user) == credits_before
        jobs = (await client.get(f"{API}/jobs", headers=user.headers)).json()
        assert jobs["items"] == []
        ledger = (await client.get(f"{API}/credits/transactions", headers=user.headers)).json()
        assert [entry["reason"] for entry in ledger["items"]] == ["signup_bonus"]
        # The connection it used is healthy again.
        job = await submit_job(client, user, project["id"])
        assert job["status"] == "queued"


@asynccontextmanager
async def row_lock(database_url: str, project_id: str) -> AsyncIterator[None]:
    """Another connection holds a lock the request needs, for as long as the block runs.

    Postgres: the project's row, locked against updates (not against the job's foreign key,
    so the request writes its job and charge first). SQLite: the database's write lock.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database
        holder = sqlite3.connect(url.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    connection = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(False))
    try:
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute(
            "SELECT 1 FROM projects WHERE id = $1 FOR NO KEY UPDATE", uuid.UUID(project_id)
        )
        try:
            yield
        finally:
            await transaction.rollback()
    finally:
        await connection.close()
