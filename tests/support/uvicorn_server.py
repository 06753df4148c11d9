"""The app served by a real uvicorn server on a loopback port, as `make run` serves it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from tests.support.services import free_loopback_port


@asynccontextmanager
async def uvicorn_server(app: FastAPI, *, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve `app` on the test's event loop and yield its base URL; stopped on exit.

    `FORWARDED_ALLOW_IPS` is left to uvicorn, which reads it from the environment itself.
    The app's lifespan stays off: the test owns its ports.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=free_loopback_port(),
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield f"http://{host}:{config.port}"
    finally:
        server.should_exit = True
        await task
