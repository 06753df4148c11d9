"""Make an existing account an admin (or, with --demote, an ordinary user again), audited."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

# Run as `python scripts/create_admin.py`, the repository root is not on sys.path.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic_settings import BaseSettings, SettingsConfigDict  # noqa: E402

from app.admin.roles import set_role  # noqa: E402
from app.auth import repository  # noqa: E402
from app.config import normalise_database_url  # noqa: E402
from app.kit.db import Database, transaction  # noqa: E402
from app.models import UserRole  # noqa: E402

DEFAULT_DATA_DIR = Path(".data")
UNKNOWN_EMAIL = 1


class ScriptTarget(BaseSettings):
    """Only the database, so the script runs without the app's other settings and secrets."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    database_url: str = ""
    data_dir: Path = DEFAULT_DATA_DIR

    @property
    def url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        # The app's own default: the SQLite file in DATA_DIR.
        return f"sqlite+aiosqlite:///{(self.data_dir / 'mugshot.db').as_posix()}"


async def change_role(url: str, email: str, role: UserRole) -> str | None:
    """The account's new role, "" when it already had it, None when no account has the email."""
    database = Database(url)
    try:
        async with transaction(database.sessionmaker) as session:
            user = await repository.find_by_email(session, email)
            if user is None:
                return None
            changed = await set_role(
                session=session, user=user, role=role, reason="scripts/create_admin.py"
            )
            return role.value if changed else ""
    finally:
        await database.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("email", help="the account's email address")
    parser.add_argument("--demote", action="store_true", help="make the admin a user again")
    parser.add_argument("--database-url", help="overrides DATABASE_URL")
    args = parser.parse_args(argv)
    target = ScriptTarget()
    url = normalise_database_url(args.database_url) if args.database_url else target.url
    role = UserRole.USER if args.demote else UserRole.ADMIN
    outcome = asyncio.run(change_role(url, args.email.strip(), role))
    if outcome is None:
        print(
            f"create_admin: no account has the email {args.email!r}; sign up first",
            file=sys.stderr,
        )
        return UNKNOWN_EMAIL
    if outcome:
        print(f"{args.email} is now {'a user' if args.demote else 'an admin'}")
    else:
        print(f"{args.email} was already {'a user' if args.demote else 'an admin'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
