"""The signed-in user's account, kept in the key-value store so requests skip the database.

Read with the session record in one round trip. Any committed change to a `users` row replaces
that user's snapshot with a stale marker before the request that made it answers (see
`Database.watch_rows`); a change that names no row bumps a generation every snapshot carries.
A reader that misses loads the row and stores it with compare-and-set against the marker it
saw before reading, so a change committed meanwhile can never be overwritten by older data.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, get_args, get_type_hints

from app.adapters.kv import KeyValueStore
from app.auth import repository
from app.auth.identity import SignedInUser
from app.kit.db import Database

# Bounds how long a snapshot could outlive a change whose invalidation was lost (a process
# that died between commit and marker).
SNAPSHOT_TTL_SECONDS = 900
GENERATION_KEY = "accounts:generation"
_STALE = "stale:"
USERS_TABLE = "users"


def account_key(user_id: uuid.UUID | str) -> str:
    return f"account:{user_id}"


def _reader(hint: Any) -> Callable[[Any], Any]:
    """How a field of SignedInUser comes back from JSON."""
    kinds = get_args(hint) or (hint,)
    for kind, parse in ((uuid.UUID, uuid.UUID), (datetime, datetime.fromisoformat)):
        if kind in kinds:
            return lambda value: None if value is None else parse(value)
    if date in kinds:
        return lambda value: None if value is None else date.fromisoformat(value)
    return lambda value: value


# Every field of SignedInUser, so a field added there is kept here too; a snapshot written
# with other fields (by an older deploy) is a miss.
_READERS = {name: _reader(hint) for name, hint in get_type_hints(SignedInUser).items()}


def _encode(user: SignedInUser, generation: str) -> str:
    fields = {name: getattr(user, name) for name in _READERS}
    return json.dumps({"generation": generation, "user": fields}, default=str)


def _decode(raw: str) -> tuple[str, SignedInUser] | None:
    document = json.loads(raw)
    fields: dict[str, Any] = document["user"]
    if fields.keys() != _READERS.keys():
        return None
    user = SignedInUser(**{name: read(fields[name]) for name, read in _READERS.items()})
    return str(document["generation"]), user


@dataclass(frozen=True, slots=True)
class CachedAccount:
    """What the store held for the caller when the session was checked."""

    raw: str | None
    generation: str | None

    def user(self) -> SignedInUser | None:
        """The snapshot, when it is there and no blanket change came after it."""
        if self.raw is None or self.raw.startswith(_STALE):
            return None
        decoded = _decode(self.raw)
        if decoded is None or decoded[0] != (self.generation or "0"):
            return None
        return decoded[1]


def _marker() -> str:
    return _STALE + secrets.token_hex(8)


class AccountSnapshots:
    def __init__(self, kv: KeyValueStore) -> None:
        self.kv = kv

    async def load(
        self, *, database: Database, user_id: uuid.UUID, cached: CachedAccount
    ) -> SignedInUser | None:
        """Read the account from the database and keep it, unless it changed meanwhile."""
        key = account_key(user_id)
        expected = cached.raw if cached.raw and cached.raw.startswith(_STALE) else None
        if expected is None:
            expected = _marker()
            await self.kv.put(key, expected, ttl_seconds=SNAPSHOT_TTL_SECONDS)
        async with database.read_sessionmaker() as session:
            user = await repository.get_signed_in_user(session, user_id)
        if user is not None:
            snapshot = _encode(user, cached.generation or "0")
            await self.kv.replace(key, expected, snapshot, ttl_seconds=SNAPSHOT_TTL_SECONDS)
        return user

    async def invalidate(self, user_ids: frozenset[Any] | None) -> None:
        if user_ids is None:
            await self.kv.put(GENERATION_KEY, secrets.token_hex(8))
            return
        for user_id in user_ids:
            await self.kv.put(account_key(user_id), _marker(), ttl_seconds=SNAPSHOT_TTL_SECONDS)


def keep_account_snapshots(database: Database, kv: Callable[[], KeyValueStore]) -> None:
    """Serve callers from snapshots on `database`, forgetting them through `kv()` (the store
    the app uses at the time of the change) whenever a `users` row changes."""

    async def forget(user_ids: frozenset[Any] | None) -> None:
        await AccountSnapshots(kv()).invalidate(user_ids)

    database.watch_rows(USERS_TABLE, forget)
