"""Rate limits on the account endpoints, and what happens when the key-value store is down."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.adapters.kv import UpstashKeyValueStore
from app.config import Settings
from tests.conftest import ROOT, UPSTASH_TOKEN, http_client, make_settings, running_app
from tests.factories import API, create_user, signup_body
from tests.support.services import free_loopback_port
from tests.support.uvicorn_server import uvicorn_server

WINDOW_SECONDS = 900


def limited_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "rate_limit_signin": 3,
        "rate_limit_signup": 2,
        "rate_limit_forgot": 2,
        "rate_limit_start": 2,
        "rate_limit_resend": 2,
        # Counts reset on window boundaries: a long window keeps a test's attempts in one.
        "rate_limit_window_seconds": WINDOW_SECONDS,
    }
    values.update(overrides)
    return make_settings(database_url=database_url, data_dir=data_dir, **values)


async def exhaust_signin(client: httpx.AsyncClient, email: str, times: int) -> httpx.Response:
    response = None
    for _ in range(times):
        response = await client.post(
            f"{API}/auth/signin", json={"email": email, "password": "wrong password"}
        )
    assert response is not None
    return response


@pytest.fixture(params=["memory", "upstash"])
def kv_settings(request: pytest.FixtureRequest) -> dict[str, object]:
    if request.param == "memory":
        return {}
    url: str = request.getfixturevalue("upstash_url")
    return {
        "upstash_redis_rest_url": url,
        "upstash_redis_rest_token": UPSTASH_TOKEN,
        "kv_key_prefix": f"test-{uuid.uuid4().hex[:8]}",
    }


class TestLimits:
    async def test_signin_is_limited_with_retry_after(
        self, sqlite_database: str, tmp_path: Path, kv_settings: dict[str, object]
    ):
        settings = limited_settings(sqlite_database, tmp_path, **kv_settings)
        async with running_app(settings) as app, http_client(app) as client:
            email = f"target-{uuid.uuid4().hex[:6]}@example.com"
            last_allowed = await exhaust_signin(client, email, 3)
            assert last_allowed.status_code == 401
            limited = await exhaust_signin(client, email, 1)
            assert limited.status_code == 429
            assert limited.json()["code"] == "rate_limited"
            assert 1 <= int(limited.headers["retry-after"]) <= WINDOW_SECONDS

    async def test_the_account_is_limited_across_addresses(
        self, sqlite_database: str, tmp_path: Path, kv_settings: dict[str, object]
    ):
        settings = limited_settings(sqlite_database, tmp_path, **kv_settings)
        async with running_app(settings) as app:
            email = f"spread-{uuid.uuid4().hex[:6]}@example.com"
            statuses = []
            for octet in range(1, 6):
                async with http_client(app, peer=f"203.0.113.{octet}") as client:
                    response = await client.post(
                        f"{API}/auth/signin", json={"email": email, "password": "wrong password"}
                    )
                statuses.append(response.status_code)
            assert statuses == [401, 401, 401, 429, 429]

    async def test_signup_and_forgot_password_are_limited(
        self, sqlite_database: str, tmp_path: Path, kv_settings: dict[str, object]
    ):
        settings = limited_settings(sqlite_database, tmp_path, **kv_settings)
        async with running_app(settings) as app, http_client(app) as client:
            codes = [
                (await client.post(f"{API}/auth/signup", json=signup_body())).status_code
                for _ in range(3)
            ]
            assert codes == [201, 201, 429]
            email = f"forgot-{uuid.uuid4().hex[:6]}@example.com"
            codes = [
                (
                    await client.post(f"{API}/auth/forgot-password", json={"email": email})
                ).status_code
                for _ in range(3)
            ]
            assert codes == [200, 200, 429]


class TestClientAddress:
    """Per-IP limits count the address the platform vouches for, never one the client wrote."""

    async def limited_then_spoofed(
        self, app: FastAPI, *, peer: str, headers: dict[str, str], spoofed: dict[str, str]
    ) -> int:
        async with http_client(app, peer=peer) as client:
            for index in range(4):
                email = f"ip-{index}-{uuid.uuid4().hex[:6]}@example.com"
                response = await client.post(
                    f"{API}/auth/signin",
                    json={"email": email, "password": "wrong password"},
                    headers=headers,
                )
            assert response.status_code == 429
            retry = await client.post(
                f"{API}/auth/signin",
                json={"email": f"fresh-{uuid.uuid4().hex[:6]}@example.com", "password": "x" * 9},
                headers={**headers, **spoofed},
            )
            return retry.status_code

    async def test_a_made_up_forwarded_for_does_not_escape_the_limit(
        self, sqlite_database: str, tmp_path: Path
    ):
        settings = limited_settings(sqlite_database, tmp_path)
        async with running_app(settings) as app:
            status = await self.limited_then_spoofed(
                app,
                peer="198.51.100.7",
                headers={},
                spoofed={"X-Forwarded-For": "203.0.113.99", "X-Real-IP": "203.0.113.98"},
            )
        assert status == 429

    async def test_on_vercel_the_edge_header_names_the_client(
        self, sqlite_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.setenv("VERCEL", "1")
        # No job runs here; in-process dispatch keeps the runtime out of this test.
        settings = limited_settings(sqlite_database, tmp_path, job_dispatch="in_process")
        async with running_app(settings) as app:
            # Every request reaches the function from the same internal peer; the edge header
            # tells clients apart, and a client's own X-Forwarded-For changes nothing.
            edge = {"X-Vercel-Forwarded-For": "198.51.100.7", "X-Real-IP": "198.51.100.7"}
            status = await self.limited_then_spoofed(
                app, peer="10.0.0.1", headers=edge, spoofed={"X-Forwarded-For": "203.0.113.99"}
            )
            assert status == 429
            async with http_client(app, peer="10.0.0.1") as client:
                other_client = await client.post(
                    f"{API}/auth/signin",
                    json={"email": "someone@example.com", "password": "wrong password"},
                    headers={"X-Vercel-Forwarded-For": "198.51.100.8"},
                )
            assert other_client.status_code == 401


class TestUvicornProxyHeaders:
    """Under uvicorn, `X-Forwarded-For` counts only when the peer is a proxy in
    FORWARDED_ALLOW_IPS, and then only its rightmost untrusted entry, over a real socket."""

    @staticmethod
    async def signin(http: httpx.AsyncClient, forwarded_for: str | None = None) -> int:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        response = await http.post(
            f"{API}/auth/signin",
            json={"email": f"ip-{uuid.uuid4().hex[:8]}@example.com", "password": "wrong pass"},
            headers=headers,
        )
        return response.status_code

    async def test_an_untrusted_peers_forwarded_for_is_ignored(
        self, sqlite_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.1.2.3")
        settings = limited_settings(sqlite_database, tmp_path)
        async with (
            running_app(settings) as app,
            uvicorn_server(app) as base_url,
            httpx.AsyncClient(base_url=base_url) as http,
        ):
            assert [await self.signin(http) for _ in range(3)] == [401, 401, 401]
            assert await self.signin(http) == 429
            assert await self.signin(http, "203.0.113.99") == 429

    async def test_a_trusted_proxys_forwarded_address_is_the_client(
        self, sqlite_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", "127.0.0.1")
        settings = limited_settings(sqlite_database, tmp_path)
        async with (
            running_app(settings) as app,
            uvicorn_server(app) as base_url,
            httpx.AsyncClient(base_url=base_url) as http,
        ):
            client = "203.0.113.5"
            assert [await self.signin(http, client) for _ in range(3)] == [401, 401, 401]
            assert await self.signin(http, client) == 429
            # Our proxy appends the address it saw; what the client wrote before it is ignored.
            assert await self.signin(http, f"198.51.100.1, {client}") == 429
            assert await self.signin(http, "203.0.113.6") == 401

    def test_make_run_hands_the_trusted_proxies_to_uvicorn(self):
        environment = {**os.environ, "FORWARDED_ALLOW_IPS": "10.0.0.7,10.0.0.8"}
        dry_run = subprocess.run(
            ["make", "-n", "-s", "run"],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        assert '--forwarded-allow-ips "10.0.0.7,10.0.0.8"' in dry_run.stdout


class TestKeyValueOutage:
    async def test_rate_limits_fail_open_and_sessions_answer_503(
        self, sqlite_database: str, tmp_path: Path, upstash_url: str
    ):
        settings = limited_settings(
            sqlite_database,
            tmp_path,
            upstash_redis_rest_url=upstash_url,
            upstash_redis_rest_token=UPSTASH_TOKEN,
            kv_key_prefix=f"test-{uuid.uuid4().hex[:8]}",
        )
        async with running_app(settings) as app, http_client(app) as client:
            user = await create_user(app)
            await take_the_store_down(app)

            me = await client.get(f"{API}/auth/me", headers=user.headers)
            assert me.status_code == 503
            assert me.json()["code"] == "service_unavailable"
            # Limits are not enforced while the counters are unreachable.
            for _ in range(5):
                response = await client.post(
                    f"{API}/auth/signin", json={"email": user.email, "password": "wrong pass"}
                )
                assert response.status_code == 401
            signin = await client.post(
                f"{API}/auth/signin", json={"email": user.email, "password": user.password}
            )
            assert signin.status_code == 503
            health = await client.get("/health")
            assert health.status_code == 200
            assert health.json()["status"] == "degraded"
            assert health.json()["checks"]["kv"]["status"] == "error"


async def take_the_store_down(app: FastAPI) -> None:
    """Point the app's Upstash adapter at an address where nothing listens."""
    ports = app.state.ports
    await ports.kv.close()
    ports.kv = UpstashKeyValueStore(f"http://127.0.0.1:{free_loopback_port()}", UPSTASH_TOKEN)
