"""Rate limits per client IP and per account, counted in the key-value store."""

from __future__ import annotations

import logging

from fastapi import Request

from app.adapters.kv import KeyValueStore, KeyValueUnavailable
from app.config import Settings
from app.kit.errors import RateLimited
from app.kit.security import hash_token

logger = logging.getLogger("app.ratelimit")


def client_ip(request: Request, settings: Settings) -> str:
    """The caller's address; behind a serverless platform's proxy, the first forwarded hop."""
    if settings.is_serverless or settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first
        real_ip = request.headers.get("x-real-ip", "").strip()
        if real_ip:
            return real_ip
    return request.client.host if request.client else "unknown"


async def enforce_rate_limit(
    kv: KeyValueStore,
    *,
    action: str,
    limit: int,
    window_seconds: int,
    ip: str,
    account: str | None = None,
) -> None:
    """Count one attempt for the IP and, when given, the account; raise 429 past the limit.

    If the store is down the request goes through (fail open) and the outage is logged:
    refusing every sign-in because a counter is unreachable would be worse.
    """
    keys = [f"rl:{action}:ip:{ip}"]
    if account:
        # Account identifiers are hashed so the store never holds addresses in clear.
        keys.append(f"rl:{action}:account:{hash_token(account.lower())}")
    retry_after = 0
    for key in keys:
        try:
            result = await kv.hit(key, limit=limit, window_seconds=window_seconds)
        except KeyValueUnavailable:
            logger.warning(
                "rate limit skipped: key-value store unavailable", extra={"action": action}
            )
            return
        if not result.allowed:
            retry_after = max(retry_after, result.retry_after_seconds)
    if retry_after:
        raise RateLimited(retry_after)
