"""Sign-in sessions kept in the key-value store, with rotating refresh tokens."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from app.adapters.kv import KeyValueStore
from app.kit.security import hash_token, new_opaque_token, tokens_match

# Enough to recognise a stolen token for as long as a session normally lives.
_REMEMBERED_ROTATIONS = 50


def session_key(session_id: str) -> str:
    return f"session:{session_id}"


def _user_sessions_key(user_id: uuid.UUID) -> str:
    return f"user_sessions:{user_id}"


@dataclass
class SessionRecord:
    id: str
    user_id: str
    refresh_hash: str
    user_agent: str
    ip: str
    created_at: str
    last_used_at: str
    rotated_hashes: list[str] = field(default_factory=list)

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def load(cls, raw: str) -> SessionRecord:
        return cls(**json.loads(raw))


class RefreshOutcome:
    ROTATED = "rotated"
    REUSED = "reused"
    INVALID = "invalid"


def _split_refresh_token(token: str) -> tuple[str, str] | None:
    session_id, _, secret = token.partition(".")
    if not session_id or not secret or len(token) > 200:
        return None
    return session_id, secret


class SessionStore:
    def __init__(self, kv: KeyValueStore, *, ttl_seconds: int) -> None:
        self.kv = kv
        self.ttl_seconds = ttl_seconds

    async def create(
        self, *, user_id: uuid.UUID, user_agent: str, ip: str
    ) -> tuple[SessionRecord, str]:
        session_id = secrets.token_urlsafe(16)
        secret = new_opaque_token()
        now = datetime.now(UTC).isoformat()
        record = SessionRecord(
            id=session_id,
            user_id=str(user_id),
            refresh_hash=hash_token(secret),
            user_agent=user_agent[:300],
            ip=ip,
            created_at=now,
            last_used_at=now,
        )
        await self.kv.put(session_key(session_id), record.dump(), ttl_seconds=self.ttl_seconds)
        await self.kv.set_add(_user_sessions_key(user_id), session_id, ttl_seconds=self.ttl_seconds)
        return record, f"{session_id}.{secret}"

    async def get(self, session_id: str) -> SessionRecord | None:
        raw = await self.kv.get(session_key(session_id))
        return SessionRecord.load(raw) if raw else None

    async def rotate(
        self, refresh_token: str, *, user_agent: str, ip: str
    ) -> tuple[str, SessionRecord | None, str | None]:
        """Swap a refresh token for a new one.

        A token that was already rotated out means someone kept a copy: the whole session is
        revoked. Returns (outcome, record, new token).
        """
        parts = _split_refresh_token(refresh_token)
        if parts is None:
            return RefreshOutcome.INVALID, None, None
        session_id, secret = parts
        key = session_key(session_id)
        raw = await self.kv.get(key)
        if raw is None:
            return RefreshOutcome.INVALID, None, None
        record = SessionRecord.load(raw)
        presented = hash_token(secret)
        if any(tokens_match(presented, old) for old in record.rotated_hashes):
            await self.revoke(uuid.UUID(record.user_id), session_id)
            return RefreshOutcome.REUSED, record, None
        if not tokens_match(presented, record.refresh_hash):
            return RefreshOutcome.INVALID, None, None
        new_secret = new_opaque_token()
        record.rotated_hashes = [*record.rotated_hashes, record.refresh_hash][
            -_REMEMBERED_ROTATIONS:
        ]
        record.refresh_hash = hash_token(new_secret)
        record.last_used_at = datetime.now(UTC).isoformat()
        record.user_agent = user_agent[:300]
        record.ip = ip
        if not await self.kv.replace(key, raw, record.dump(), ttl_seconds=self.ttl_seconds):
            # Another refresh with the same token won the race: that is reuse too.
            await self.revoke(uuid.UUID(record.user_id), session_id)
            return RefreshOutcome.REUSED, record, None
        return RefreshOutcome.ROTATED, record, f"{session_id}.{new_secret}"

    async def list_for_user(self, user_id: uuid.UUID) -> list[SessionRecord]:
        records = []
        stale = []
        for session_id in await self.kv.set_members(_user_sessions_key(user_id)):
            record = await self.get(session_id)
            if record is None or record.user_id != str(user_id):
                stale.append(session_id)
            else:
                records.append(record)
        if stale:
            await self.kv.set_remove(_user_sessions_key(user_id), *stale)
        return sorted(records, key=lambda r: r.last_used_at, reverse=True)

    async def revoke(self, user_id: uuid.UUID, session_id: str) -> bool:
        record = await self.get(session_id)
        if record is None or record.user_id != str(user_id):
            return False
        await self.kv.delete(session_key(session_id))
        await self.kv.set_remove(_user_sessions_key(user_id), session_id)
        return True

    async def revoke_all(self, user_id: uuid.UUID, *, keep: str | None = None) -> int:
        session_ids = await self.kv.set_members(_user_sessions_key(user_id))
        doomed = [sid for sid in session_ids if sid != keep]
        if doomed:
            await self.kv.delete(*(session_key(sid) for sid in doomed))
            await self.kv.set_remove(_user_sessions_key(user_id), *doomed)
        return len(doomed)


def _user_id(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class OneTimeTokens:
    """Random single-use tokens (email confirmation, password reset), stored only as hashes.

    Issuing a new token for a purpose voids the previous one, so only the latest mail works.
    """

    def __init__(self, kv: KeyValueStore) -> None:
        self.kv = kv

    async def issue(self, purpose: str, user_id: uuid.UUID, *, ttl_seconds: int) -> str:
        token = new_opaque_token()
        digest = hash_token(token)
        latest_key = f"token_latest:{purpose}:{user_id}"
        previous = await self.kv.get(latest_key)
        if previous:
            await self.kv.delete(f"token:{purpose}:{previous}")
        await self.kv.put(f"token:{purpose}:{digest}", str(user_id), ttl_seconds=ttl_seconds)
        await self.kv.put(latest_key, digest, ttl_seconds=ttl_seconds)
        return token

    async def peek(self, purpose: str, token: str) -> uuid.UUID | None:
        """Whose token this is, leaving it unspent."""
        if not token or len(token) > 200:
            return None
        return _user_id(await self.kv.get(f"token:{purpose}:{hash_token(token)}"))

    async def redeem(self, purpose: str, token: str) -> uuid.UUID | None:
        """Whose token this is, spending it: of concurrent calls only one gets the answer."""
        if not token or len(token) > 200:
            return None
        return _user_id(await self.kv.take(f"token:{purpose}:{hash_token(token)}"))

    async def void_all(self, purpose: str, user_id: uuid.UUID) -> None:
        previous = await self.kv.take(f"token_latest:{purpose}:{user_id}")
        if previous:
            await self.kv.delete(f"token:{purpose}:{previous}")
