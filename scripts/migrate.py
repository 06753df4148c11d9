"""Apply the database migrations to DATABASE_URL (Supabase, any Postgres, or SQLite locally)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

# Run as `python scripts/migrate.py`, the repository root is not on sys.path.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from pydantic_settings import BaseSettings, SettingsConfigDict  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.exc import ArgumentError  # noqa: E402

from app.config import Environment, normalise_database_url  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class MigrationTarget(BaseSettings):
    """Only what migrating needs, so it runs without the app's secrets."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    database_url: str = ""
    environment: Environment = Environment.DEVELOPMENT


class MigrationRefused(Exception):
    """The target is missing or unsuitable; the message says why."""


def resolve_url(url: str, environment: Environment) -> str:
    if not url:
        raise MigrationRefused("DATABASE_URL is not set (or pass --database-url)")
    normalised = normalise_database_url(url)
    try:
        backend = make_url(normalised).get_backend_name()
    except ArgumentError:
        raise MigrationRefused("DATABASE_URL is not a database URL") from None
    if backend not in ("postgresql", "sqlite"):
        raise MigrationRefused(f"unsupported database {backend!r}: use Postgres or SQLite")
    # A serverless function's disk is per instance and temporary: production needs Postgres.
    if backend == "sqlite" and environment is Environment.PRODUCTION:
        raise MigrationRefused("production needs a Postgres DATABASE_URL, not SQLite")
    return normalised


def migrate(url: str, revision: str = "head") -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    # Report each step on stderr without letting alembic.ini reconfigure the root logger.
    config.attributes["configure_logger"] = False
    progress = logging.StreamHandler(sys.stderr)
    progress.setFormatter(logging.Formatter("%(message)s"))
    alembic_logger = logging.getLogger("alembic")
    level = alembic_logger.level
    alembic_logger.addHandler(progress)
    alembic_logger.setLevel(logging.INFO)
    try:
        command.upgrade(config, revision)
    finally:
        alembic_logger.removeHandler(progress)
        alembic_logger.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="overrides DATABASE_URL")
    parser.add_argument("--revision", default="head", help="migrate up to this revision")
    args = parser.parse_args(argv)
    target = MigrationTarget()
    try:
        url = resolve_url(args.database_url or target.database_url, target.environment)
    except MigrationRefused as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 2
    shown = make_url(url).render_as_string(hide_password=True)
    print(f"Migrating {shown} to {args.revision}")
    migrate(url, args.revision)
    print("Done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
