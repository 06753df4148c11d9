"""Key-value port (sessions, one-time tokens, rate limits): in-process memory or Upstash Redis."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from upstash_ratelimit.asyncio import Ratelimit
    from upstash_redis.asyncio import Redis

logger = logging.getLogger("app.kv")


class KeyValueUnavailable(Exception):
    """The key-value store could not be reached or answered with an error."""


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    retry_after_seconds: int


class KeyValueStore(Protocol):
    """What the application needs from a key-value store. Values are strings."""

    name: str

    async def get(self, key: str) -> str | None: ...

    async def get_many(self, *keys: str) -> list[str | None]:
        """Several values in one round trip, in the order of `keys`."""
        ...

    async def put(self, key: str, value: str, *, ttl_seconds: int | None = None) -> None: ...

    async def take(self, key: str) -> str | None:
        """Read and delete in one step: the value is handed out at most once."""
        ...

    async def delete(self, *keys: str) -> int: ...

    async def replace(self, key: str, expected: str, value: str, *, ttl_seconds: int) -> bool:
        """Set `key` to `value` only if it still holds `expected` (compare-and-set)."""
        ...

    async def set_add(self, key: str, member: str, *, ttl_seconds: int) -> None: ...

    async def set_remove(self, key: str, *members: str) -> None: ...

    async def set_members(self, key: str) -> set[str]: ...

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateLimitResult:
        """Count one attempt against a fixed window and say whether it is allowed."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class MemoryKeyValueStore:
    """Process-local store for development and tests; everything is lost on restart."""

    name = "memory"

    # Expired entries are swept once the store doubles in size since the last sweep, so memory
    # stays within about twice what is live, at a cost spread over the writes.
    MIN_SWEEP_SIZE = 1024

    def __init__(self) -> None:
        self._values: dict[str, tuple[Any, float | None]] = {}
        self._sweep_at = self.MIN_SWEEP_SIZE

    def __len__(self) -> int:
        """Entries held, expired ones not yet swept included."""
        return len(self._values)

    def _store(self, key: str, value: Any, expires_at: float | None) -> None:
        self._values[key] = (value, expires_at)
        if len(self._values) >= self._sweep_at:
            now = time.monotonic()
            expired = [k for k, (_, at) in self._values.items() if at is not None and at <= now]
            for expired_key in expired:
                del self._values[expired_key]
            self._sweep_at = max(self.MIN_SWEEP_SIZE, 2 * len(self._values))

    def _live(self, key: str) -> Any | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at is not None and expires_at <= time.monotonic():
            del self._values[key]
            return None
        return value

    @staticmethod
    def _deadline(ttl_seconds: int | None) -> float | None:
        return None if ttl_seconds is None else time.monotonic() + ttl_seconds

    async def get(self, key: str) -> str | None:
        value = self._live(key)
        return value if isinstance(value, str) else None

    async def get_many(self, *keys: str) -> list[str | None]:
        values = [self._live(key) for key in keys]
        return [value if isinstance(value, str) else None for value in values]

    async def put(self, key: str, value: str, *, ttl_seconds: int | None = None) -> None:
        self._store(key, value, self._deadline(ttl_seconds))

    async def take(self, key: str) -> str | None:
        value = self._live(key)
        self._values.pop(key, None)
        return value if isinstance(value, str) else None

    async def delete(self, *keys: str) -> int:
        removed = 0
        for key in keys:
            if self._live(key) is not None:
                removed += 1
            self._values.pop(key, None)
        return removed

    async def replace(self, key: str, expected: str, value: str, *, ttl_seconds: int) -> bool:
        if self._live(key) != expected:
            return False
        self._store(key, value, self._deadline(ttl_seconds))
        return True

    async def set_add(self, key: str, member: str, *, ttl_seconds: int) -> None:
        members = self._live(key)
        if not isinstance(members, set):
            members = set()
        members.add(member)
        self._store(key, members, self._deadline(ttl_seconds))

    async def set_remove(self, key: str, *members: str) -> None:
        current = self._live(key)
        if isinstance(current, set):
            current.difference_update(members)

    async def set_members(self, key: str) -> set[str]:
        current = self._live(key)
        return set(current) if isinstance(current, set) else set()

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateLimitResult:
        now = time.monotonic()
        entry = self._values.get(key)
        if entry is None or entry[1] is None or entry[1] <= now:
            count, expires_at = 0, now + window_seconds
        else:
            count, expires_at = entry[0], entry[1]
        count += 1
        self._store(key, count, expires_at)
        return RateLimitResult(
            allowed=count <= limit,
            limit=limit,
            remaining=max(0, limit - count),
            # Clamped: float error can put `expires_at - now` a hair above the window.
            retry_after_seconds=min(window_seconds, max(1, math.ceil(expires_at - now))),
        )

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._values.clear()


# Compare-and-set has to be atomic on the server, so it runs as one script.
_REPLACE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


class UpstashKeyValueStore:
    """Upstash Redis over its REST API; the SDKs are imported on first use."""

    name = "upstash"

    def __init__(self, url: str, token: str, *, prefix: str = "mugshot") -> None:
        self._url = url
        self._token = token
        self._prefix = prefix
        self._client: Redis | None = None
        self._limiters: dict[tuple[int, int], Ratelimit] = {}

    @property
    def client(self) -> Redis:
        if self._client is None:
            from upstash_redis.asyncio import Redis

            self._client = Redis(
                url=self._url,
                token=self._token,
                rest_retries=1,
                rest_retry_interval=0.2,
                allow_telemetry=False,
            )
        return self._client

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    async def _call(self, operation: str, awaitable: Any) -> Any:
        try:
            return await awaitable
        except Exception as exc:  # the SDK raises httpx errors and UpstashError alike
            raise KeyValueUnavailable(f"{operation} failed: {type(exc).__name__}") from exc

    async def get(self, key: str) -> str | None:
        value = await self._call("get", self.client.get(self._key(key)))
        return None if value is None else str(value)

    async def get_many(self, *keys: str) -> list[str | None]:
        values = await self._call("mget", self.client.mget(*(self._key(k) for k in keys)))
        return [None if value is None else str(value) for value in values]

    async def put(self, key: str, value: str, *, ttl_seconds: int | None = None) -> None:
        await self._call("set", self.client.set(self._key(key), value, ex=ttl_seconds))

    async def take(self, key: str) -> str | None:
        value = await self._call("getdel", self.client.getdel(self._key(key)))
        return None if value is None else str(value)

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        removed = await self._call("del", self.client.delete(*(self._key(k) for k in keys)))
        return int(removed)

    async def replace(self, key: str, expected: str, value: str, *, ttl_seconds: int) -> bool:
        result = await self._call(
            "replace",
            self.client.eval(
                _REPLACE_SCRIPT, keys=[self._key(key)], args=[expected, value, str(ttl_seconds)]
            ),
        )
        return bool(result)

    async def set_add(self, key: str, member: str, *, ttl_seconds: int) -> None:
        pipeline = self.client.multi()
        pipeline.sadd(self._key(key), member)
        pipeline.expire(self._key(key), ttl_seconds)
        await self._call("sadd", pipeline.exec())

    async def set_remove(self, key: str, *members: str) -> None:
        if members:
            await self._call("srem", self.client.srem(self._key(key), *members))

    async def set_members(self, key: str) -> set[str]:
        members = await self._call("smembers", self.client.smembers(self._key(key)))
        return {str(member) for member in members or []}

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateLimitResult:
        limiter = self._limiters.get((limit, window_seconds))
        if limiter is None:
            from upstash_ratelimit import FixedWindow
            from upstash_ratelimit.asyncio import Ratelimit

            limiter = Ratelimit(
                redis=self.client,
                limiter=FixedWindow(max_requests=limit, window=window_seconds, unit="s"),
                prefix=f"{self._prefix}:ratelimit:{limit}:{window_seconds}",
            )
            self._limiters[(limit, window_seconds)] = limiter
        response = await self._call("ratelimit", limiter.limit(key))
        return RateLimitResult(
            allowed=bool(response.allowed),
            limit=int(response.limit),
            remaining=int(response.remaining),
            retry_after_seconds=max(1, math.ceil(float(response.reset) - time.time())),
        )

    async def ping(self) -> None:
        await self._call("ping", self.client.ping())

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def create_key_value_store(url: str, token: str | None, *, prefix: str) -> KeyValueStore:
    if url:
        return UpstashKeyValueStore(url, token or "", prefix=prefix)
    return MemoryKeyValueStore()
