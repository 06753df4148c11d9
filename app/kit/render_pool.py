"""CPU-bound render work in worker processes, so it never competes with requests for the GIL.

The pool starts on the first render and stops with the ports. Work crosses the process boundary
by pickling: callers pass module-level functions with plain values (bytes in, bytes out).
With no worker processes configured the work runs in a thread of this process instead; that is
the serverless default, where each instance serves one request at a time and a pool would only
add its start-up to the cold start (AWS Lambda has no /dev/shm for its queues at all).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import anyio

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

P = ParamSpec("P")
T = TypeVar("T")


class RenderPool:
    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None

    @property
    def in_process(self) -> bool:
        return self.processes == 0

    @property
    def concurrency(self) -> int:
        """How many renders can make progress at once: one per worker, one thread inline."""
        return max(1, self.processes)

    def _get_executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # Loaded with the first render: a cold start that renders nothing skips them.
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # "spawn": forking a process that runs an event loop and driver threads can copy
            # a lock another thread holds, and the child would wait on it forever.
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes, mp_context=multiprocessing.get_context("spawn")
            )
        return self._executor

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(function, *args, **kwargs)
        if self.in_process:
            return await anyio.to_thread.run_sync(call)
        from concurrent.futures.process import BrokenProcessPool

        executor = self._get_executor()
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, call)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): the next render starts a fresh pool.
            if self._executor is executor:
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            raise

    def worker_pids(self) -> list[int]:
        """Process ids of the running workers (empty before the first render)."""
        if self._executor is None:
            return []
        return [pid for pid in (self._executor._processes or {}) if pid != os.getpid()]

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await anyio.to_thread.run_sync(
                functools.partial(executor.shutdown, wait=True, cancel_futures=True)
            )
