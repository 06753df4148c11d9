"""The request deadline on its own, around routes that are genuinely slow.

It bounds the time to start answering: not the time the client takes to send its body, and
not a stream once it has started.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from app.kit.limits import RequestLimits, RequestLimitsMiddleware

DEADLINE = 0.5


async def slow(request: Request) -> JSONResponse:
    await asyncio.sleep(DEADLINE * 4)
    return JSONResponse({"late": True})


async def echo_length(request: Request) -> JSONResponse:
    return JSONResponse({"bytes": len(await request.body())})


async def stream(request: Request) -> StreamingResponse:
    async def ticks() -> AsyncIterator[bytes]:
        for index in range(4):
            await asyncio.sleep(DEADLINE / 2)
            yield f"data: {index}\n\n".encode()

    return StreamingResponse(ticks(), media_type="text/event-stream")


def client() -> httpx.AsyncClient:
    app = Starlette(
        routes=[
            Route("/slow", slow),
            Route("/echo", echo_length, methods=["POST"]),
            Route("/stream", stream),
        ]
    )
    limits = RequestLimits(
        max_body_bytes=1024 * 1024,
        max_upload_bytes=1024 * 1024,
        body_timeout_seconds=10,
        request_timeout_seconds=DEADLINE,
    )
    wrapped = RequestLimitsMiddleware(app, limits=limits)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://test")


async def test_a_slow_answer_is_504_in_the_shared_shape():
    async with client() as http:
        response = await http.get("/slow")
    assert response.status_code == 504
    assert response.json()["code"] == "request_timeout"


async def test_a_stream_runs_past_the_deadline_once_started():
    async with client() as http:
        response = await http.get("/stream")
    assert response.status_code == 200
    assert response.text.count("data:") == 4


async def test_the_time_a_client_takes_to_send_does_not_count():
    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(4):
            await asyncio.sleep(DEADLINE / 2)
            yield b"x" * 10

    async with client() as http:
        response = await http.post(
            "/echo", content=trickle(), headers={"Content-Type": "application/octet-stream"}
        )
    assert response.status_code == 200
    assert response.json() == {"bytes": 40}
