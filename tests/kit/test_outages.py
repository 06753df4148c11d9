"""Outages answer 503 with Retry-After, from one place, and leave everything as it was."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from app.adapters.kv import UpstashKeyValueStore
from app.main import create_app
from tests.conftest import UPSTASH_TOKEN, http_client, make_settings, running_app
from tests.factories import API, DEFAULT_PASSWORD, TestUser, create_user, latest_token, signup
from tests.support.services import free_loopback_port

NEW_PASSWORD = "a brand new passphrase"


def assert_outage(response: httpx.Response, code: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] == code
    assert int(response.headers["Retry-After"]) > 0


class KeyValueSwitch:
    """Points the app's Upstash adapter at a dead address and back at the real server."""

    def __init__(self, app: FastAPI, url: str, prefix: str) -> None:
        self.app, self.url, self.prefix = app, url, prefix

    async def down(self) -> None:
        ports = self.app.state.ports
        await ports.kv.close()
        dead = f"http://127.0.0.1:{free_loopback_port()}"
        ports.kv = UpstashKeyValueStore(dead, UPSTASH_TOKEN, prefix=self.prefix)

    async def up(self) -> None:
        ports = self.app.state.ports
        await ports.kv.close()
        ports.kv = UpstashKeyValueStore(self.url, UPSTASH_TOKEN, prefix=self.prefix)


async def test_with_the_key_value_store_down_token_routes_answer_503_and_keep_the_link(
    sqlite_database: str, tmp_path: Path, upstash_url: str
):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings = make_settings(
        database_url=sqlite_database,
        data_dir=tmp_path,
        upstash_redis_rest_url=upstash_url,
        upstash_redis_rest_token=UPSTASH_TOKEN,
        kv_key_prefix=prefix,
    )
    async with running_app(settings) as app, http_client(app) as client:
        switch = KeyValueSwitch(app, upstash_url, prefix)
        user: TestUser = await create_user(app)
        pending = await signup(client)
        confirm_token = latest_token(app, pending["email"], "confirm-email")
        forgot = await client.post(f"{API}/auth/forgot-password", json={"email": user.email})
        assert forgot.status_code == 200
        reset_token = latest_token(app, user.email, "reset-password")

        await switch.down()
        confirm = await client.post(f"{API}/auth/confirm", json={"token": confirm_token})
        assert_outage(confirm, "service_unavailable")
        reset_body = {"token": reset_token, "password": NEW_PASSWORD}
        reset = await client.post(
            f"{API}/auth/reset-password", json={**reset_body, "confirm_password": NEW_PASSWORD}
        )
        assert_outage(reset, "service_unavailable")
        change = await client.post(
            f"{API}/auth/change-password",
            json={
                "current_password": DEFAULT_PASSWORD,
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            },
            headers=user.headers,
        )
        assert_outage(change, "service_unavailable")

        await switch.up()
        # Nothing changed and no link was spent by the outage.
        old = await client.post(
            f"{API}/auth/signin", json={"email": user.email, "password": DEFAULT_PASSWORD}
        )
        assert old.status_code == 200
        confirm = await client.post(f"{API}/auth/confirm", json={"token": confirm_token})
        assert confirm.status_code == 200, confirm.text
        reset = await client.post(
            f"{API}/auth/reset-password", json={**reset_body, "confirm_password": NEW_PASSWORD}
        )
        assert reset.status_code == 200, reset.text


async def test_a_busy_sqlite_database_answers_503_within_its_busy_timeout(
    sqlite_database: str, tmp_path: Path
):
    settings = make_settings(
        database_url=sqlite_database, data_dir=tmp_path, database_busy_timeout_seconds=0.3
    )
    async with running_app(settings) as app, http_client(app) as client:
        user = await create_user(app)
        path = make_url(sqlite_database).database
        assert path
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            response = await client.patch(
                f"{API}/profile", json={"bio": "blocked"}, headers=user.headers
            )
            assert_outage(response, "database_unavailable")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        profile = await client.get(f"{API}/profile", headers=user.headers)
        assert profile.json()["bio"] is None


async def test_an_unreachable_postgres_answers_503(tmp_path: Path):
    settings = make_settings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_loopback_port()}/x",
        data_dir=tmp_path,
    )
    app = create_app(settings)
    try:
        async with http_client(app) as client:
            response = await client.post(f"{API}/auth/start", json={"email": "a@example.com"})
        assert_outage(response, "database_unavailable")
    finally:
        await app.state.ports.close()
