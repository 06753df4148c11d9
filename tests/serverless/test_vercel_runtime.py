"""The app under Vercel's real Python runtime, frozen whenever no invocation is open.

`vercel-runtime` (the version `@vercel/python` installs) imports `api/index.py` and serves it
with its own uvicorn; `VercelPlatform` plays the platform around it. A job the app registers
with the runtime's `wait_until` keeps its invocation open until the job is done, so it finishes
without another request; a plain in-process task is frozen with the instance.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import TEST_JWT_SECRET, run_migrations
from tests.factories import API, DEFAULT_PASSWORD, message_text, signup_body, token_from_text
from tests.images import image_bytes, open_image
from tests.serverless.vercel_platform import HOST, VercelPlatform
from tests.support.seedream_server import seedream_server

SIGNIN_LIMIT = 3
ARK_KEY = "test-ark-key"
CRON_SECRET = "a-cron-secret-of-enough-length"
EMAIL = "cut-off@example.com"
LEFT_ALONE_SECONDS = 2
JOB_TIMEOUT_SECONDS = 90


def function_environment(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "ENVIRONMENT": "development",
        "DATA_DIR": str(data_dir),
        "JWT_SECRET": TEST_JWT_SECRET,
        "PUBLIC_BASE_URL": f"https://{HOST}",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_SIGNIN": str(SIGNIN_LIMIT),
        # A long window: a boundary inside the test would reset the counts it checks.
        "RATE_LIMIT_WINDOW_SECONDS": "900",
        "SWEEP_INTERVAL_SECONDS": "0",
        **extra,
    }


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("migrated") / "mugshot.db"
    run_migrations(f"sqlite+aiosqlite:///{path}")
    return path


def start_function(data_dir: Path, database: Path, **extra: str) -> VercelPlatform:
    data_dir.mkdir(parents=True)
    shutil.copyfile(database, data_dir / "mugshot.db")
    return VercelPlatform(env=function_environment(data_dir, **extra), work_dir=data_dir)


@pytest.fixture(scope="module")
def vercel_function(
    tmp_path_factory: pytest.TempPathFactory, migrated_database: Path
) -> Iterator[VercelPlatform]:
    """The function as Vercel runs it (VERCEL=1), on SQLite in a temporary DATA_DIR."""
    data_dir = tmp_path_factory.mktemp("vercel") / "data"
    function = start_function(data_dir, migrated_database, VERCEL="1")
    try:
        yield function
    finally:
        function.close()


@pytest.fixture
def in_process_function(tmp_path: Path, migrated_database: Path) -> Iterator[VercelPlatform]:
    """The same runtime and platform, but the app not told it is on Vercel: in-process jobs."""
    function = start_function(tmp_path / "data", migrated_database)
    try:
        yield function
    finally:
        function.close()


def confirm_token(data_dir: Path, email: str) -> str:
    for path in sorted((data_dir / "outbox").glob("*.eml"), reverse=True):
        message = message_from_bytes(path.read_bytes())
        if message["To"] == email:
            return token_from_text(message_text(message), "confirm-email")
    raise AssertionError(f"no confirmation mail for {email}")


def sign_in(function: VercelPlatform, email: str, ip: str) -> dict[str, str]:
    signin = function.request(
        "POST",
        f"{API}/auth/signin",
        client_ip=ip,
        json={"email": email, "password": DEFAULT_PASSWORD},
    )
    assert signin.status_code == 200, signin.text
    return {"Authorization": f"Bearer {signin.json()['access_token']}"}


def signed_up(function: VercelPlatform, data_dir: Path, ip: str, email: str) -> dict[str, str]:
    body = signup_body(email=email)
    signup = function.request("POST", f"{API}/auth/signup", client_ip=ip, json=body)
    assert signup.status_code == 201, signup.text
    token = confirm_token(data_dir, body["email"])
    confirmed = function.request("POST", f"{API}/auth/confirm", client_ip=ip, json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    return sign_in(function, email, ip)


def briefed_project(
    function: VercelPlatform, data_dir: Path, ip: str, email: str | None = None
) -> tuple[dict[str, str], str]:
    """Sign up, upload a selfie and brief a project; the caller's headers and the project id."""
    headers = signed_up(function, data_dir, ip, email or signup_body()["email"])
    selfie = function.request(
        "POST",
        f"{API}/assets/upload",
        client_ip=ip,
        headers=headers,
        data={"type": "selfie"},
        files={"file": ("me.jpg", image_bytes("JPEG", size=(600, 800)), "image/jpeg")},
    )
    assert selfie.status_code == 201, selfie.text
    project = function.request(
        "POST",
        f"{API}/projects",
        client_ip=ip,
        headers=headers,
        json={
            "platform": "youtube",
            "headline": "Shipped on a frozen function",
            "vibe": "neon",
            "selfie_asset_ids": [selfie.json()["id"]],
        },
    )
    assert project.status_code == 201, project.text
    return headers, project.json()["id"]


def post_job(
    function: VercelPlatform,
    ip: str,
    headers: dict[str, str],
    project_id: str,
    *,
    model: str = "studio",
    variants: int = 2,
) -> str:
    job = function.request(
        "POST",
        f"{API}/jobs",
        client_ip=ip,
        headers=headers,
        json={"project_id": project_id, "variants": variants, "model": model},
    )
    assert job.status_code == 202, job.text
    job_id: str = job.json()["id"]
    return job_id


def start_studio_job(
    function: VercelPlatform, data_dir: Path, ip: str
) -> tuple[dict[str, str], str]:
    """A signed-in caller and the id of the 2-variant studio job they just POSTed."""
    headers, project_id = briefed_project(function, data_dir, ip)
    return headers, post_job(function, ip, headers, project_id)


def left_alone(function: VercelPlatform) -> None:
    """No request for a while: the instance stays frozen and gets no CPU time at all."""
    function.wait_idle(JOB_TIMEOUT_SECONDS)
    ticks = function.cpu_ticks
    time.sleep(LEFT_ALONE_SECONDS)
    assert function.frozen
    assert function.cpu_ticks == ticks


def wall_clock(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


class TestJobsUnderTheRuntime:
    def test_a_job_left_alone_finishes_renders_and_balances(
        self, vercel_function: VercelPlatform
    ) -> None:
        function = vercel_function
        data_dir = Path(function.env["DATA_DIR"])
        ip = "198.51.100.20"
        headers, job_id = start_studio_job(function, data_dir, ip)
        created = function.invocations[-1]

        left_alone(function)

        job = function.request("GET", f"{API}/jobs/{job_id}", client_ip=ip, headers=headers)
        finished = job.json()
        assert finished["status"] == "succeeded", finished
        assert [render["variant"] for render in finished["renders"]] == [0, 1]
        # The job ended after its response was delivered, inside the same invocation: the
        # runtime held that invocation open for it through wait_until.
        assert created.responded_at is not None
        assert created.ended_at is not None
        assert created.responded_at < wall_clock(finished["finished_at"]) <= created.ended_at

        for render in finished["renders"]:
            url = urlsplit(render["url"])
            assert url.netloc == HOST
            picture = function.request("GET", f"{url.path}?{url.query}", client_ip=ip)
            assert picture.status_code == 200
            assert picture.headers["content-type"] == "image/jpeg"  # YouTube takes JPEG
            assert open_image(picture.content).size == (1280, 720)
            assert (render["width"], render["height"]) == (1280, 720)

        balance = function.request("GET", f"{API}/credits/balance", client_ip=ip, headers=headers)
        ledger = function.request(
            "GET", f"{API}/credits/transactions", client_ip=ip, headers=headers
        )
        entries: list[dict[str, Any]] = ledger.json()["items"]
        assert balance.json()["credits"] == sum(entry["delta"] for entry in entries)
        assert balance.json()["credits"] == 10 - finished["cost_credits"]

    def test_an_in_process_job_is_frozen_with_the_instance(
        self, in_process_function: VercelPlatform
    ) -> None:
        function = in_process_function
        ip = "198.51.100.21"
        headers, job_id = start_studio_job(function, Path(function.env["DATA_DIR"]), ip)

        left_alone(function)

        job = function.request("GET", f"{API}/jobs/{job_id}", client_ip=ip, headers=headers)
        assert job.json()["status"] in {"queued", "running"}, job.json()
        assert len(job.json()["renders"]) < 2


class TestBeyondMaxDuration:
    def test_a_job_cut_off_by_max_duration_is_finished_by_the_cron_sweep(
        self, tmp_path: Path, migrated_database: Path
    ) -> None:
        data_dir = tmp_path / "data"
        ip = "198.51.100.22"
        lease = 5
        with seedream_server(ARK_KEY) as seedream:
            env = {
                "VERCEL": "1",
                "BYTEDANCE_API_KEY": ARK_KEY,
                "SEEDREAM_BASE_URL": seedream.base_url,
                "JOB_LEASE_SECONDS": str(lease),
                "CRON_SECRET": CRON_SECRET,
            }
            # The provider answers only after the function's budget is spent.
            seedream.state.slow_seconds = 60
            seedream.set_fault("slow")
            first = start_function(data_dir, migrated_database, **env)
            try:
                headers, project_id = briefed_project(first, data_dir, ip, EMAIL)
                first.max_duration_seconds = lease
                job_id = post_job(first, ip, headers, project_id, model="seedream", variants=1)
                first.wait_idle(JOB_TIMEOUT_SECONDS)
                assert first.timed_out
                cut_off_at = time.monotonic()
            finally:
                first.close()

            seedream.set_fault(None)
            second = VercelPlatform(env=function_environment(data_dir, **env), work_dir=data_dir)
            try:
                # Sessions lived in the first instance's memory key-value store.
                headers = sign_in(second, EMAIL, ip)
                # Still leased by the runner that died: the cron has nothing to take over yet.
                job = second.request("GET", f"{API}/jobs/{job_id}", client_ip=ip, headers=headers)
                assert job.json()["status"] == "running"
                time.sleep(max(0.0, lease + 0.5 - (time.monotonic() - cut_off_at)))

                cron = {"Authorization": f"Bearer {CRON_SECRET}", "User-Agent": "vercel-cron/1.0"}
                sweep = second.request(
                    "GET", f"{API}/internal/cron/sweep", client_ip="76.76.21.21", headers=cron
                )
                assert sweep.status_code == 200, sweep.text
                assert sweep.json()["redispatched"] == 1
                # The job runs in the cron's own invocation, which waits for it.
                second.wait_idle(JOB_TIMEOUT_SECONDS)

                finished = second.request(
                    "GET", f"{API}/jobs/{job_id}", client_ip=ip, headers=headers
                ).json()
                assert finished["status"] == "succeeded", finished
                assert len(finished["renders"]) == 1
                ledger = second.request(
                    "GET", f"{API}/credits/transactions", client_ip=ip, headers=headers
                ).json()["items"]
                balance = second.request(
                    "GET", f"{API}/credits/balance", client_ip=ip, headers=headers
                ).json()["credits"]
                assert balance == sum(entry["delta"] for entry in ledger)
                assert balance == 10 - finished["cost_credits"]
            finally:
                second.close()


class TestClientAddress:
    def test_per_ip_sign_in_limit_ignores_headers_a_client_makes_up(
        self, vercel_function: VercelPlatform
    ) -> None:
        function = vercel_function
        ip = "203.0.113.50"

        def sign_in(client_ip: str, **headers: str) -> int:
            # A fresh address each time, so only the per-IP limit can answer 429.
            body = {"email": f"nobody-{time.monotonic_ns()}@example.com", "password": "x" * 12}
            response = function.request(
                "POST", f"{API}/auth/signin", client_ip=client_ip, headers=headers, json=body
            )
            return response.status_code

        assert [sign_in(ip) for _ in range(SIGNIN_LIMIT)] == [401] * SIGNIN_LIMIT
        assert sign_in(ip) == 429
        assert sign_in(ip, **{"X-Forwarded-For": "192.0.2.77"}) == 429
        spoofed = {"X-Real-IP": "192.0.2.78", "X-Vercel-Forwarded-For": "192.0.2.78"}
        assert sign_in(ip, **spoofed) == 429
        # Another true address still has its own allowance.
        assert sign_in("203.0.113.51") == 401
