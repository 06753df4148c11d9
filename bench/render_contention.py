"""POST /jobs latency while studio jobs render, against the same endpoint on an idle server.

wrk sends the measured POST /jobs (a small 256x256 one-variant project, paced so its own jobs
add little render work); a bounded async client keeps 8 four-variant 1280x720 studio jobs
rendering beside it. Rounds alternate idle and loaded on one server started like `make run`,
once with renders in the API process's threads (RENDER_PROCESSES=0) and once with the
default worker processes. Figures: p50 per round, reported as median (min-max) over rounds.

Run: python bench/render_contention.py [--rounds N] [--seconds S] [--database-url URL]
"""

# ruff: noqa: T201  (printing the figures is this script's whole output)

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import create_account, product_environment, served  # noqa: E402

BACKGROUND_JOBS = 8
SETTLE_SECONDS = 1.0

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"project_id": "%(project_id)s", "variants": 1, "quality": "draft"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "%(authorization)s"

function delay()
  return %(delay_ms)d
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %%d, "non_2xx": %%d, "socket_errors": %%d, "p50_us": %%d, "p90_us": %%d}\\n',
    summary.requests, errors.status, errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(90)))
end
"""


@dataclass
class Background:
    """Keeps BACKGROUND_JOBS studio jobs queued or rendering until stopped."""

    url: str
    headers: dict[str, str]
    project_id: str
    finished: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    async def _one_after_another(self, client: httpx.AsyncClient) -> None:
        while not self.stop.is_set():
            response = await client.post(
                "/api/v1/jobs",
                json={"project_id": self.project_id, "variants": 4, "quality": "std"},
            )
            response.raise_for_status()
            job_id = response.json()["id"]
            while True:
                await asyncio.sleep(0.25)
                job = (await client.get(f"/api/v1/jobs/{job_id}")).json()
                if job["status"] in ("succeeded", "failed", "canceled"):
                    if job["status"] != "succeeded":
                        raise RuntimeError(f"background job ended {job['status']}")
                    self.finished += 1
                    break

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=BACKGROUND_JOBS)
        async with httpx.AsyncClient(
            base_url=self.url, headers=self.headers, limits=limits, timeout=300
        ) as client:
            await asyncio.gather(*(self._one_after_another(client) for _ in range(BACKGROUND_JOBS)))

    def __enter__(self) -> Background:
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(),), daemon=True)
        self._thread.start()
        time.sleep(SETTLE_SECONDS)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self._thread.join(timeout=600)


def wrk_p50(url: str, script: Path, seconds: int, connections: int) -> dict[str, float]:
    result = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            f"{url}/api/v1/jobs",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    if figures["non_2xx"] or figures["socket_errors"]:
        raise RuntimeError(f"wrk saw failures: {figures}")
    return figures


@dataclass
class ModeResult:
    label: str
    idle_ms: list[float] = field(default_factory=list)
    loaded_ms: list[float] = field(default_factory=list)
    background_jobs: int = 0


def measure_mode(
    label: str, render_processes: str | None, args: argparse.Namespace, work: Path
) -> ModeResult:
    result = ModeResult(label)
    with product_environment(args.database_url) as env:
        env["DEFAULT_USER_CREDITS"] = "10000000"
        if render_processes is not None:
            env["RENDER_PROCESSES"] = render_processes
        with served("api.index:app", env) as url:
            headers = create_account(url, env["DATA_DIR"], "renders.bench@example.com")
            with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
                small = client.post(
                    "/api/v1/projects",
                    json={"platform": "custom", "width": 256, "height": 256, "headline": "Hi"},
                )
                large = client.post(
                    "/api/v1/projects", json={"platform": "youtube", "headline": "Big news"}
                )
            script = work / f"post_jobs_{label.split()[0]}.lua"
            script.write_text(
                WRK_SCRIPT
                % {
                    "project_id": small.json()["id"],
                    "authorization": headers["Authorization"],
                    "delay_ms": args.delay_ms,
                }
            )
            # Warm-up: imports, the worker pool, the database's caches.
            wrk_p50(url, script, 2, args.connections)
            for _ in range(args.rounds):
                idle = wrk_p50(url, script, args.seconds, args.connections)
                result.idle_ms.append(idle["p50_us"] / 1000)
                with Background(url, headers, large.json()["id"]) as background:
                    loaded = wrk_p50(url, script, args.seconds, args.connections)
                result.loaded_ms.append(loaded["p50_us"] / 1000)
                result.background_jobs += background.finished
    return result


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--delay-ms", type=int, default=100, help="pause after each POST")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    modes = [("threads (RENDER_PROCESSES=0)", "0"), ("process pool (default)", None)]
    with tempfile.TemporaryDirectory(prefix="mugshot-wrk-") as work:
        results = [measure_mode(label, value, args, Path(work)) for label, value in modes]
    print(
        f"POST /api/v1/jobs p50 in ms, median (min-max) of {args.rounds} rounds of "
        f"{args.seconds} s; wrk -c{args.connections}, {args.delay_ms} ms between requests"
    )
    print(f"{'renders run in':<30}{'idle':>20}{'8 jobs rendering':>22}{'ratio':>8}")
    for row in results:
        ratio = statistics.median(
            loaded / idle for idle, loaded in zip(row.idle_ms, row.loaded_ms, strict=True)
        )
        print(f"{row.label:<30}{spread(row.idle_ms):>20}{spread(row.loaded_ms):>22}{ratio:>8.2f}")
    for row in results:
        print(f"{row.label}: {row.background_jobs} background jobs finished while measured")
    print("ratio = loaded p50 / idle p50 of the same round (median over rounds)")


if __name__ == "__main__":
    main()
