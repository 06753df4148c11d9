"""Sign-in and `GET /auth/me` throughput as ratios against a bare FastAPI endpoint.

Both apps run under uvicorn (one worker) on this machine and are loaded the same way.
Run: python bench/auth_throughput.py [--database-url postgresql://...] [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    PASSWORD,
    create_account,
    measure,
    product_environment,
    report,
    served,
)


async def run(requests: int, concurrency: int, database_url: str | None) -> None:
    with served("bench.baseline_app:app") as baseline_url:
        baseline = await measure(
            "bare FastAPI GET /ping",
            lambda c: c.get("/ping"),
            base_url=baseline_url,
            requests=requests,
            concurrency=concurrency,
        )
    with product_environment(database_url) as env, served("api.index:app", env) as url:
        email = "bench.person@example.com"
        headers = create_account(url, env["DATA_DIR"], email)
        me = await measure(
            "GET /api/v1/auth/me",
            lambda c: c.get("/api/v1/auth/me", headers=headers),
            base_url=url,
            requests=requests,
            concurrency=concurrency,
        )
        # Sign-in is dominated by argon2id on purpose, so fewer requests suffice.
        signin = await measure(
            "POST /api/v1/auth/signin",
            lambda c: c.post("/api/v1/auth/signin", json={"email": email, "password": PASSWORD}),
            base_url=url,
            requests=max(20, requests // 20),
            concurrency=concurrency,
        )
    report(baseline, [me, signin])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.concurrency, args.database_url))


if __name__ == "__main__":
    main()
