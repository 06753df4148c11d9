"""Admin queries at 10k users and 100k jobs on Postgres: the stats query (settled days from the
daily rollups, the rest live) at the database and end to end, beside the live statement it
replaced, the user search and the user list sorted by each column.

A scratch Postgres cluster is started for the run (tests/support/services.py) unless
`--database-url` names a server; the rows are seeded with COPY in a few seconds. Goals:
stats <= 20 ms at the database and <= 40 ms through the app, user search and sorted user pages
<= 30 ms through the app. Medians with the p10-p90 spread are printed, and the EXPLAIN ANALYZE
plan of the stats query over 30 days (`--plans`: of every window, and of each statement the
admin user list sends for its searches and sorts).

Run: python bench/admin_queries.py [--database-url postgresql://...] [--runs N] [--plans]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import create_account, product_environment, serve  # noqa: E402

API = "/api/v1"
USERS = 10_000
JOBS = 100_000
PAYMENTS = 3_000
ADMIN_EMAIL = "bench.admin@example.com"
MODELS = ("studio", "nano_banana", "seedream", "flux_schnell", "ideogram_v3")
# Weighted like a live service: most jobs succeed, some fail, a few are in flight.
STATUSES = ("succeeded",) * 85 + ("failed",) * 8 + ("canceled",) * 3 + ("queued", "running") * 2
USER_SORTS = ("created_at", "email", "username", "full_name", "credits", "last_seen_at")
GOALS_MS = {"stats_db": 20.0, "stats_app": 40.0, "users_search": 30.0, "users_page": 30.0}


@dataclass
class Figure:
    name: str
    samples_ms: list[float]
    goal_ms: float | None = None

    def line(self) -> str:
        samples = sorted(self.samples_ms)
        median = statistics.median(samples)
        p10 = samples[int(len(samples) * 0.1)]
        p90 = samples[min(len(samples) - 1, int(len(samples) * 0.9))]
        goal = "" if self.goal_ms is None else f"{self.goal_ms:>8.0f}"
        verdict = "" if self.goal_ms is None else ("  ok" if median <= self.goal_ms else "  OVER")
        return (
            f"{self.name:<44}{median:>9.2f}{p10:>9.2f}{p90:>9.2f}{samples[-1]:>9.2f}{goal}{verdict}"
        )


def header() -> str:
    return f"{'query':<44}{'p50 ms':>9}{'p10':>9}{'p90':>9}{'max':>9}{'goal':>8}"


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    """A fresh database on the given server, or on a scratch cluster started for the run."""
    with ExitStack() as stack:
        if url is None:
            from tests.support.services import postgres_server

            url = stack.enter_context(postgres_server())
        import asyncpg

        name = f"mugshot_admin_bench_{uuid.uuid4().hex[:8]}"

        async def run(statement: str) -> None:
            connection = await asyncpg.connect(url)
            try:
                await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(run(f"CREATE DATABASE {name}"))
        try:
            yield url.rsplit("/", 1)[0] + f"/{name}"
        finally:
            asyncio.run(run(f"DROP DATABASE {name} WITH (FORCE)"))


def _rows(now: datetime) -> dict[str, list[tuple[Any, ...]]]:
    """Users over 180 days, one project each, jobs over 90 days, their ledger and payments."""
    rng = random.Random(20261202)
    day = timedelta(days=1)
    users: list[tuple[Any, ...]] = []
    projects: list[tuple[Any, ...]] = []
    jobs: list[tuple[Any, ...]] = []
    ledger: list[tuple[Any, ...]] = []
    payments: list[tuple[Any, ...]] = []
    user_ids = []
    for index in range(USERS):
        user_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        user_ids.append(user_id)
        created = now - rng.random() * 180 * day
        confirmed = created + timedelta(minutes=5) if rng.random() < 0.8 else None
        seen = now - rng.random() * 60 * day if confirmed and rng.random() < 0.7 else None
        suspended = now - rng.random() * 30 * day if rng.random() < 0.01 else None
        users.append(
            (
                user_id,
                f"person{index:05d}.{rng.choice(('mail', 'post', 'inbox'))}@example.com",
                f"person_{index:05d}",
                f"{rng.choice(('Asha', 'Ben', 'Chen', 'Dara', 'Eli'))} Person {index}",
                date(1990, 1, 1) + timedelta(days=rng.randrange(8000)),
                "user",
                rng.randrange(0, 500),
                confirmed,
                seen,
                suspended,
                created,
                created,
            )
        )
        projects.append(
            (
                uuid.uuid4(),
                user_id,
                "design",
                "youtube",
                1280,
                720,
                "Episode",
                "[]",
                "[]",
                "done",
                created,
                created,
            )
        )
        ledger.append((uuid.uuid4(), user_id, 10, "signup_bonus", None, 10, created))
    for _ in range(JOBS):
        owner = rng.randrange(USERS)
        created = now - rng.random() * 90 * day
        status = rng.choice(STATUSES)
        started = created + timedelta(seconds=rng.random() * 3) if status != "queued" else None
        finished = (
            started + timedelta(seconds=2 + rng.random() * 58)
            if started and status != "running"
            else None
        )
        cost = rng.choice((1, 2, 4, 8))
        job_id = uuid.uuid4()
        jobs.append(
            (
                job_id,
                user_ids[owner],
                projects[owner][0],
                rng.choice(MODELS),
                "std",
                1,
                "{}",
                status,
                100 if status == "succeeded" else 0,
                cost,
                cost if status in ("failed", "canceled") else 0,
                1 if started else 0,
                False,
                started,
                finished,
                finished or started or created,
                created,
            )
        )
        ledger.append(
            (uuid.uuid4(), user_ids[owner], -cost, "job_charge", f"job:{job_id}:charge", 0, created)
        )
        if status in ("failed", "canceled"):
            ledger.append(
                (
                    uuid.uuid4(),
                    user_ids[owner],
                    cost,
                    "job_refund",
                    f"job:{job_id}:refund",
                    0,
                    finished or created,
                )
            )
    for _ in range(PAYMENTS):
        owner = rng.randrange(USERS)
        created = now - rng.random() * 90 * day
        paid = rng.random() < 0.8
        currency, amount = rng.choice((("INR", 49900), ("INR", 19900), ("USD", 999)))
        payments.append(
            (
                uuid.uuid4(),
                user_ids[owner],
                "test",
                "starter",
                100,
                amount,
                currency,
                "paid" if paid else "created",
                f"order_{uuid.uuid4().hex}",
                "{}",
                0,
                0,
                0,
                created + timedelta(minutes=2) if paid else None,
                created,
                created,
            )
        )
        if paid:
            ledger.append((uuid.uuid4(), user_ids[owner], 100, "purchase", None, 0, created))
    return {
        "users": users,
        "projects": projects,
        "jobs": jobs,
        "credit_transactions": ledger,
        "payments": payments,
    }


COLUMNS = {
    "users": [
        "id", "email", "username", "full_name", "dob", "role", "credits",
        "email_confirmed_at", "last_seen_at", "suspended_at", "created_at", "updated_at",
    ],
    "projects": [
        "id", "user_id", "mode", "platform", "width", "height", "headline",
        "selfie_asset_ids", "ref_asset_ids", "status", "created_at", "updated_at",
    ],
    "jobs": [
        "id", "user_id", "project_id", "model", "quality", "variants", "params", "status",
        "progress", "cost_credits", "refunded_credits", "attempts", "cancel_requested",
        "started_at", "finished_at", "updated_at", "created_at",
    ],
    "credit_transactions": [
        "id", "user_id", "delta", "reason", "reference", "balance_after", "created_at",
    ],
    "payments": [
        "id", "user_id", "provider", "package_id", "credits", "amount", "currency", "status",
        "provider_order_id", "checkout", "refunded_amount", "credits_taken_back",
        "credits_unrecovered", "paid_at", "created_at", "updated_at",
    ],
}  # fmt: skip


async def seed(url: str) -> float:
    """COPY every row in; returns the seconds it took (ANALYZE included)."""
    import asyncpg

    started = time.perf_counter()
    rows = _rows(datetime.now(UTC))
    connection = await asyncpg.connect(url)
    try:
        for table, records in rows.items():
            await connection.copy_records_to_table(table, records=records, columns=COLUMNS[table])
        # As autovacuum keeps them on a live database: statistics, and the visibility map that
        # lets index-only scans skip the table. A VACUUM beside autovacuum's own ANALYZE of a
        # freshly loaded table cannot mark pages visible yet, so it repeats until it has.
        await connection.execute("VACUUM ANALYZE")
        for _ in range(10):
            behind = await connection.fetch(
                "SELECT relname FROM pg_class WHERE relname = ANY($1::text[]) "
                "AND relpages > 0 AND relallvisible < relpages",
                list(rows),
            )
            if not behind:
                break
            await asyncio.sleep(1)
            for row in behind:
                await connection.execute(f'VACUUM ANALYZE "{row["relname"]}"')
    finally:
        await connection.close()
    return time.perf_counter() - started


async def timed(runs: int, call: Callable[[], Awaitable[object]], warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def database_figures(url: str, runs: int) -> tuple[list[Figure], dict[str, str]]:
    """The stats statement through the app's repository code, on the app's engine setup."""
    from sqlalchemy import text

    from app.admin.ops import repository
    from app.admin.ops.stats import WINDOWS
    from app.kit.db import Database

    database = Database(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    figures, plans = [], {}
    try:

        async def select_one() -> None:
            async with database.read_sessionmaker() as session:
                await session.execute(text("SELECT 1"))

        # The floor: one round trip through the same session, showing how loaded the machine is.
        figures.append(Figure("SELECT 1 at the database (floor)", await timed(runs, select_one)))
        # What the sweeper (or the first stats request) does once after the seeding: roll up
        # every settled day of the last month.
        started = time.perf_counter()
        async with database.sessionmaker.begin() as session:
            rolled = await repository.refresh_rollups(session, now=datetime.now(UTC))
        elapsed = (time.perf_counter() - started) * 1000
        figures.append(Figure(f"rolling up {rolled} days (once)", [elapsed]))
        for window, span in WINDOWS.items():
            now = datetime.now(UTC)
            since = now - span

            async def once(since: datetime = since, now: datetime = now) -> None:
                async with database.read_sessionmaker() as session:
                    await repository.stats(session, since=since, now=now)

            samples = await timed(runs, once)
            figures.append(Figure(f"stats {window} at the database", samples, GOALS_MS["stats_db"]))

            async def live(since: datetime = since) -> None:
                async with database.read_sessionmaker() as session:
                    await repository.live_stats(session, since=since)

            figures.append(Figure(f"stats {window} live, no rollups", await timed(runs, live)))
            async with database.read_sessionmaker() as session:
                statement = text(
                    "EXPLAIN (ANALYZE, BUFFERS) " + repository.stats_statement("postgresql")
                ).bindparams(
                    *repository.stats_parameters(repository.stats_span(since=since, now=now))
                )
                plans[f"stats {window}"] = "\n".join(
                    row[0] for row in (await session.execute(statement)).all()
                )
        await user_list_figures(database, runs, figures, plans)
    finally:
        await database.dispose()
    return figures, plans


async def user_list_figures(
    database: Any, runs: int, figures: list[Figure], plans: dict[str, str]
) -> None:
    """The admin user list's own queries (its repository, when this build has one), timed at
    the database, with the plan of each statement it sends."""
    try:
        from app.admin import repository as users_repository
        from app.admin.schemas import SortOrder, UserSort
    except ImportError:
        return
    from sqlalchemy import event

    from app.kit.pagination import PageParams

    page = PageParams(limit=50, offset=0, cursor=None, include_total=False)
    cases: dict[str, dict[str, Any]] = {
        f"users search={term}": {"filters": users_repository.UserFilters(search=term)}
        for term in ("person0042", "chen", "mail.com")
    }
    for sort in UserSort:
        cases[f"users sort={sort.value} asc"] = {"sort": sort, "order": SortOrder.ASC}
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        captured.append((statement, parameters))

    for name, case in cases.items():

        async def once(case: dict[str, Any] = case) -> None:
            async with database.read_sessionmaker() as session:
                await users_repository.list_users(
                    session,
                    filters=case.get("filters", users_repository.UserFilters()),
                    sort=case.get("sort", UserSort.CREATED_AT),
                    order=case.get("order", SortOrder.DESC),
                    page=page,
                )

        goal = GOALS_MS["users_search" if "search" in name else "users_page"]
        figures.append(Figure(f"{name} at the database", await timed(runs, once), goal))
        captured.clear()
        event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
        try:
            await once()
        finally:
            event.remove(database.engine.sync_engine, "before_cursor_execute", capture)
        async with database.read_sessionmaker() as session:
            connection = await session.connection()
            lines = []
            for statement, parameters in captured:
                result = await connection.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                )
                lines += [statement.strip().splitlines()[0][:120], *(row[0] for row in result)]
            plans[name] = "\n".join(lines)


def admin_user_routes(client: httpx.Client) -> tuple[str | None, list[str]]:
    """The user search parameter and sorts the admin user list documents, if it exists."""
    schema = client.get(f"{API}/openapi.json").json()
    operation = schema["paths"].get(f"{API}/admin/users", {}).get("get")
    if operation is None:
        return None, []
    names = {parameter["name"]: parameter for parameter in operation.get("parameters", [])}
    search = next((name for name in ("search", "q") if name in names), None)
    components = schema.get("components", {}).get("schemas", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        reference = node.get("$ref", "")
        resolved: dict[str, Any] = components.get(reference.rsplit("/", 1)[-1], node)
        return resolved if reference else node

    sorts: list[str] = []
    sort = resolve(names.get("sort", {}).get("schema", {}))
    for option in [sort, *sort.get("anyOf", []), *sort.get("allOf", [])]:
        sorts.extend(resolve(option).get("enum", []))
    return search, list(dict.fromkeys(name for name in sorts if name)) or list(USER_SORTS)


async def app_figures(base_url: str, headers: dict[str, str], runs: int) -> list[Figure]:
    figures = []
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:

        async def get(path: str, params: dict[str, Any]) -> None:
            response = await client.get(path, params=params)
            if response.status_code != 200:
                raise RuntimeError(f"{path} {params}: {response.status_code} {response.text[:300]}")

        for window in ("24h", "7d", "30d"):
            stats = {"window": window, "fresh": 1}
            samples = await timed(runs, partial(get, f"{API}/admin/stats", stats))
            figures.append(
                Figure(f"GET /admin/stats {window} fresh", samples, GOALS_MS["stats_app"])
            )
        samples = await timed(runs, partial(get, f"{API}/admin/stats", {"window": "24h"}))
        # No database work at all: the request path's own cost on this machine now.
        figures.append(Figure("GET /admin/stats 24h cached (floor)", samples))
        with httpx.Client(base_url=base_url, headers=headers) as sync:
            search, sorts = admin_user_routes(sync)
        if search is None:
            print("GET /admin/users is not in this build: user list figures skipped")
            return figures
        for term in ("person0042", "chen", "mail.com"):
            samples = await timed(runs, partial(get, f"{API}/admin/users", {search: term}))
            figures.append(
                Figure(f"GET /admin/users?{search}={term}", samples, GOALS_MS["users_search"])
            )
        for sort in sorts:
            for order in ("asc", "desc"):
                params = {"sort": sort, "order": order, "limit": 50}
                samples = await timed(runs, partial(get, f"{API}/admin/users", params))
                figures.append(
                    Figure(f"GET /admin/users sort={sort} {order}", samples, GOALS_MS["users_page"])
                )
            deep = {"sort": sort, "limit": 50, "offset": 5000}
            samples = await timed(runs, partial(get, f"{API}/admin/users", deep))
            figures.append(Figure(f"GET /admin/users sort={sort} offset 5000", samples))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="a Postgres server URL (postgresql://...)")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--plans", action="store_true", help="print every EXPLAIN ANALYZE plan")
    args = parser.parse_args()

    with postgres(args.database_url) as url:
        with product_environment(url.replace("postgresql://", "postgresql+asyncpg://", 1)) as env:
            seconds = asyncio.run(seed(url))
            print(f"seeded {USERS} users, {JOBS} jobs, their ledger and payments in {seconds:.1f}s")
            db_figures, plans = asyncio.run(database_figures(url, args.runs))
            env["ADMIN_EMAILS"] = ADMIN_EMAIL
            with serve("api.index:app", env) as server:
                headers = create_account(server.url, env["DATA_DIR"], ADMIN_EMAIL)
                http_figures = asyncio.run(app_figures(server.url, headers, args.runs))
    print()
    print(header())
    for figure in [*db_figures, *http_figures]:
        print(figure.line())
    print("milliseconds per request, sequential; the machine is shared, so spreads are wide")
    shown = plans if args.plans else {name: plans[name] for name in plans if "30d" in name}
    for name, plan in shown.items():
        print(f"\nEXPLAIN ANALYZE {name}:\n{plan}")


if __name__ == "__main__":
    main()
