"""The application's one middleware: request id, security headers, CORS, request bounds and
the log line, in a single pure ASGI layer.

One layer rather than one per concern: each layer costs a call, a `send` wrapper and its own
pass over the headers on every request. The order of the former stack is kept: CORS preflights
are answered before the bounds apply, and every answer, refusals included, carries the request
id, the security headers and the CORS headers.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit.limits import RequestLimits, admit, run_with_deadline
from app.kit.observability import VALID_REQUEST_ID, request_logger
from app.kit.paths import without_trailing_slash

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: RequestLimits,
        allowed_origins: Sequence[str],
        expose_headers: Sequence[str],
        hsts: bool,
        docs_prefixes: tuple[str, ...],
    ) -> None:
        self.app = app
        self.limits = limits
        self.docs_prefixes = docs_prefixes
        # Starlette's CORS rules, used for their policy (preflight answers, allowed origins).
        self.cors = CORSMiddleware(
            app,
            allow_origins=allowed_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=expose_headers,
        )
        self._cors_simple = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self.cors.simple_headers.items()
        ]
        hsts_headers = [_HSTS] if hsts else []
        # Swagger UI and ReDoc load scripts and styles, so they keep the browser's defaults.
        self._added_headers = [*_SECURITY_HEADERS, *hsts_headers]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                scope = without_trailing_slash(scope)
            await self.app(scope, receive, send)
            return
        # First, so everything after sees the one spelling of the path.
        scope = without_trailing_slash(scope)
        incoming = ""
        origin: str | None = None
        media_type = ""
        declared_length: str | None = None
        preflight = False
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"content-type":
                media_type = value.decode("latin-1").split(";", 1)[0].strip().lower()
            elif name == b"content-length":
                declared_length = value.decode("latin-1")
            elif name == b"access-control-request-method":
                preflight = True
        request_id = incoming if VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        path: str = scope["path"]
        strict_csp = not path.startswith(self.docs_prefixes)
        request_id_header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500

        async def send_decorated(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                raw = message.setdefault("headers", [])
                if not isinstance(raw, list):
                    raw = message["headers"] = list(raw)
                self._add_cors(raw, origin)
                raw.append(request_id_header)
                raw.extend(self._added_headers)
                # A response with a policy of its own (the browser app's pages) keeps it.
                if strict_csp and all(name != b"content-security-policy" for name, _ in raw):
                    raw.append(_API_CSP)
            await send(message)

        try:
            if preflight and origin is not None and scope["method"] == "OPTIONS":
                response = self.cors.preflight_response(request_headers=Headers(scope=scope))
                await response(scope, receive, send_decorated)
                return
            admitted = await admit(
                scope,
                receive,
                send_decorated,
                self.limits,
                media_type=media_type,
                declared_length=declared_length,
            )
            if admitted is None:
                return
            app_receive, body = admitted
            if path.startswith(self.limits.deadline_exempt_prefixes):
                await self.app(scope, app_receive, send_decorated)
            else:
                await run_with_deadline(
                    self.app, scope, app_receive, send_decorated, body, self.limits
                )
        finally:
            route = scope.get("route")
            request_logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "route": getattr(route, "path", None) or path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "request_id": request_id,
                    "user_id": state.get("user_id"),
                },
            )

    def _add_cors(self, raw: list[tuple[bytes, bytes]], origin: str | None) -> None:
        """The CORS headers of a simple (not preflight) answer, as Starlette's middleware
        sets them, written straight into the raw header list (every response comes here)."""
        if origin is not None:
            raw.extend(self._cors_simple)
            cors = self.cors
            if (cors.allow_all_origins and cors.allow_credentials) or (
                not cors.allow_all_origins and cors.is_allowed_origin(origin=origin)
            ):
                # The caller's own origin, in place of a wildcard (credentials need it).
                raw[:] = [header for header in raw if header[0] != b"access-control-allow-origin"]
                raw.append((b"access-control-allow-origin", origin.encode("latin-1")))
        # The answer depends on the Origin header, so caches must keep them apart.
        for index, (name, value) in enumerate(raw):
            if name == b"vary":
                raw[index] = (name, value + b", Origin")
                return
        raw.append((b"vary", b"Origin"))
