"""Password hashing (argon2id), access tokens (HS256 JWT) and opaque one-time tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from argon2 import PasswordHasher

# PyJWT and argon2 load on first use: PyJWT imports all of cryptography (for algorithms HS256
# never needs) as soon as it is imported, which a cold start answering /health should not pay.
ACCESS_TOKEN_TYPE = "access"
JWT_ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class PasswordHashCost:
    """argon2id parameters: passes over memory, memory in KiB, and lanes."""

    time_cost: int
    memory_kib: int
    parallelism: int


@lru_cache
def _hasher(cost: PasswordHashCost) -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher(
        time_cost=cost.time_cost, memory_cost=cost.memory_kib, parallelism=cost.parallelism
    )


async def hash_password(password: str, *, cost: PasswordHashCost) -> str:
    # Hashing is deliberately slow CPU work; keep it off the event loop.
    return await anyio.to_thread.run_sync(_hasher(cost).hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    # The hash records the parameters it was made with; verifying uses those.
    def verify() -> bool:
        try:
            return PasswordHasher().verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(verify)


_dummy_hashes: dict[PasswordHashCost, str] = {}


async def dummy_password_hash(cost: PasswordHashCost) -> str:
    """A real hash of a random password, checked when the account does not exist so that a
    failed sign-in takes the same time either way. Made once per cost, on a worker thread like
    any hash.
    """
    if cost not in _dummy_hashes:
        _dummy_hashes[cost] = await hash_password(secrets.token_urlsafe(16), cost=cost)
    return _dummy_hashes[cost]


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class InvalidAccessToken(Exception):
    pass


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: str
    issued_at: datetime
    expires_at: datetime


def issue_access_token(
    *, secret: str, user_id: uuid.UUID, session_id: str, ttl_seconds: int
) -> tuple[str, AccessClaims]:
    now = datetime.now(UTC).replace(microsecond=0)
    expires = now + timedelta(seconds=ttl_seconds)
    payload = {
        "sub": str(user_id),
        "sid": session_id,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "type": ACCESS_TOKEN_TYPE,
    }
    import jwt

    token = jwt.encode(payload, secret, algorithm=JWT_ALGORITHM)
    return token, AccessClaims(user_id, session_id, now, expires)


def decode_access_token(token: str, *, secret: str) -> AccessClaims:
    import jwt

    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "sid", "iat", "exp", "type"]},
        )
        if payload.get("type") != ACCESS_TOKEN_TYPE:
            raise InvalidAccessToken("not an access token")
        return AccessClaims(
            user_id=uuid.UUID(str(payload["sub"])),
            session_id=str(payload["sid"]),
            issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidAccessToken(str(exc)) from exc
