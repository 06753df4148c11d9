"""Shared benchmark plumbing: serve apps with uvicorn in subprocesses and load them over HTTP."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench password 123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


@contextmanager
def served(app_path: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `uvicorn app_path` (one worker, no access log) and yield its base URL."""
    with serve(app_path, env) as server:
        yield server.url


@contextmanager
def serve(
    app_path: str,
    env: dict[str, str] | None = None,
    *,
    stack: str = "auto",
    root: Path = ROOT,
) -> Iterator[Server]:
    """Run `uvicorn app_path` from `root` as `make run` does (one worker, asyncio's loop,
    httptools when installed; `stack="pure"` for h11, `"uvloop"` for uvloop and httptools),
    without the access log."""
    port = free_port()
    stack_args = {
        "auto": ["--loop", "asyncio"],  # as `make run` serves: httptools when installed
        "pure": ["--loop", "asyncio", "--http", "h11"],
        "uvloop": ["--loop", "uvloop", "--http", "httptools"],
    }[stack]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app_path,
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            *stack_args,
        ],
        cwd=root,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a loaded machine imports slowly
        while True:
            try:
                httpx.get(f"{url}/docs", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{app_path} did not start") from None
                time.sleep(0.1)
        yield Server(url=url, pid=process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def product_environment(
    database_url: str | None = None, *, root: Path = ROOT
) -> Iterator[dict[str, str]]:
    """Environment for the product app (the checkout at `root`) on a fresh data folder, migrated."""
    with tempfile.TemporaryDirectory(prefix="mugshot-bench-") as data_dir:
        env = {
            "DATA_DIR": data_dir,
            "ENVIRONMENT": "development",
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_SIGNIN": "1000000",
            "RATE_LIMIT_SIGNUP": "1000000",
            "RATE_LIMIT_START": "1000000",
            "SWEEP_INTERVAL_SECONDS": "0",
        }
        if database_url:
            env["DATABASE_URL"] = database_url
        subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            cwd=root,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        yield env


@dataclass
class Throughput:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


async def measure(
    name: str,
    send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    *,
    base_url: str,
    requests: int,
    concurrency: int,
    expect: int = 200,
) -> Throughput:
    latencies: list[float] = []
    remaining = requests
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        for _ in range(min(20, requests)):  # warm-up: connections, caches, imports
            await send(client)

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                response = await send(client)
                latencies.append(time.perf_counter() - started)
                if response.status_code != expect:
                    raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return Throughput(
        name=name,
        requests=requests,
        seconds=elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p95_ms=latencies[int(len(latencies) * 0.95) - 1] * 1000,
    )


def create_account(base_url: str, data_dir: str, email: str) -> dict[str, str]:
    """Sign up, confirm through the outbox mail, sign in; return the bearer header."""
    username = re.sub(r"[^a-z0-9_]", "_", email.split("@")[0])[:30]
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post(
            "/api/v1/auth/signup",
            json={
                "email": email,
                "password": PASSWORD,
                "confirm_password": PASSWORD,
                "username": username,
                "full_name": "Bench Person",
                "dob": "1990-01-01",
            },
        )
        response.raise_for_status()
        token = None
        for path in sorted(Path(data_dir, "outbox").glob("*.eml")):
            text = path.read_text()
            if f"To: {email}" in text:
                match = re.search(r"token=([A-Za-z0-9_\-]+)", text)
                token = match.group(1) if match else None
        if token is None:
            raise RuntimeError("no confirmation mail in the outbox")
        client.post("/api/v1/auth/confirm", json={"token": token}).raise_for_status()
        signin = client.post("/api/v1/auth/signin", json={"email": email, "password": PASSWORD})
        signin.raise_for_status()
        return {"Authorization": f"Bearer {signin.json()['access_token']}"}


def report(baseline: Throughput, results: list[Throughput]) -> None:
    print(f"{'endpoint':<28}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'ratio':>10}")
    for row in [baseline, *results]:
        ratio = row.per_second / baseline.per_second
        print(
            f"{row.name:<28}{row.per_second:>10.1f}{row.p50_ms:>10.2f}"
            f"{row.p95_ms:>10.2f}{ratio:>10.3f}"
        )
    print("ratio = endpoint req/s divided by the bare FastAPI endpoint's req/s in the same run")
