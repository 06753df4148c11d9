"""Shared plumbing for the provider test servers: a uvicorn thread, fault switches, images."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request

SERVER_START_TIMEOUT = 10.0
SERVER_STOP_TIMEOUT = 5.0


@dataclass
class ReceivedRequest:
    """One request as the server understood it, for tests to inspect."""

    path: str
    headers: dict[str, str]
    body: Any
    images: list[tuple[str, bytes]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


class FaultState:
    """The failure a server should simulate next, switched from the test thread.

    `fault` stays until cleared; a "..._once" fault clears itself after it fired.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault: str | None = None
        self._received: list[ReceivedRequest] = []
        self._in_flight = 0
        self.max_in_flight = 0
        self.slow_seconds = 3.0

    def set_fault(self, fault: str | None) -> None:
        with self._lock:
            self._fault = fault

    def take_fault(self) -> str | None:
        with self._lock:
            fault = self._fault
            if fault is not None and fault.endswith("_once"):
                self._fault = None
            return fault

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        """Count a request while it is answered, keeping the most ever answered at once."""
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def record(self, received: ReceivedRequest) -> None:
        with self._lock:
            self._received.append(received)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._received)

    def reset(self) -> None:
        with self._lock:
            self._fault = None
            self._received.clear()
            self.max_in_flight = 0


async def stall(request: Request, seconds: float) -> bool:
    """Hold a request for `seconds`; return False early if the client hung up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return False
        await asyncio.sleep(0.02)
    return True


_image_cache: dict[tuple[int, int, str], bytes] = {}
_image_lock = threading.Lock()


def render_image(width: int, height: int, image_format: str = "PNG") -> bytes:
    """A real, small-to-encode image of the given size (a flat colour with a stripe)."""
    key = (width, height, image_format)
    with _image_lock:
        cached = _image_cache.get(key)
        if cached is None:
            image = Image.new("RGB", (width, height), (240, 90, 40))
            image.paste((20, 20, 20), (0, height // 3, width, height // 3 + max(1, height // 10)))
            out = BytesIO()
            image.save(out, format=image_format)
            cached = _image_cache[key] = out.getvalue()
    return cached


def bind_loopback() -> socket.socket:
    """A socket bound to a free loopback port, so the port is ours before anyone is told it."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that name it, and with
    # Nagle on every keep-alive response would stall for the peer's delayed ACK (~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve(
    app: Starlette, name: str, *, lifespan: bool = False, sock: socket.socket | None = None
) -> Iterator[str]:
    """Serve an ASGI app on a free loopback port (or `sock`) in a thread; yield its base URL."""
    sock = sock or bind_loopback()
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on" if lifespan else "off",
        timeout_graceful_shutdown=int(SERVER_STOP_TIMEOUT),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"{name} test server exited during startup")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{name} test server not ready after {SERVER_START_TIMEOUT:.0f}s"
                )
            time.sleep(0.01)  # poll interval, not a fixed wait
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(SERVER_STOP_TIMEOUT + 5)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"{name} test server did not stop in time")
