"""Create the product's Supabase Storage buckets and print or apply their access policies."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as `python scripts/setup_storage_buckets.py`, the repository root is not on sys.path.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import ValidationError  # noqa: E402

from app.adapters.storage import Buckets, BucketSpec  # noqa: E402
from app.config import Settings, secret_value  # noqa: E402

CREATED = "created"
ALREADY_THERE = "already there"
DIFFERS = "differs"
UPDATED = "updated"


class SetupError(Exception):
    """The setup cannot go on; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class BucketOutcome:
    name: str
    outcome: str
    differences: tuple[str, ...] = ()

    def describe(self) -> str:
        line = f"{self.outcome:<14} {self.name}"
        if self.differences:
            line += ": " + "; ".join(self.differences)
        if self.outcome == DIFFERS:
            line += " (run with --update to change it)"
        return line


def _describe(spec: BucketSpec) -> str:
    access = "public" if spec.public else "private"
    types = ", ".join(spec.allowed_mime_types)
    return f"{access}, at most {spec.file_size_limit} bytes, {types}"


def _options(spec: BucketSpec) -> dict[str, Any]:
    return {
        "public": spec.public,
        "file_size_limit": spec.file_size_limit,
        "allowed_mime_types": list(spec.allowed_mime_types),
    }


def differences(spec: BucketSpec, existing: Any) -> tuple[str, ...]:
    """How an existing bucket (storage3's bucket model) differs from the wanted one."""
    found: list[str] = []
    if bool(existing.public) != spec.public:
        found.append(f"public is {bool(existing.public)}, wanted {spec.public}")
    if existing.file_size_limit != spec.file_size_limit:
        found.append(
            f"file_size_limit is {existing.file_size_limit}, wanted {spec.file_size_limit}"
        )
    if sorted(existing.allowed_mime_types or []) != sorted(spec.allowed_mime_types):
        found.append(
            f"allowed_mime_types is {existing.allowed_mime_types}, "
            f"wanted {list(spec.allowed_mime_types)}"
        )
    return tuple(found)


@asynccontextmanager
async def storage_api(settings: Settings) -> AsyncIterator[Any]:
    """storage3's client for the project, authenticated with the service role key."""
    if not settings.uses_supabase_storage:
        raise SetupError("SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY must both be set")
    import httpx
    from supabase import AsyncClientOptions, acreate_client

    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0)) as http:
        client = await acreate_client(
            settings.supabase_url,
            secret_value(settings.supabase_service_role_key),
            options=AsyncClientOptions(httpx_client=http, persist_session=False),
        )
        yield client.storage


async def ensure_buckets(settings: Settings, *, update: bool = False) -> list[BucketOutcome]:
    """Create missing buckets; report (and with `update`, fix) ones that differ."""
    import httpx
    from storage3.exceptions import StorageApiError

    outcomes: list[BucketOutcome] = []
    try:
        async with storage_api(settings) as storage:
            existing = {bucket.id: bucket for bucket in await storage.list_buckets()}
            for spec in Buckets.from_settings(settings).all():
                current = existing.get(spec.name)
                if current is None:
                    await storage.create_bucket(spec.name, spec.name, _options(spec))
                    outcomes.append(BucketOutcome(spec.name, CREATED, (_describe(spec),)))
                    continue
                changes = differences(spec, current)
                if changes and update:
                    await storage.update_bucket(spec.name, _options(spec))
                    outcomes.append(BucketOutcome(spec.name, UPDATED, changes))
                else:
                    outcomes.append(
                        BucketOutcome(spec.name, DIFFERS if changes else ALREADY_THERE, changes)
                    )
    except StorageApiError as exc:
        raise SetupError(
            f"Supabase Storage refused the request: {exc.status} {exc.message}"
        ) from exc
    except httpx.HTTPError as exc:
        raise SetupError(
            f"Supabase Storage at {settings.supabase_url} could not be reached: "
            f"{type(exc).__name__}"
        ) from exc
    return outcomes


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _identifier(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def policy_sql(buckets: Buckets) -> str:
    """Row level security policies on storage.objects for the three buckets.

    The service role bypasses row level security, so the API (which uploads and deletes with
    that key) needs no policy; these govern what a browser holding a user's JWT may do.
    """
    statements = [
        "-- MugShot Studio storage policies. Safe to run again: each policy is replaced.",
    ]

    def policy(name: str, body: str) -> None:
        statements.append(f"drop policy if exists {_identifier(name)} on storage.objects;")
        statements.append(f"create policy {_identifier(name)} on storage.objects\n  {body};")

    assets = buckets.user_assets.name
    owner = f"bucket_id = {_literal(assets)} and split_part(name, '/', 1) = (auth.uid())::text"
    statements.append(
        f"\n-- {assets}: private; a signed-in user reaches only objects under their own id."
    )
    policy(f"{assets}: owner reads", f"for select to authenticated\n  using ({owner})")
    policy(f"{assets}: owner uploads", f"for insert to authenticated\n  with check ({owner})")
    policy(
        f"{assets}: owner updates",
        f"for update to authenticated\n  using ({owner})\n  with check ({owner})",
    )
    policy(f"{assets}: owner deletes", f"for delete to authenticated\n  using ({owner})")
    for spec in (buckets.profile_photos, buckets.renders):
        statements.append(
            f"\n-- {spec.name}: anyone may read; only the service role (the API) writes."
        )
        policy(
            f"{spec.name}: public read",
            f"for select to anon, authenticated\n  using (bucket_id = {_literal(spec.name)})",
        )
    return "\n".join(statements) + "\n"


def _asyncpg_dsn(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgres+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


async def apply_policies(database_url: str, sql: str) -> None:
    """Run the policy SQL in one transaction on the project's database."""
    if not database_url.startswith(("postgres://", "postgresql://", "postgresql+asyncpg://")):
        raise SetupError("--apply-sql needs DATABASE_URL pointing at the Supabase Postgres")
    import asyncpg

    try:
        # No statement cache: Supabase's pooler in transaction mode cannot keep one.
        connection = await asyncpg.connect(_asyncpg_dsn(database_url), statement_cache_size=0)
    except (OSError, asyncpg.PostgresError) as exc:
        raise SetupError(f"could not connect to DATABASE_URL: {type(exc).__name__}") from exc
    try:
        async with connection.transaction():
            await connection.execute(sql)
    except asyncpg.PostgresError as exc:
        raise SetupError(f"applying the storage policies failed: {exc}") from exc
    finally:
        await connection.close()


async def setup_storage(
    settings: Settings, *, update: bool = False, apply_sql: bool = False
) -> int:
    """Set up the buckets (and with `apply_sql` their policies); print what happened."""
    try:
        outcomes = await ensure_buckets(settings, update=update)
        for outcome in outcomes:
            print(outcome.describe())
        if apply_sql:
            await apply_policies(settings.database_url, policy_sql(Buckets.from_settings(settings)))
            print("applied storage policies")
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    drifted = [outcome.name for outcome in outcomes if outcome.outcome == DIFFERS]
    if drifted:
        print(
            f"error: {', '.join(drifted)} differ from the wanted settings; "
            "rerun with --update to change them",
            file=sys.stderr,
        )
        return 1
    return 0


# Settings that shape the buckets, with what each one decides.
BUCKET_SETTINGS = (
    ("USER_ASSETS_BUCKET", "name of the private bucket for uploads"),
    ("PROFILE_PHOTOS_BUCKET", "name of the public bucket for profile photos"),
    ("RENDERS_BUCKET", "name of the public bucket for renders"),
    ("MAX_UPLOAD_BYTES", "size limit of the upload and profile photo buckets"),
    ("PROVIDER_OUTPUT_MAX_BYTES", "size limit of the renders bucket"),
)


def guidance(settings: Settings) -> str:
    """What a run with Supabase settings would do, and how to give them."""
    lines = [
        "Supabase Storage is not configured, so nothing was changed. The API stores files in "
        f"{settings.data_dir / 'storage'} meanwhile.",
        "",
        "With SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY set, this script creates:",
    ]
    for spec in Buckets.from_settings(settings).all():
        lines.append(f"  {spec.name:<16} {_describe(spec)}")
    lines += [
        "",
        "Set, in the environment or .env:",
        "  SUPABASE_URL               https://<project ref>.supabase.co",
        "  SUPABASE_SERVICE_ROLE_KEY  the service_role key (Project Settings > API); keep it "
        "server-side",
        "Optional:",
    ]
    lines += [f"  {name:<26} {meaning}" for name, meaning in BUCKET_SETTINGS]
    lines += [
        "",
        "Then run this script again. --print-sql prints the storage policies without any "
        "credentials; --apply-sql applies them to DATABASE_URL.",
    ]
    return "\n".join(lines) + "\n"


def _missing_supabase_settings(settings: Settings) -> list[str]:
    missing = []
    if not settings.supabase_url:
        missing.append("SUPABASE_URL")
    if not secret_value(settings.supabase_service_role_key):
        missing.append("SUPABASE_SERVICE_ROLE_KEY")
    return missing


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(
            "Create the storage buckets (names from USER_ASSETS_BUCKET, PROFILE_PHOTOS_BUCKET, "
            "RENDERS_BUCKET) on the Supabase project in SUPABASE_URL, using "
            "SUPABASE_SERVICE_ROLE_KEY. Existing buckets are left alone; one whose settings "
            "differ is reported (exit 1) and changed only with --update."
        )
    )
    parser.add_argument(
        "--print-sql",
        action="store_true",
        help="only print the storage policies SQL for the Supabase SQL editor",
    )
    parser.add_argument(
        "--apply-sql",
        action="store_true",
        help="after the buckets, apply the storage policies to DATABASE_URL",
    )
    parser.add_argument(
        "--update", action="store_true", help="change existing buckets whose settings differ"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 1
    if args.print_sql and not args.apply_sql:
        print(policy_sql(Buckets.from_settings(settings)), end="")
        return 0
    missing = _missing_supabase_settings(settings)
    if len(missing) == 2 and not (args.update or args.apply_sql):
        # Nothing configured yet (a local setup): say what a real run would do.
        print(guidance(settings), end="")
        return 0
    if missing:
        # Half a configuration, or a change asked for that cannot be made.
        print(guidance(settings), end="", file=sys.stderr)
        print(
            f"error: {' and '.join(missing)} must be set (environment or .env)",
            file=sys.stderr,
        )
        return 1
    if args.print_sql:
        print(policy_sql(Buckets.from_settings(settings)), end="")
    return asyncio.run(setup_storage(settings, update=args.update, apply_sql=args.apply_sql))


if __name__ == "__main__":
    sys.exit(main())
