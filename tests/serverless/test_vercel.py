"""vercel.json: every path reaches the ASGI function, the cron exists, the bundle stays lean."""

from __future__ import annotations

import ast
import json
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from app.main import create_app
from tests.conftest import http_client, make_settings

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "api/index.py"
SWEEP_PATH = "/api/v1/internal/cron/sweep"
# Vercel's Python runtime versions (https://vercel.com/docs/functions/runtimes/python).
VERCEL_PYTHON_VERSIONS = {"3.12", "3.13", "3.14"}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "vercel.json").read_text())
    return data


def expand_braces(pattern: str) -> list[str]:
    """`{a,b}/**` → [`a/**`, `b/**`], as the bundler's glob reads it."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [
        expanded
        for option in match.group(1).split(",")
        for expanded in expand_braces(head + option + tail)
    ]


def excluded(pattern: str, path: str) -> bool:
    # fnmatch's `*` also crosses `/`, so `dir/**` covers everything below dir.
    return any(fnmatchcase(path, glob) for glob in expand_braces(pattern))


def repository_files(*tops: str) -> list[str]:
    return [
        path.relative_to(ROOT).as_posix()
        for top in tops
        for path in (ROOT / top).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]


class TestFunction:
    def test_the_function_file_exposes_the_asgi_app(self, config: dict[str, Any]) -> None:
        assert list(config["functions"]) == [FUNCTION]
        tree = ast.parse((ROOT / FUNCTION).read_text())
        assigned = {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        assert "app" in assigned

    def test_max_duration_covers_a_render(self, config: dict[str, Any]) -> None:
        settings = make_settings()
        max_duration = config["functions"][FUNCTION]["maxDuration"]
        # A render may wait for the provider and one retry; the lease must not end first.
        assert max_duration >= settings.provider_timeout_seconds + settings.provider_retry_seconds
        assert max_duration <= settings.job_lease_seconds

    def test_the_python_version_is_one_vercel_runs(self) -> None:
        pinned = (ROOT / ".python-version").read_text().strip()
        assert pinned in VERCEL_PYTHON_VERSIONS


class TestRewrites:
    @pytest.mark.parametrize(
        "path",
        [
            "/",
            "/health",
            "/__version",
            "/api/v1/docs",
            "/api/v1/openapi.json",
            "/api/v1/auth/signin",
            "/api/v1/files/renders/u/j/v.png",
            SWEEP_PATH,
        ],
    )
    def test_every_path_reaches_the_function(self, config: dict[str, Any], path: str) -> None:
        destinations = [
            rule["destination"] for rule in config["rewrites"] if re.fullmatch(rule["source"], path)
        ]
        assert destinations[:1] == ["/" + FUNCTION.removesuffix(".py")]


class TestCrons:
    def test_the_sweep_is_scheduled(self, config: dict[str, Any]) -> None:
        assert [cron["path"] for cron in config["crons"]] == [SWEEP_PATH]
        for cron in config["crons"]:
            assert len(cron["schedule"].split()) == 5

    async def test_each_cron_path_is_a_get_route_of_the_app(
        self, config: dict[str, Any], tmp_path: Path
    ) -> None:
        app = create_app(make_settings(data_dir=tmp_path, cron_secret="a-cron-secret-value"))
        async with http_client(app) as client:
            for cron in config["crons"]:
                # Without the bearer secret the route exists but refuses: 401, not 404 or 405.
                response = await client.get(cron["path"])
                assert response.status_code == 401, cron["path"]
        await app.state.ports.close()


class TestBundle:
    def test_tests_bench_and_local_data_are_left_out(self, config: dict[str, Any]) -> None:
        pattern = config["functions"][FUNCTION]["excludeFiles"]
        for path in [*repository_files("tests", "bench"), ".data/mugshot.db", ".venv/bin/python"]:
            assert excluded(pattern, path), path

    def test_the_application_stays_in(self, config: dict[str, Any]) -> None:
        pattern = config["functions"][FUNCTION]["excludeFiles"]
        kept = repository_files("app", "api", "migrations") + ["requirements.txt"]
        assert [path for path in kept if excluded(pattern, path)] == []
