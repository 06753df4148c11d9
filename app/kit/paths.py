"""One spelling per path: a trailing slash is dropped before routing, so `/projects/` is
`/projects` (served directly, no redirect, and documented once)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class TrailingSlashMiddleware:
    """Strip one trailing slash from every path but `/` before the router sees it.

    Starlette's own answer to a slash mismatch is a 307 whose `Location` it builds from the
    request's `Host` header, which a browser's `fetch` of a POST does not follow with its body.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = dict(scope)
                scope["path"] = path[:-1]
                raw: bytes | None = scope.get("raw_path")
                if raw and raw.endswith(b"/"):
                    scope["raw_path"] = raw[:-1]
        await self.app(scope, receive, send)
