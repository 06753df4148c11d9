"""Password hashing stays off the event loop, the timing equaliser included."""

from __future__ import annotations

import asyncio

import pytest

from app.kit import security


async def test_the_dummy_hash_is_made_on_a_worker_thread(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(security, "_dummy_hashes", {})  # as in a fresh process
    # The production cost, so the hash takes long enough for the loop to be seen turning.
    cost = security.PasswordHashCost(time_cost=3, memory_kib=65536, parallelism=4)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    started = ticks
    digest = await security.dummy_password_hash(cost)
    ticker.cancel()
    # Other tasks kept running while argon2 worked.
    assert ticks - started > 10
    assert digest.startswith("$argon2id$")
    assert await security.dummy_password_hash(cost) == digest
