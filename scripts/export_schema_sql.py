"""Print the whole Postgres schema as SQL, to paste into Supabase's SQL editor."""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path

# Run as `python scripts/export_schema_sql.py`, the repository root is not on sys.path.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Offline mode needs only the dialect; this URL is never connected to.
POSTGRES_DIALECT_URL = "postgresql://"


def schema_sql(revision: str = "head") -> str:
    """The migrations up to `revision`, rendered for Postgres (with RLS and alembic_version)."""
    buffer = io.StringIO()
    config = Config(str(ROOT / "alembic.ini"), output_buffer=buffer)
    config.attributes["url"] = POSTGRES_DIALECT_URL
    config.attributes["configure_logger"] = False
    command.upgrade(config, revision, sql=True)
    header = (
        f"-- MugShot Studio API schema (migrations up to {revision}), "
        "from scripts/export_schema_sql.py.\n"
        "-- Run it once on an empty database; afterwards use scripts/migrate.py.\n\n"
    )
    return header + buffer.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--revision", default="head", help="migrate up to this revision")
    parser.add_argument("--output", type=Path, help="write to this file instead of stdout")
    args = parser.parse_args(argv)
    sql = schema_sql(args.revision)
    if args.output:
        args.output.write_text(sql)
    else:
        sys.stdout.write(sql)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
