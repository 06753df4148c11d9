"""Retrying provider calls: exponential backoff with jitter, within a time budget."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from app.providers.base import ProviderError

logger = logging.getLogger("app.providers")

T = TypeVar("T")


async def call_with_retries(
    operation: Callable[[], Awaitable[T]],
    *,
    budget_seconds: float,
    base_delay: float = 0.5,
    max_delay: float = 8.0,
    max_attempts: int = 8,
    describe: str = "provider call",
) -> T:
    """Run `operation`, retrying retryable ProviderErrors until the budget or attempts run out.

    Full jitter (a random delay up to the exponential step) keeps many failing jobs from
    retrying in lockstep against a provider that is already overloaded.
    """
    deadline = time.monotonic() + budget_seconds
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation()
        except ProviderError as error:
            if not error.retryable or attempt >= max_attempts:
                raise
            delay = random.uniform(base_delay / 2, min(max_delay, base_delay * 2 ** (attempt - 1)))
            if time.monotonic() + delay > deadline:
                raise
            logger.warning(
                "retrying after a transient failure",
                extra={"operation": describe, "attempt": attempt, "reason": error.internal},
            )
            await asyncio.sleep(delay)
