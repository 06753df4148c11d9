"""The connection pool serves waiting requests in the order they asked (app.kit.pool)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty, Full

from app.kit.db import Database
from app.kit.pool import FairAsyncQueuePool, FairQueue


def take(queue: object, block: bool = True, timeout: float | None = None) -> asyncio.Task[str]:
    """A task asking `queue` for an item as the pool does (from SQLAlchemy's greenlet)."""
    return asyncio.create_task(greenlet_spawn(queue.get, block, timeout))  # type: ignore[attr-defined]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class TestFairQueue:
    async def test_waiters_are_served_in_the_order_they_asked(self):
        queue: FairQueue[str] = FairQueue(3)
        waiters = []
        for _ in range(3):
            waiters.append(take(queue))
            await settle()
        for item in ("a", "b", "c"):
            queue.put(item, False)
        assert [await waiter for waiter in waiters] == ["a", "b", "c"]

    async def test_a_returned_item_is_not_taken_by_a_newcomer_ahead_of_a_waiter(self):
        queue: FairQueue[str] = FairQueue(1)
        waiter = take(queue)
        await settle()
        queue.put("a", False)
        # Before the waiter's task runs again, a new request asks: there is nothing for it.
        with pytest.raises(Empty):
            await greenlet_spawn(queue.get, False, None)
        newcomer = take(queue, True, 5)
        assert await waiter == "a"
        assert not newcomer.done()
        queue.put("a", False)
        assert await newcomer == "a"

    async def test_sqlalchemys_own_queue_lets_the_newcomer_take_it(self):
        """Why the pool has its own queue: with SQLAlchemy's, the newcomer wins that race."""
        queue: AsyncAdaptedQueue[str] = AsyncAdaptedQueue(1)
        waiter = take(queue, True, 0.2)
        await settle()
        queue.put("a", False)
        assert await greenlet_spawn(queue.get, False, None) == "a"
        with pytest.raises(Empty):
            await waiter

    async def test_a_wait_times_out_and_leaves_the_line(self):
        queue: FairQueue[str] = FairQueue(1)
        with pytest.raises(Empty):
            await take(queue, True, 0.05)
        queue.put("a", False)  # nobody waits any more: it stays idle
        assert queue.qsize() == 1
        assert await greenlet_spawn(queue.get, False, None) == "a"

    async def test_an_item_handed_to_a_waiter_that_gave_up_goes_to_the_next(self):
        queue: FairQueue[str] = FairQueue(1)
        first = take(queue)
        await settle()
        second = take(queue)
        await settle()
        queue.put("a", False)  # handed to the first waiter ...
        first.cancel()  # ... which is canceled before it runs
        with pytest.raises(asyncio.CancelledError):
            await first
        assert await second == "a"

    async def test_idle_items_and_capacity(self):
        queue: FairQueue[str] = FairQueue(2)
        queue.put("a", False)
        queue.put("b", False)
        assert queue.full()
        with pytest.raises(Full):
            queue.put("c", False)
        assert queue.get_nowait() == "a"
        lifo: FairQueue[str] = FairQueue(2, use_lifo=True)
        lifo.put("a", False)
        lifo.put("b", False)
        assert lifo.get_nowait() == "b"
        assert lifo.qsize() == 1
        assert not lifo.empty()


class TestFairPool:
    async def test_a_request_past_the_timeout_gets_the_pools_timeout(self, tmp_path: Path):
        engine = create_async_engine(
            f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}",
            poolclass=FairAsyncQueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=0.05,
        )
        try:
            async with engine.connect():
                with pytest.raises(PoolTimeout):
                    async with engine.connect():
                        pass
            async with engine.connect() as connection:
                assert await connection.scalar(text("select 1")) == 1
        finally:
            await engine.dispose()

    async def test_the_app_database_uses_it(self, database_url: str):
        database = Database(database_url)
        try:
            assert isinstance(database.engine.pool, FairAsyncQueuePool)
        finally:
            await database.dispose()
