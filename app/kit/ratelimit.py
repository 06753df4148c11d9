"""Rate limits per client IP and per account, counted in the key-value store."""

from __future__ import annotations

import logging

from fastapi import Request

from app.adapters.kv import KeyValueStore, KeyValueUnavailable
from app.config import Platform, Settings
from app.kit.errors import RateLimited
from app.kit.security import hash_token

logger = logging.getLogger("app.ratelimit")


# Vercel's edge sets these on every request and overwrites whatever the client sent.
VERCEL_CLIENT_HEADERS = ("x-vercel-forwarded-for", "x-real-ip")


def client_ip(request: Request, settings: Settings) -> str:
    """The caller's address as the platform in front of us vouches for it.

    Never the leftmost `X-Forwarded-For` entry: a client writes that one itself. On Lambda,
    Mangum fills `request.client` from API Gateway's source IP; under uvicorn, `request.client`
    is the peer, rewritten from `X-Forwarded-For` only for proxies in `FORWARDED_ALLOW_IPS`.
    """
    if settings.platform is Platform.VERCEL:
        for header in VERCEL_CLIENT_HEADERS:
            value = request.headers.get(header, "").split(",")[0].strip()
            if value:
                return value
    return request.client.host if request.client else "unknown"


async def enforce_rate_limit(
    kv: KeyValueStore,
    *,
    action: str,
    limit: int,
    window_seconds: int,
    ip: str | None,
    account: str | None = None,
) -> None:
    """Count one attempt for the IP and the account, each when given; raise 429 past the limit.

    If the store is down the request goes through (fail open) and the outage is logged:
    refusing every sign-in because a counter is unreachable would be worse.
    """
    keys = [f"rl:{action}:ip:{ip}"] if ip is not None else []
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
