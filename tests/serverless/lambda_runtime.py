"""A Lambda execution environment in miniature, and API Gateway events built from the fixtures.

The Lambda runtime initialises the function once, then invokes the handler on one thread with
one event loop, freezing the environment between invocations. `LambdaEnvironment` does the same
on a worker thread, so the handler never meets the test session's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import FastAPI

from app.config import Settings
from app.lambda_handler import build_handler
from app.main import create_app
from tests.conftest import empty_tables

EVENTS = Path(__file__).parent / "events"
T = TypeVar("T")


class Gateway(StrEnum):
    HTTP_API = "http_api_v2"
    REST_API = "rest_api_v1"


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


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def build_event(
    gateway: Gateway,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    binary: bool = False,
) -> dict[str, Any]:
    """An event as API Gateway would send it for this request, based on the JSON fixtures.

    `binary` bodies travel base64-encoded (`isBase64Encoded`), as API Gateway sends multipart
    and image uploads; text bodies travel as they are.
    """
    event = load_event(f"{gateway}_{'upload' if binary else 'get_health'}")
    parts = urlsplit(url)
    path, query = parts.path, parse_qsl(parts.query, keep_blank_values=True)
    extra = dict(headers or {})
    if body is not None:
        extra["content-length"] = str(len(body))
    if gateway is Gateway.HTTP_API:
        event["rawPath"] = path
        event["rawQueryString"] = urlencode(query)
        event["requestContext"]["http"].update(method=method, path=path)
        # Placeholders of the fixture (token, length) are replaced or dropped.
        kept = {k: v for k, v in event["headers"].items() if not v.startswith("<")}
        event["headers"] = kept | {k.lower(): v for k, v in extra.items()}
    else:
        event["path"] = path
        event["httpMethod"] = method
        event["pathParameters"] = {"proxy": path.lstrip("/")}
        context = event["requestContext"]
        context.update(httpMethod=method, path=f"/{context['stage']}{path}")
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for key, value in query:
            single[key] = value
            multi.setdefault(key, []).append(value)
        event["queryStringParameters"] = single or None
        event["multiValueQueryStringParameters"] = multi or None
        kept = {k: v for k, v in event["headers"].items() if not v.startswith("<")}
        merged = kept | {_title(k): v for k, v in extra.items()}
        event["headers"] = merged
        event["multiValueHeaders"] = {k: [v] for k, v in merged.items()}
    if body is None:
        # HTTP APIs leave the body out of a bodiless request; REST APIs send null.
        event.pop("body", None)
        if gateway is Gateway.REST_API:
            event["body"] = None
        event["isBase64Encoded"] = False
    elif binary:
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    else:
        event["body"] = body.decode()
        event["isBase64Encoded"] = False
    return event


def _title(header: str) -> str:
    return "-".join(part.capitalize() for part in header.split("-"))


@dataclass
class LambdaResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    base64_encoded: bool
    raw: dict[str, Any]

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> LambdaResponse:
        headers = {k.lower(): v for k, v in (raw.get("headers") or {}).items()}
        for key, values in (raw.get("multiValueHeaders") or {}).items():
            headers[key.lower()] = ", ".join(values)
        encoded = bool(raw.get("isBase64Encoded"))
        text = raw.get("body") or ""
        body = base64.b64decode(text) if encoded else text.encode()
        return cls(raw["statusCode"], headers, body, encoded, raw)

    def json(self) -> Any:
        return json.loads(self.body)


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
        raw: dict[str, Any] = self._call(self.handler, event, LambdaContext())
        return LambdaResponse.parse(raw)

    def request(
        self, gateway: Gateway, method: str, url: str, *, json_body: Any = None, **kwargs: Any
    ) -> LambdaResponse:
        if json_body is not None:
            kwargs["body"] = json.dumps(json_body).encode()
            kwargs["headers"] = {"content-type": "application/json", **kwargs.get("headers", {})}
        return self.invoke(build_event(gateway, method, url, **kwargs))

    def close(self) -> None:
        ports = self.app.state.ports
        try:
            self.run(ports.dispatcher.drain())
            self.run(empty_tables(ports.database))
            self.run(ports.close())
        finally:
            self._call(self._loop.close)
            self._worker.shutdown()
