"""The thumbnail pipeline: `GET /projects` throughput against a bare FastAPI endpoint, and the
submit-to-succeeded latency of a 4-variant studio job, both on a server started like `make run`.

Run: python bench/pipeline.py [--database-url postgresql://...] [--requests N] [--jobs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import create_account, measure, product_environment, report, served  # noqa: E402


async def job_latency(url: str, headers: dict[str, str], project_id: str) -> float:
    """Seconds from POST /jobs to the job reading `succeeded`, polled every 20 ms."""
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
        started = time.perf_counter()
        response = await client.post(
            "/api/v1/jobs", json={"project_id": project_id, "variants": 4, "quality": "std"}
        )
        response.raise_for_status()
        job_id = response.json()["id"]
        while True:
            job = (await client.get(f"/api/v1/jobs/{job_id}")).json()
            if job["status"] in ("succeeded", "failed", "canceled"):
                if job["status"] != "succeeded":
                    raise RuntimeError(f"job ended {job['status']}: {job['error']}")
                return time.perf_counter() - started
            await asyncio.sleep(0.02)


async def run(requests: int, concurrency: int, jobs: int, database_url: str | None) -> None:
    with served("bench.baseline_app:app") as baseline_url:
        baseline = await measure(
            "bare FastAPI GET /ping",
            lambda c: c.get("/ping"),
            base_url=baseline_url,
            requests=requests,
            concurrency=concurrency,
        )
    with product_environment(database_url) as env:
        env["DEFAULT_USER_CREDITS"] = "100000"
        with served("api.index:app", env) as url:
            headers = create_account(url, env["DATA_DIR"], "pipeline.bench@example.com")
            with httpx.Client(base_url=url, headers=headers) as client:
                for index in range(20):
                    client.post(
                        "/api/v1/projects",
                        json={"platform": "youtube", "headline": f"Episode {index}"},
                    ).raise_for_status()
                project_id = client.get("/api/v1/projects").json()["items"][0]["id"]
            projects = await measure(
                "GET /api/v1/projects",
                lambda c: c.get("/api/v1/projects", headers=headers),
                base_url=url,
                requests=requests,
                concurrency=concurrency,
            )
            latencies = [await job_latency(url, headers, project_id) for _ in range(jobs)]
    report(baseline, [projects])
    print(
        f"4-variant studio job, submit to succeeded (1280x720, {jobs} runs): "
        f"median {statistics.median(latencies):.2f} s, "
        f"min {min(latencies):.2f} s, max {max(latencies):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.concurrency, args.jobs, args.database_url))


if __name__ == "__main__":
    main()
