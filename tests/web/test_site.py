"""How the browser app is served: pages, versioned files, cache headers, CSP, and the API
left exactly as it was around it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.web.router import PAGES, STATIC_DIR, load_bundle
from tests.conftest import http_client, make_settings, running_app
from tests.factories import API

ASSET = re.compile(r'(?:src|href)="/static/([0-9a-f]{16})/([^"]+)"')


# Serving files touches no database: one app on SQLite serves the whole module.
@pytest.fixture(scope="module")
async def app(
    sqlite_database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    settings = make_settings(database_url=sqlite_database, data_dir=tmp_path_factory.mktemp("web"))
    async with running_app(settings) as application:
        yield application


@pytest.fixture(scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as http:
        yield http


async def shell(client: httpx.AsyncClient, path: str = "/") -> httpx.Response:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return response


class TestPages:
    async def test_the_shell_is_served_at_the_root_with_its_policy(self, client: httpx.AsyncClient):
        response = await shell(client)
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self';" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe" not in policy
        assert response.headers["content-security-policy"].count("default-src") == 1
        assert response.headers["x-content-type-options"] == "nosniff"
        assert '<script type="module" src="/static/' in response.text
        assert "__ASSET_VERSION__" not in response.text

    @pytest.mark.parametrize(
        "path",
        [
            "/signin",
            "/confirm-email?token=abc",
            "/reset-password?token=abc",
            "/projects/00000000-0000-4000-8000-000000000000",
            "/jobs/00000000-0000-4000-8000-000000000000",
            "/c/00000000-0000-4000-8000-000000000000",
            "/credits?payment=success&order_id=1",
        ],
    )
    async def test_deep_links_from_mails_and_checkouts_open_the_app(
        self, client: httpx.AsyncClient, path: str
    ):
        response = await shell(client, path)
        assert response.text == (await shell(client)).text

    async def test_head_is_answered_too(self, client: httpx.AsyncClient):
        response = await client.head("/projects")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-cache"

    async def test_unknown_paths_and_other_methods_keep_the_error_shape(
        self, client: httpx.AsyncClient
    ):
        missing = await client.get("/nothing-here")
        assert missing.status_code == 404
        assert missing.json()["code"] == "not_found"
        posted = await client.post("/projects")
        assert posted.status_code == 405
        assert posted.json()["code"] == "method_not_allowed"
        assert "GET" in posted.headers["allow"]


class TestStaticFiles:
    async def test_each_file_the_shell_names_is_served_for_a_year(self, client: httpx.AsyncClient):
        names = ASSET.findall((await shell(client)).text)
        assert {name for _, name in names} >= {"app.css", "js/main.js", "icon.svg"}
        for version, name in names:
            response = await client.get(f"/static/{version}/{name}")
            assert response.status_code == 200
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert response.content == (STATIC_DIR / name).read_bytes()
            revalidated = await client.get(
                f"/static/{version}/{name}", headers={"If-None-Match": response.headers["etag"]}
            )
            assert revalidated.status_code == 304
            assert revalidated.content == b""

    async def test_content_types(self, client: httpx.AsyncClient):
        version = load_bundle().version
        kinds = {
            "js/main.js": "text/javascript",
            "app.css": "text/css",
            "icon.svg": "image/svg+xml",
        }
        for name, kind in kinds.items():
            response = await client.get(f"/static/{version}/{name}")
            assert response.headers["content-type"].startswith(kind)

    async def test_an_old_version_gets_the_current_file_without_long_caching(
        self, client: httpx.AsyncClient
    ):
        response = await client.get("/static/0123456789abcdef/app.css")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-cache"

    @pytest.mark.parametrize(
        "name", ["missing.js", "index.html", "..%2Frouter.py", "js%2F..%2F..%2Frouter.py", "js"]
    )
    async def test_only_the_apps_own_files_are_served(self, client: httpx.AsyncClient, name: str):
        response = await client.get(f"/static/{load_bundle().version}/{name}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"

    def test_every_module_import_resolves_to_a_served_file(self):
        files = load_bundle().files
        for name in [name for name in files if name.endswith(".js")]:
            source = files[name].body.decode()
            for target in re.findall(r'from\s+"(\.{1,2}/[^"]+)"', source):
                resolved = (Path("/") / Path(name).parent / target).resolve().as_posix()[1:]
                assert resolved in files, f"{name} imports missing {target}"

    def test_the_version_changes_with_any_file(self, tmp_path: Path):
        (tmp_path / "index.html").write_text('<script src="/static/__ASSET_VERSION__/a.js">')
        (tmp_path / "a.js").write_text("one")
        first = load_bundle.__wrapped__(tmp_path)
        (tmp_path / "a.js").write_text("two")
        second = load_bundle.__wrapped__(tmp_path)
        assert first.version != second.version
        assert second.version.encode() in second.index


class TestTheApiIsUntouched:
    async def test_api_routes_answer_as_before(self, client: httpx.AsyncClient):
        projects = await client.get(f"{API}/projects")
        assert projects.status_code == 401
        assert projects.json()["code"] == "not_authenticated"
        assert projects.headers["content-security-policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        )
        missing = await client.get(f"{API}/nothing")
        assert missing.status_code == 404
        assert missing.json()["code"] == "not_found"
        assert (await client.get("/health")).status_code in (200, 503)

    def test_the_schema_lists_no_page_of_the_app(self, app: FastAPI):
        paths = app.openapi()["paths"]
        assert not [path for path in PAGES if path in paths]
        assert not [path for path in paths if path.startswith("/static")]

    def test_building_the_app_reads_no_file_of_it(self, tmp_path: Path):
        load_bundle.cache_clear()
        create_app(make_settings(data_dir=tmp_path / "data"))
        assert load_bundle.cache_info().currsize == 0

    async def test_images_may_come_from_cloud_storage(self, tmp_path: Path):
        from app.web.router import content_security_policy

        policy = content_security_policy("https://abc.supabase.co")
        assert "img-src 'self' data: blob: https://abc.supabase.co;" in policy
        assert "connect-src 'self';" in policy
