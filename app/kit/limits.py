"""Bounds on every request: body size, time to send the body, time to answer, and clean text.

A pure ASGI middleware, so a client that is slow or sends something hostile is refused before
any handler, session or connection is involved.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit.errors import error_response, validation_error_response
from app.kit.uploads import FORM_OVERHEAD_BYTES

# Lists and objects nested deeper than this are not something any request here needs.
MAX_JSON_DEPTH = 64


class RequestBodyError(HTTPException):
    """A body refused while it arrives.

    A Starlette HTTPException, because FastAPI re-raises those from its body parsing (anything
    else becomes a generic 400) and they reach the handler that renders the shared shape.
    """

    code = "bad_request"

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(status_code, detail)


class BodyTooLarge(RequestBodyError):
    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


class BodyTooSlow(RequestBodyError):
    code = "request_body_timeout"

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"The request body did not arrive within {seconds:g} seconds.")


@dataclass(frozen=True, slots=True)
class RequestLimits:
    max_body_bytes: int
    max_upload_bytes: int
    body_timeout_seconds: float
    request_timeout_seconds: float
    # Routes called by machines that run long work in the request (QStash job delivery).
    deadline_exempt_prefixes: tuple[str, ...] = ()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _media_type(scope: Scope) -> str:
    return (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    # FastAPI parses a body without a content type as JSON too.
    return media_type in ("", "application/json") or media_type.endswith("+json")


def bad_text(value: str) -> str | None:
    """Why a piece of text cannot be stored (NUL, lone surrogate), or None when it is fine."""
    if "\x00" in value:
        return "Text must not contain NUL characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Text must be valid Unicode (it contains a lone surrogate)."
    return None


def find_bad_json_text(document: Any) -> tuple[tuple[str | int, ...], str] | None:
    """The location and reason of the first string (key or value) that cannot be stored.

    Iterative, so a deeply nested document cannot exhaust the stack; past MAX_JSON_DEPTH the
    document is refused as such.
    """
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        location, value = stack.pop()
        if len(location) > MAX_JSON_DEPTH:
            return location[:MAX_JSON_DEPTH], f"The JSON is nested deeper than {MAX_JSON_DEPTH}."
        if isinstance(value, str):
            reason = bad_text(value)
            if reason:
                return location, reason
        elif isinstance(value, dict):
            for key, item in value.items():
                reason = bad_text(key)
                if reason:
                    return (*location, key.encode("utf-8", "replace").decode()), reason
                stack.append(((*location, key), item))
        elif isinstance(value, list):
            stack.extend(((*location, index), item) for index, item in enumerate(value))
    return None


def _text_error(where: str, location: tuple[str | int, ...], reason: str) -> dict[str, Any]:
    return {"type": "string_unicode", "loc": [where, *location], "msg": reason}


def _check_query(scope: Scope) -> dict[str, Any] | None:
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        reason = bad_text(name) or bad_text(value)
        if reason:
            return _text_error("query", (name.replace("\x00", ""),), reason)
    return None


async def admit(
    scope: Scope,
    receive: Receive,
    send: Send,
    limits: RequestLimits,
    *,
    media_type: str,
    declared_length: str | None,
) -> tuple[Receive, _BodyReader] | None:
    """Refuse what no route could accept, answering it here (None); otherwise the `receive`
    the app should read the body from, and the reader that bounds it."""
    max_body = (
        limits.max_upload_bytes + FORM_OVERHEAD_BYTES
        if media_type == "multipart/form-data"
        else limits.max_body_bytes
    )
    if (
        declared_length is not None
        and declared_length.isdigit()
        and int(declared_length) > max_body
    ):
        await error_response(413, BodyTooLarge.code, BodyTooLarge(max_body).detail)(
            scope, receive, send
        )
        return None
    if "\x00" in scope["path"]:
        # No route or stored file has such a name.
        await error_response(404, "not_found", "Not found.")(scope, receive, send)
        return None
    if scope.get("query_string"):
        text_error = _check_query(scope)
        if text_error is not None:
            await validation_error_response([text_error])(scope, receive, send)
            return None

    body = _BodyReader(receive, max_body=max_body, timeout=limits.body_timeout_seconds)
    app_receive: Receive = body.receive
    if scope["method"] not in ("GET", "HEAD", "OPTIONS") and _is_json(media_type):
        # JSON is read here first (it is small: bounded above), so text that no database
        # can store is refused in one place for every route.
        try:
            raw = await body.read_all()
        except RequestBodyError as exc:
            await error_response(exc.status_code, exc.code, exc.detail)(scope, receive, send)
            return None
        problem = _check_json_text(raw)
        if problem is not None:
            await validation_error_response([problem])(scope, receive, send)
            return None
        app_receive = body.replay(raw)
    return app_receive, body


async def run_bounded(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, limits: RequestLimits
) -> None:
    """Run `app` within every bound of `limits`."""
    admitted = await admit(
        scope,
        receive,
        send,
        limits,
        media_type=_media_type(scope),
        declared_length=_header(scope, b"content-length"),
    )
    if admitted is None:
        return
    app_receive, body = admitted
    if scope["path"].startswith(limits.deadline_exempt_prefixes):
        await app(scope, app_receive, send)
        return
    await run_with_deadline(app, scope, app_receive, send, body, limits)


class RequestLimitsMiddleware:
    """The bounds on their own, for apps without the rest of `app.kit.middleware`."""

    def __init__(self, app: ASGIApp, *, limits: RequestLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await run_bounded(self.app, scope, receive, send, self.limits)


def _check_json_text(raw: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(raw)
    except RecursionError:
        return {
            "type": "json_invalid",
            "loc": ["body"],
            "msg": f"The JSON is nested deeper than {MAX_JSON_DEPTH}.",
        }
    except ValueError:
        # Not JSON: FastAPI answers with its own error when the route reads the body.
        return None
    found = find_bad_json_text(document)
    if found is None:
        return None
    location, reason = found
    return _text_error("body", location, reason)


class _BodyReader:
    """Wraps `receive`: counts body bytes against the limit and bounds the time they take."""

    def __init__(self, receive: Receive, *, max_body: int, timeout: float) -> None:
        self._receive = receive
        self.max_body = max_body
        self.timeout = timeout
        self.received = 0
        self.complete = False
        self._deadline: float | None = None
        # Seconds spent waiting for the client, which the answer deadline does not count.
        self.waited = 0.0

    async def receive(self) -> Message:
        if self.complete:
            return await self._receive()
        loop = asyncio.get_running_loop()
        if self._deadline is None:
            self._deadline = loop.time() + self.timeout
        started = time.monotonic()
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            raise BodyTooSlow(self.timeout) from None
        finally:
            self.waited += time.monotonic() - started
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_body:
                raise BodyTooLarge(self.max_body)
            if not message.get("more_body", False):
                self.complete = True
        return message

    async def read_all(self) -> bytes:
        chunks: list[bytes] = []
        while not self.complete:
            message = await self.receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
        return b"".join(chunks)

    def replay(self, raw: bytes) -> Receive:
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await self._receive()

        return receive


async def run_with_deadline(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    body: _BodyReader,
    limits: RequestLimits,
) -> None:
    """Run the app with a deadline on producing the response; time spent receiving is excluded.

    The deadline ends once the response starts, so streams (server-sent events) and file
    downloads run as long as they need. Cancelling the handler rolls its transaction back.
    """
    started = False
    loop = asyncio.get_running_loop()
    seconds = limits.request_timeout_seconds

    async def send_wrapper(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
            timeout.reschedule(None)
        await send(message)

    async def timed_receive() -> Message:
        # The client's own slowness is bounded by the body timeout, not by this deadline.
        timeout.reschedule(None)
        try:
            return await receive()
        finally:
            if not started:
                busy = time.monotonic() - begun - body.waited
                timeout.reschedule(loop.time() + seconds - busy)

    begun = time.monotonic()
    try:
        async with asyncio.timeout(seconds) as timeout:
            await app(scope, timed_receive, send_wrapper)
    except TimeoutError:
        if started or not timeout.expired():
            raise
        detail = f"The request took longer than {seconds:g} seconds and was cancelled."
        await error_response(504, "request_timeout", detail)(scope, receive, send)
