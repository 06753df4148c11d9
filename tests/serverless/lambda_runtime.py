"""A Lambda execution environment in miniature, on a thread of the test process.

The Lambda runtime initialises the function once, then invokes the handler on one thread with
one event loop, freezing the environment between invocations. `LambdaEnvironment` does the same
on a worker thread, so the handler never meets the test session's event loop.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import FastAPI

from app.config import Settings
from app.lambda_handler import build_handler
from app.main import create_app
from tests.conftest import empty_tables
from tests.serverless.lambda_events import Gateway, LambdaResponse, json_event

T = TypeVar("T")


@dataclass
class LambdaContext:
    """The attributes of the context object the Python Lambda runtime passes to a handler."""

    function_name: str = "mugshot-api"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:mugshot-api"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/mugshot-api"
    log_stream_name: str = "2026/11/22/[$LATEST]0123456789abcdef0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


class LambdaEnvironment:
    """Initialise the function once, then invoke it like the Lambda runtime does."""

    def __init__(self, settings: Settings) -> None:
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda")
        self._loop = asyncio.new_event_loop()
        self._call(asyncio.set_event_loop, self._loop)
        self.app: FastAPI = self._call(create_app, settings)
        self.handler = self._call(build_handler, self.app)
        self.run(empty_tables(self.app.state.ports.database))

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        return self._worker.submit(function, *args).result(timeout=120)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the environment's loop, between invocations."""
        return self._call(self._loop.run_until_complete, coroutine)

    def invoke(self, event: dict[str, Any]) -> LambdaResponse:
        return LambdaResponse.parse(self.invoke_raw(event))

    def invoke_raw(self, event: dict[str, Any]) -> dict[str, Any]:
        """The handler's answer as it is, for events that do not come from API Gateway."""
        raw: dict[str, Any] = self._call(self.handler, event, LambdaContext())
        return raw

    def request(
        self,
        gateway: Gateway,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> LambdaResponse:
        return self.invoke(json_event(gateway, method, url, json_body, headers=headers))

    def close(self) -> None:
        ports = self.app.state.ports
        try:
            self.run(ports.dispatcher.drain())
            self.run(empty_tables(ports.database))
            self.run(ports.close())
        finally:
            self._call(self._loop.close)
            self._worker.shutdown()
