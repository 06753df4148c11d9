"""The key-value contract, run on the memory adapter and on Upstash over a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from app.adapters.kv import (
    KeyValueStore,
    KeyValueUnavailable,
    MemoryKeyValueStore,
    UpstashKeyValueStore,
)
from tests.conftest import UPSTASH_TOKEN
from tests.support.services import free_loopback_port


@pytest.fixture(params=["memory", "upstash"])
async def kv(request: pytest.FixtureRequest) -> AsyncIterator[KeyValueStore]:
    store: KeyValueStore
    if request.param == "memory":
        store = MemoryKeyValueStore()
    else:
        url: str = request.getfixturevalue("upstash_url")
        store = UpstashKeyValueStore(url, UPSTASH_TOKEN, prefix=f"t{uuid.uuid4().hex[:8]}")
    yield store
    await store.close()


class TestValues:
    async def test_put_get_delete(self, kv: KeyValueStore):
        assert await kv.get("missing") is None
        await kv.put("k", "välue ✓")
        assert await kv.get("k") == "välue ✓"
        assert await kv.delete("k", "other") == 1
        assert await kv.get("k") is None

    async def test_get_many_answers_in_the_order_asked(self, kv: KeyValueStore):
        await kv.put("a", "1")
        await kv.put("c", "3")
        await kv.set_add("members", "x", ttl_seconds=60)
        assert await kv.get_many("c", "missing", "a", "members") == ["3", None, "1", None]

    async def test_values_expire(self, kv: KeyValueStore):
        await kv.put("short", "x", ttl_seconds=1)
        await kv.put("long", "y", ttl_seconds=60)
        await asyncio.sleep(1.2)
        assert await kv.get("short") is None
        assert await kv.get("long") == "y"

    async def test_take_hands_a_value_out_once(self, kv: KeyValueStore):
        await kv.put("once", "token-owner")
        results = await asyncio.gather(*(kv.take("once") for _ in range(5)))
        assert sorted(results, key=str) == [None, None, None, None, "token-owner"]

    async def test_replace_only_when_unchanged(self, kv: KeyValueStore):
        await kv.put("cas", "v1")
        assert await kv.replace("cas", "v1", "v2", ttl_seconds=60) is True
        assert await kv.replace("cas", "v1", "v3", ttl_seconds=60) is False
        assert await kv.get("cas") == "v2"
        assert await kv.replace("absent", "v1", "v2", ttl_seconds=60) is False
        assert await kv.get("absent") is None


class TestSets:
    async def test_members_add_and_remove(self, kv: KeyValueStore):
        assert await kv.set_members("s") == set()
        await kv.set_add("s", "a", ttl_seconds=60)
        await kv.set_add("s", "b", ttl_seconds=60)
        await kv.set_add("s", "a", ttl_seconds=60)
        assert await kv.set_members("s") == {"a", "b"}
        await kv.set_remove("s", "a", "zzz")
        assert await kv.set_members("s") == {"b"}


class TestRateLimit:
    async def test_counts_within_a_window(self, kv: KeyValueStore):
        results = [await kv.hit("rl", limit=3, window_seconds=60) for _ in range(5)]
        assert [r.allowed for r in results] == [True, True, True, False, False]
        assert [r.remaining for r in results[:3]] == [2, 1, 0]
        assert all(1 <= r.retry_after_seconds <= 60 for r in results)

    async def test_keys_are_counted_apart(self, kv: KeyValueStore):
        assert (await kv.hit("a", limit=1, window_seconds=60)).allowed
        assert (await kv.hit("b", limit=1, window_seconds=60)).allowed
        assert not (await kv.hit("a", limit=1, window_seconds=60)).allowed

    async def test_window_resets(self, kv: KeyValueStore):
        assert (await kv.hit("w", limit=1, window_seconds=1)).allowed
        second = await kv.hit("w", limit=1, window_seconds=1)
        if second.allowed:
            # The two hits fell on either side of a window boundary; the next one cannot.
            second = await kv.hit("w", limit=1, window_seconds=1)
        assert not second.allowed
        await asyncio.sleep(1.2)
        assert (await kv.hit("w", limit=1, window_seconds=1)).allowed


class TestUpstashFailures:
    async def test_wrong_token_is_unavailable(self, upstash_url: str):
        store = UpstashKeyValueStore(upstash_url, "wrong-token")
        with pytest.raises(KeyValueUnavailable):
            await store.get("k")
        await store.close()

    async def test_unreachable_server_is_unavailable(self):
        store = UpstashKeyValueStore(f"http://127.0.0.1:{free_loopback_port()}", "token")
        with pytest.raises(KeyValueUnavailable):
            await store.ping()
        await store.close()


async def test_the_memory_store_sweeps_expired_keys():
    store = MemoryKeyValueStore()
    await store.put("kept", "yes", ttl_seconds=3600)
    # One-time tokens and sessions that expire unread, as most do.
    for index in range(20_000):
        await store.put(f"token:{index}", "x", ttl_seconds=0)
        await store.hit(f"rl:{index}", limit=5, window_seconds=0)
    assert len(store) <= MemoryKeyValueStore.MIN_SWEEP_SIZE
    assert await store.get("kept") == "yes"
