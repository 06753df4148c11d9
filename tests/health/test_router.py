"""Health, version, docs, the shared error shape, and what wraps every request."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.kit.observability import JsonFormatter
from app.main import create_app
from tests.conftest import http_client, make_settings
from tests.factories import API, create_user
from tests.support.services import free_loopback_port


class TestHealth:
    async def test_reports_each_port(self, client: httpx.AsyncClient):
        response = await client.get("/health")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert {"database", "kv", "mail"} <= set(body["checks"])
        assert all(check["status"] == "ok" for check in body["checks"].values())
        assert all(check["latency_ms"] >= 0 for check in body["checks"].values())

    async def test_shows_the_dispatcher_the_selection_picked(
        self, client: httpx.AsyncClient, tmp_path: Path
    ):
        local = (await client.get("/health")).json()["checks"]["dispatch"]
        assert local == {
            "status": "ok",
            "adapter": "in_process",
            "latency_ms": 0.0,
            "error": None,
            "finishes_after_response": False,
        }
        settings = make_settings(data_dir=tmp_path, database_url="sqlite://", qstash_token="token")
        app = create_app(settings)
        async with http_client(app) as queued_client:
            durable = (await queued_client.get("/health")).json()["checks"]["dispatch"]
        await app.state.ports.close()
        assert (durable["adapter"], durable["finishes_after_response"]) == ("qstash", True)

    async def test_database_down_is_503(self, tmp_path: Path):
        # Nothing listens on that port, as when the database server is down.
        settings = make_settings(
            database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_loopback_port()}/x",
            data_dir=tmp_path,
        )
        app = create_app(settings)
        async with http_client(app) as client:
            response = await client.get("/health")
        await app.state.ports.close()
        assert response.status_code == 503
        assert response.json()["status"] == "down"
        assert response.json()["checks"]["database"]["status"] == "error"

    async def test_a_deleted_sqlite_file_is_503(self, tmp_path: Path):
        database = tmp_path / "gone.db"
        settings = make_settings(database_url=f"sqlite+aiosqlite:///{database}", data_dir=tmp_path)
        app = create_app(settings)
        try:
            async with http_client(app) as client:
                assert (await client.get("/health")).status_code == 200
                database.unlink()
                response = await client.get("/health")
        finally:
            await app.state.ports.close()
        assert response.status_code == 503
        check = response.json()["checks"]["database"]
        assert check == {**check, "status": "error", "error": "DatabaseFileMissing"}

    async def test_a_data_folder_short_of_space_is_degraded(
        self, sqlite_database: str, tmp_path: Path
    ):
        # More free space than any disk has: the check must say the disk is (nearly) full.
        settings = make_settings(
            database_url=sqlite_database, data_dir=tmp_path, min_free_disk_bytes=10**18
        )
        app = create_app(settings)
        try:
            async with http_client(app) as client:
                response = await client.get("/health")
        finally:
            await app.state.ports.close()
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "degraded"
        assert body["checks"]["disk"]["status"] == "error"
        assert body["checks"]["disk"]["error"] == "DiskAlmostFull"
        assert body["checks"]["database"]["status"] == "ok"

    async def test_a_probe_that_hangs_is_cut_short(self, sqlite_database: str, tmp_path: Path):
        # A key-value server that accepts connections and never answers.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        try:
            settings = make_settings(
                database_url=sqlite_database,
                data_dir=tmp_path,
                upstash_redis_rest_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
                upstash_redis_rest_token="token",
                health_probe_timeout_seconds=2.0,
            )
            app = create_app(settings)
            try:
                async with http_client(app) as client:
                    response = await client.get("/health")
            finally:
                await app.state.ports.close()
        finally:
            silent.close()
        body = response.json()
        assert body["status"] == "degraded"
        assert body["checks"]["kv"]["error"] == "TimeoutError"
        assert body["checks"]["database"]["status"] == "ok"

    async def test_version(self, client: httpx.AsyncClient):
        response = await client.get("/__version")
        assert response.status_code == 200
        assert response.json()["name"] == "MugShot Studio API"
        assert response.json()["environment"] == "development"


class TestDocs:
    @pytest.mark.parametrize("path", ["/docs", "/redoc"])
    async def test_docs_are_served(self, client: httpx.AsyncClient, path: str):
        response = await client.get(f"{API}{path}")
        assert response.status_code == 200
        assert "text/html" in response.headers["content-type"]

    async def test_schema_lists_the_routes_and_their_errors(self, client: httpx.AsyncClient):
        schema = (await client.get(f"{API}/openapi.json")).json()
        assert f"{API}/auth/signin" in schema["paths"]
        signin = schema["paths"][f"{API}/auth/signin"]["post"]
        assert {"401", "403", "429"} <= set(signin["responses"])


class TestErrorShape:
    async def test_unknown_route_is_404_in_the_shared_shape(self, client: httpx.AsyncClient):
        response = await client.get(f"{API}/nothing-here")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found", "code": "not_found"}

    async def test_wrong_method_is_405(self, client: httpx.AsyncClient):
        response = await client.get(f"{API}/auth/signin")
        assert response.status_code == 405
        assert response.json()["code"] == "method_not_allowed"

    async def test_validation_errors_keep_fastapi_shape(self, client: httpx.AsyncClient):
        response = await client.post(f"{API}/auth/signin", content=b"{not json")
        assert response.status_code == 422
        assert isinstance(response.json()["detail"], list)


class TestRequestWrapping:
    async def test_request_id_is_echoed_or_created(self, client: httpx.AsyncClient):
        echoed = await client.get("/health", headers={"X-Request-ID": "abc-123"})
        assert echoed.headers["x-request-id"] == "abc-123"
        created = await client.get("/health", headers={"X-Request-ID": "bad id\twith junk"})
        assert created.headers["x-request-id"] != "bad id\twith junk"
        assert len(created.headers["x-request-id"]) == 32

    async def test_security_headers(self, client: httpx.AsyncClient):
        response = await client.get("/health")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        docs = await client.get(f"{API}/docs")
        assert "content-security-policy" not in docs.headers

    async def test_cors_allows_only_configured_origins(self, client: httpx.AsyncClient):
        allowed = await client.options(
            f"{API}/auth/signin",
            headers={"Origin": "http://frontend.test", "Access-Control-Request-Method": "POST"},
        )
        assert allowed.headers["access-control-allow-origin"] == "http://frontend.test"
        refused = await client.options(
            f"{API}/auth/signin",
            headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in refused.headers

    async def test_one_json_log_line_per_request_without_secrets(
        self, client: httpx.AsyncClient, app: FastAPI, caplog: pytest.LogCaptureFixture
    ):
        user = await create_user(app)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="app.request"):
            await client.get(f"{API}/auth/me", headers=user.headers)
        [record] = [r for r in caplog.records if r.name == "app.request"]
        line = json.loads(JsonFormatter().format(record))
        assert line["method"] == "GET"
        assert line["route"] == f"{API}/auth/me"
        assert line["status"] == 200
        assert line["user_id"] == user.id
        assert line["duration_ms"] >= 0
        assert user.access_token not in json.dumps(line)
