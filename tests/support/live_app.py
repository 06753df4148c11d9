"""The real application behind a real uvicorn server on a loopback socket, and raw clients.

For behaviour only a socket shows: clients that send slowly, and connections kept alive
across requests. The served app has its own event loop (in the server's thread), so tests
talk to it only over HTTP.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from tests.conftest import running_app
from tests.support.wire import bind_loopback, serve


@dataclass
class LiveApp:
    url: str
    app: FastAPI

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        assert parts.hostname
        assert parts.port
        return parts.hostname, parts.port


@contextmanager
def _serving(settings: Settings) -> Iterator[LiveApp]:
    application = create_app(settings)
    with serve(application, "api", lifespan=True) as url:
        yield LiveApp(url=url, app=application)


@asynccontextmanager
async def live_app(settings: Settings) -> AsyncIterator[LiveApp]:
    """Serve the app on `settings`; tables are emptied before and after (from this loop)."""
    async with running_app(settings):
        with _serving(settings) as live:
            yield live


@asynccontextmanager
async def live_site(settings_for: Callable[[str], Settings]) -> AsyncIterator[LiveApp]:
    """Serve the app as `make run` does: its settings know the address it is served at, so
    signed file links and checkout pages point back to it. `settings_for(url)` builds them."""
    sock = bind_loopback()
    try:
        host, port = sock.getsockname()[:2]
        settings = settings_for(f"http://{host}:{port}")
        async with running_app(settings):
            application = create_app(settings)
            with serve(application, "site", lifespan=True, sock=sock) as url:
                yield LiveApp(url=url, app=application)
    finally:
        sock.close()  # already closed when it was served; not when setup failed


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def read_response(reader: asyncio.StreamReader) -> RawResponse:
    """One HTTP/1.1 response with a Content-Length body (what the API sends for JSON)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RawResponse(status, headers, body)


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> RawResponse:
    """Send one request on an open connection (kept alive) and read its response."""
    all_headers = {"Content-Length": str(len(body)), **(headers or {})}
    writer.write(request_head(method, path, all_headers) + body)
    await writer.drain()
    return await read_response(reader)
