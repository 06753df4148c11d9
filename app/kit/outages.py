"""Telling a database that is down, busy or locked (retry later: 503) from a bug (500)."""

from __future__ import annotations

import errno
import sys

from sqlalchemy import exc as sa_exc

# SQLite's messages for a lock it waited out, or a file it cannot use.
_SQLITE_UNAVAILABLE = (
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
    "attempt to write a readonly database",
)
# PostgreSQL SQLSTATE classes and codes that say "not now" rather than "wrong":
# 08 connection exceptions, 53 insufficient resources (too many connections, disk full),
# 57 operator intervention (shutdown, cannot connect now, statement timeout), lock not
# available (lock_timeout), deadlock and serialization failures.
_POSTGRES_UNAVAILABLE_CLASSES = ("08", "53", "57")
_POSTGRES_UNAVAILABLE_CODES = ("55P03", "40P01", "40001")


def _sqlstate(error: BaseException) -> str | None:
    for candidate in (error, error.__cause__):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def is_database_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database cannot serve the request right now."""
    if isinstance(error, sa_exc.TimeoutError):
        return True  # no pooled connection became free in time
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        original = error.orig
        # Only loaded when SQLite is in use; a Postgres deployment never imports the driver.
        sqlite3 = sys.modules.get("sqlite3")
        if sqlite3 is not None and isinstance(original, sqlite3.OperationalError):
            return str(original).lower().startswith(_SQLITE_UNAVAILABLE)
        if original is not None:
            return is_database_unavailable(original)
        return False
    if isinstance(error, OSError):
        # Connecting failed (refused, reset, timed out) or the disk is full.
        return isinstance(error, ConnectionError | TimeoutError) or error.errno in (
            errno.ENOSPC,
            errno.ECONNREFUSED,
            errno.EHOSTUNREACH,
            errno.ENETUNREACH,
        )
    sqlstate = _sqlstate(error)
    if sqlstate is not None:
        return sqlstate[:2] in _POSTGRES_UNAVAILABLE_CLASSES or (
            sqlstate in _POSTGRES_UNAVAILABLE_CODES
        )
    return False
