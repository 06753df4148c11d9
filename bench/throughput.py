"""Request throughput, list cost at depth and serving memory, loaded with wrk.

Every figure is a ratio against a bare FastAPI `/ping` served the same way in the same run
(uvicorn, one worker, as `make run` serves). Rounds interleave the targets, so a noisy moment
on the machine hits all of them; medians and the min-max spread over rounds are reported.

- Throughput: `GET /auth/me` and `GET /projects` (20 items) on SQLite and on Postgres, with
  1 wrk thread at 10 and 100 connections: requests/s, p99, server CPU per request.
- Lists at 10k rows: first page against the last page (by `next_cursor`, and by `offset`),
  for projects, jobs, credit transactions, chat messages and assets.
- Memory: peak RSS of the serving process after 1,000 mixed requests against after 10.

Postgres is a scratch cluster started for the run (tests/support/services.py) unless
`--database-url` names one, or `--no-postgres` leaves it out.
Run: python bench/throughput.py [--rounds N] [--seconds S] [--stack pure]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    ROOT,
    Server,
    create_account,
    product_environment,
    serve,
)
from bench.wrk import Load, ensure_wrk, peak_rss_mib, run_wrk  # noqa: E402

API = "/api/v1"
LIST_ROWS = 10_000


@dataclass
class Target:
    name: str
    server: Server
    path: str
    headers: dict[str, str]


@contextmanager
def database_urls(args: argparse.Namespace) -> Iterator[dict[str, str | None]]:
    """The databases to measure on: SQLite always, Postgres unless left out."""
    urls: dict[str, str | None] = {"sqlite": None}
    with ExitStack() as stack:
        if args.database_url:
            urls["postgres"] = args.database_url
        elif not args.no_postgres:
            from tests.support.services import postgres_server

            urls["postgres"] = stack.enter_context(postgres_server())
        yield urls


@contextmanager
def product(
    database_url: str | None, stack: str, root: Path = ROOT
) -> Iterator[tuple[Server, dict[str, str]]]:
    with product_environment(database_url, root=root) as env:
        env.pop("LOG_LEVEL")  # the default level, as deployed
        env["DEFAULT_USER_CREDITS"] = "1000"
        with serve("api.index:app", env, stack=stack, root=root) as server:
            yield server, env


@contextmanager
def fresh_database(url: str | None, name: str) -> Iterator[str | None]:
    """A new, empty Postgres database on the server of `url` (SQLite needs none)."""
    if url is None:
        yield None
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run(f"CREATE DATABASE {name}"))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f"DROP DATABASE {name} WITH (FORCE)"))


def make_projects(server: Server, headers: dict[str, str], count: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        for index in range(count):
            response = client.post(
                f"{API}/projects", json={"platform": "youtube", "headline": f"Episode {index}"}
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
    return ids


def summarise(name: str, loads: list[Load], bare: list[Load], connections: int) -> str:
    ratios = [load.per_second / base.per_second for load, base in zip(loads, bare, strict=True)]
    rates = [load.per_second for load in loads]
    # Little's law: with every connection busy, the mean wait is connections / throughput;
    # no p99 can be below it.
    mean_ms = connections / statistics.median(rates) * 1000
    return (
        f"{name:<34}{statistics.median(rates):>9.0f}"
        f"{min(rates):>8.0f}-{max(rates):<6.0f}"
        f"{statistics.median(ratios):>8.3f} ({min(ratios):.3f}-{max(ratios):.3f})"
        f"{statistics.median(load.p50_ms for load in loads):>9.1f}"
        f"{statistics.median(load.p99_ms for load in loads):>9.1f}"
        f"{mean_ms:>9.1f}"
        f"{statistics.median(load.cpu_us_per_request for load in loads):>10.0f}"
        f"{statistics.median(load.server_core_use for load in loads):>7.2f}"
    )


def throughput(targets: list[Target], args: argparse.Namespace) -> None:
    print("\n## Throughput (wrk -t1; ratio = req/s over the bare /ping of the same round)")
    for connections in (10, 100):
        loads: dict[str, list[Load]] = {target.name: [] for target in targets}
        for _ in range(args.rounds):
            for target in targets:
                loads[target.name].append(
                    run_wrk(
                        target.server.url + target.path,
                        server_pid=target.server.pid,
                        connections=connections,
                        seconds=args.seconds,
                        headers=target.headers,
                    )
                )
        print(f"\n{connections} connections, {args.rounds} rounds of {args.seconds:g} s")
        print(
            f"{'endpoint':<34}{'req/s':>9}{'spread':>14}{'ratio (spread)':>22}"
            f"{'p50 ms':>9}{'p99 ms':>9}{'c/rate':>9}{'cpu us/req':>11}{'core':>7}"
        )
        bare = loads[targets[0].name]
        for target in targets:
            print(summarise(target.name, loads[target.name], bare, connections))
    print("core = server CPU seconds per wall second while loaded (1.00: CPU-bound)")
    print("c/rate = connections / requests per second: the mean latency when every connection")
    print("         waits on a CPU-bound server (Little's law), which bounds p99 from below")


async def _seed_lists(database_url: str, user_id: uuid.UUID, rows: int) -> uuid.UUID:
    """Insert `rows` projects, jobs, ledger rows, chat messages and assets for one user."""
    from sqlalchemy import insert

    from app.kit.db import Database
    from app.models import Asset, Chat, ChatMessage, CreditTransaction, Job, Project

    database = Database(database_url)
    start = datetime.now(UTC) - timedelta(days=30)
    project_id, chat_id = uuid.uuid4(), uuid.uuid4()

    def at(index: int) -> datetime:
        return start + timedelta(seconds=index)

    def project(index: int, row_id: uuid.UUID | None = None) -> dict[str, Any]:
        return {
            "id": row_id or uuid.uuid4(),
            "user_id": user_id,
            "platform": "youtube",
            "width": 1280,
            "height": 720,
            "headline": f"Episode {index}",
            "created_at": at(index),
            "updated_at": at(index),
        }

    try:
        async with database.engine.begin() as connection:
            await connection.execute(insert(Project), [project(0, project_id)])
            await connection.execute(
                insert(Chat),
                [{"id": chat_id, "user_id": user_id, "session_name": "Bench", "updated_at": start}],
            )
            await connection.execute(insert(Project), [project(i) for i in range(1, rows)])
            await connection.execute(
                insert(Job),
                [
                    {
                        "id": uuid.uuid4(),
                        "user_id": user_id,
                        "project_id": project_id,
                        "model": "studio",
                        "quality": "draft",
                        "variants": 1,
                        "cost_credits": 1,
                        "status": "succeeded",
                        "created_at": at(i),
                        "updated_at": at(i),
                    }
                    for i in range(rows)
                ],
            )
            await connection.execute(
                insert(CreditTransaction),
                [
                    {
                        "id": uuid.uuid4(),
                        "user_id": user_id,
                        "delta": 0,
                        "reason": "grant",
                        "balance_after": 1000,
                        "created_at": at(i),
                    }
                    for i in range(rows)
                ],
            )
            await connection.execute(
                insert(ChatMessage),
                [
                    {
                        "id": uuid.uuid4(),
                        "chat_id": chat_id,
                        "sender": "user",
                        "content": f"Message {i}",
                        "created_at": at(i),
                    }
                    for i in range(rows)
                ],
            )
            await connection.execute(
                insert(Asset),
                [
                    {
                        "id": uuid.uuid4(),
                        "user_id": user_id,
                        "type": "ref",
                        "bucket": "user_assets",
                        "path": f"{user_id}/{uuid.uuid4().hex}.png",
                        "content_type": "image/png",
                        "width": 64,
                        "height": 64,
                        "size_bytes": 100,
                        "sha256": "0" * 64,
                        "created_at": at(i),
                    }
                    for i in range(rows)
                ],
            )
    finally:
        await database.dispose()
    return chat_id


def page_of(response: httpx.Response) -> tuple[int | None, int, str | None]:
    """(total, items, next cursor) of a page: an envelope, or an array with the page in its
    headers (chat messages)."""
    body = response.json()
    if isinstance(body, list):
        total = response.headers.get("X-Total-Count")
        return (
            int(total) if total is not None else None,
            len(body),
            response.headers.get("X-Next-Cursor"),
        )
    return body["total"], len(body["items"]), body["next_cursor"]


def list_depth(
    label: str, server: Server, env: dict[str, str], args: argparse.Namespace
) -> list[str]:
    """First page against the last page at LIST_ROWS rows, for every keyset list."""
    headers = create_account(server.url, env["DATA_DIR"], f"lists.{label}@example.com")
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        user_id = uuid.UUID(client.get(f"{API}/auth/me").json()["id"])
    from app.config import normalise_database_url

    url = env.get("DATABASE_URL") or f"sqlite:///{env['DATA_DIR']}/mugshot.db"
    chat_id = asyncio.run(_seed_lists(normalise_database_url(url), user_id, LIST_ROWS))
    lists = {
        "projects": f"{API}/projects",
        "jobs": f"{API}/jobs",
        "credit transactions": f"{API}/credits/transactions",
        "chat messages": f"{API}/chat/{chat_id}/messages",
        "assets": f"{API}/assets",
    }
    lines = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        for name, path in lists.items():
            total, _, _ = page_of(client.get(path, params={"limit": 1, "include_total": True}))
            assert total is not None
            before_last = client.get(path, params={"limit": 20, "offset": total - 40})
            before_last.raise_for_status()
            _, _, cursor = page_of(before_last)
            variants = {
                "first": f"{path}?limit=20",
                "last by cursor": f"{path}?limit=20&cursor={cursor}",
                "last by offset": f"{path}?limit=20&offset={total - 20}",
            }
            _, count, after = page_of(client.get(variants["last by cursor"]))
            if count != 20 or after is not None:
                raise RuntimeError(f"{name}: the cursor did not lead to the last page")
            # Server CPU per request, not requests per second: on a busy machine the rate
            # swings with the neighbours, the work a request needs does not.
            costs: dict[str, list[float]] = {key: [] for key in variants}
            for _ in range(args.rounds):
                for key, target in variants.items():
                    load = run_wrk(
                        server.url + target,
                        server_pid=server.pid,
                        connections=4,
                        seconds=max(1.0, args.seconds / 2),
                        headers=headers,
                    )
                    costs[key].append(load.cpu_us_per_request)
            first = statistics.median(costs["first"])
            by_cursor = statistics.median(costs["last by cursor"]) / first
            by_offset = statistics.median(costs["last by offset"]) / first
            lines.append(f"{label:<10}{name:<22}{first:>10.0f}{by_cursor:>16.2f}{by_offset:>16.2f}")
    return lines


MIXED = [
    ("GET", f"{API}/auth/me"),
    ("GET", f"{API}/projects"),
    ("GET", f"{API}/projects/{{project}}"),
    ("POST", f"{API}/projects"),
    ("PATCH", f"{API}/projects/{{project}}"),
    ("GET", f"{API}/jobs"),
    ("GET", f"{API}/credits/transactions"),
    ("GET", f"{API}/credits/balance"),
    ("GET", f"{API}/assets"),
    ("GET", f"{API}/chat"),
    ("GET", f"{API}/models"),
    ("GET", "/health"),
]


def memory(database_url: str | None, label: str, stack: str) -> str:
    """Peak RSS of a fresh server after 10 mixed requests, then after 1,000."""
    with product(database_url, stack) as (server, env):
        headers = create_account(server.url, env["DATA_DIR"], f"memory.{label}@example.com")
        [project] = make_projects(server, headers, 1)
        peaks = []
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            for count in (10, 990):
                for index in range(count):
                    method, path = MIXED[index % len(MIXED)]
                    body = {"platform": "youtube", "headline": f"Memory {index}"}
                    response = client.request(
                        method,
                        path.format(project=project),
                        json=body if method != "GET" else None,
                    )
                    if response.status_code >= 400:
                        raise RuntimeError(f"{method} {path}: {response.status_code}")
                peaks.append(peak_rss_mib(server.pid))
    return f"{label:<10}{peaks[0]:>12.1f}{peaks[1]:>12.1f}{peaks[1] / peaks[0]:>10.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--stack", choices=("auto", "pure", "uvloop"), default="auto")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="another checkout (e.g. `git worktree add /tmp/before <commit>`) whose /auth/me "
        "and /projects join the throughput rounds, for before/after figures in one run",
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--skip", nargs="*", default=[], choices=("throughput", "lists", "memory"))
    args = parser.parse_args()
    ensure_wrk()
    with database_urls(args) as urls, ExitStack() as stack:
        bare = stack.enter_context(serve("bench.baseline_app:app", stack=args.stack))
        targets = [Target("bare FastAPI GET /ping", bare, "/ping", {})]
        if args.stack == "auto":
            # What httptools buys: the same bare app on h11.
            pure = stack.enter_context(serve("bench.baseline_app:app", stack="pure"))
            targets.append(Target("bare /ping on asyncio + h11", pure, "/ping", {}))
            # uvloop: less CPU for the bare app, but a tail of its own at 100 connections.
            fast = stack.enter_context(serve("bench.baseline_app:app", stack="uvloop"))
            targets.append(Target("bare /ping on uvloop + httptools", fast, "/ping", {}))
        products: dict[str, tuple[Server, dict[str, str]]] = {}
        for label, url in urls.items():
            server, env = stack.enter_context(product(url, args.stack))
            products[label] = (server, env)
            headers = create_account(server.url, env["DATA_DIR"], f"bench.{label}@example.com")
            make_projects(server, headers, 20)
            targets.append(Target(f"GET /auth/me ({label})", server, f"{API}/auth/me", headers))
            targets.append(
                Target(f"GET /projects 20 ({label})", server, f"{API}/projects", headers)
            )
            if args.before is not None:
                before_url = stack.enter_context(fresh_database(url, "bench_before"))
                old, old_env = stack.enter_context(product(before_url, args.stack, args.before))
                old_headers = create_account(
                    old.url, old_env["DATA_DIR"], f"old.{label}@example.com"
                )
                make_projects(old, old_headers, 20)
                targets.append(
                    Target(f"  before: /auth/me ({label})", old, f"{API}/auth/me", old_headers)
                )
                targets.append(
                    Target(f"  before: /projects ({label})", old, f"{API}/projects", old_headers)
                )
        if "throughput" not in args.skip:
            throughput(targets, args)
        if "lists" not in args.skip:
            print(f"\n## Lists at {LIST_ROWS} rows: server CPU of the last page over the first")
            header = f"{'database':<10}{'list':<22}{'first us':>10}"
            print(f"{header}{'last/cursor':>16}{'last/offset':>16}")
            for label, (server, env) in products.items():
                for line in list_depth(label, server, env, args):
                    print(line)
    if "memory" not in args.skip:
        print("\n## Peak RSS of the serving process (MiB)")
        print(f"{'database':<10}{'after 10':>12}{'after 1000':>12}{'ratio':>10}")
        with database_urls(args) as urls:
            for label, url in urls.items():
                print(memory(url, label, args.stack))


if __name__ == "__main__":
    main()
