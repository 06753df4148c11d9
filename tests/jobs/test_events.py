"""Progress streams: renders as they land, bounded streams that resume, and the per-user cap."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.adapters.kv import KeyValueStore, MemoryKeyValueStore, UpstashKeyValueStore
from app.jobs.events import (
    POLL_MAX_SECONDS,
    POLL_MIN_SECONDS,
    RETRY_MS,
    StreamSlots,
    TooManyStreams,
    poll_interval,
)
from app.models import Job
from app.models.base import utcnow
from tests.auth.test_router import assert_error
from tests.conftest import UPSTASH_TOKEN, http_client, make_settings, running_app
from tests.factories import API, TestUser, create_project, create_user, submit_job, wait_for_job
from tests.serverless.lambda_runtime import Gateway, LambdaEnvironment
from tests.support.dispatch import hold_jobs
from tests.support.uvicorn_server import uvicorn_server


@dataclass
class Event:
    event: str | None
    data: Any
    id: str | None
    retry: int | None
    comment: str | None


def parse_stream(text: str) -> list[Event]:
    """Split a text/event-stream body into its events, as EventSource reads them."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            fields[name or "comment"] = value.removeprefix(" ")
        events.append(
            Event(
                event=fields.get("event"),
                data=json.loads(fields["data"]) if "data" in fields else None,
                id=fields.get("id"),
                retry=int(fields["retry"]) if "retry" in fields else None,
                comment=fields.get("comment"),
            )
        )
    return events


async def read_events(
    client: httpx.AsyncClient, user: TestUser, job_id: str, *, last_event_id: str | None = None
) -> list[Event]:
    headers = dict(user.headers)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    # A guard against a stream that never ends; every stream here ends well within it.
    response = await asyncio.wait_for(
        client.get(f"{API}/jobs/{job_id}/events", headers=headers), timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_stream(response.text)


def named(events: list[Event], *names: str) -> list[Event]:
    return [event for event in events if event.event in names]


@pytest.fixture
async def bounded_app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """Streams end after one second."""
    settings = make_settings(database_url=database_url, data_dir=tmp_path, sse_max_seconds=1)
    async with running_app(settings) as app:
        yield app


class TestRenders:
    async def test_each_variant_arrives_with_its_url(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        project = await create_project(client, user)
        created = await submit_job(client, user, project["id"], variants=2)

        events = await read_events(client, user, created["id"])

        assert events[0].retry == RETRY_MS
        renders = named(events, "render")
        assert [event.data["variant"] for event in renders] == [0, 1]
        for event in renders:
            # The same render object as GET /jobs/{id} lists.
            assert set(event.data) == {
                "variant",
                "url",
                "width",
                "height",
                "format",
                "content_type",
                "size_bytes",
                "download_url",
                "poster_url",
            }
            assert (event.data["width"], event.data["height"]) == (1280, 720)
            assert (event.data["format"], event.data["content_type"]) == ("jpeg", "image/jpeg")
            image = await client.get(event.data["url"])
            assert image.status_code == 200
        sent = named(events, "render", "status", "end")
        assert len({event.id for event in sent}) == len(sent)
        end = events[-1]
        assert end.event == "end"
        assert end.data["status"] == "succeeded"
        assert end.data["renders"] == 2
        progress = [event.data["progress"] for event in named(events, "status", "end")]
        assert progress == sorted(progress)
        job = await wait_for_job(client, app, user, created["id"])
        assert [render["url"] for render in job["renders"]] == [e.data["url"] for e in renders]

    async def test_a_finished_job_sends_its_final_state_and_ends_at_once(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user)
        created = await submit_job(client, user, project["id"], variants=2)
        await wait_for_job(client, app, user, created["id"])

        # The bound here is 55 s; the stream must not wait for it.
        events = await read_events(client, user, created["id"])

        assert [event.event for event in events] == [None, "render", "render", "end"]
        assert events[-1].data["status"] == "succeeded"


class TestBoundAndResume:
    async def test_a_stream_ends_after_its_bound_with_a_retry_hint(self, bounded_app: FastAPI):
        async with http_client(bounded_app) as client:
            hold_jobs(bounded_app)
            user = await create_user(bounded_app)
            project = await create_project(client, user)
            created = await submit_job(client, user, project["id"])

            events = await read_events(client, user, created["id"])

        assert events[0].retry == RETRY_MS
        assert [event.event for event in events] == [None, "status"]
        assert events[1].data["status"] == "queued"

    async def test_a_reconnect_resumes_after_its_last_event_id(self, bounded_app: FastAPI):
        async with http_client(bounded_app) as client:
            held = hold_jobs(bounded_app)
            user = await create_user(bounded_app)
            project = await create_project(client, user)
            created = await submit_job(client, user, project["id"], variants=2)
            [queued] = named(await read_events(client, user, created["id"]), "status")
            await held.release()

            resumed = await read_events(client, user, created["id"], last_event_id=queued.id)
            assert [event.event for event in named(resumed, "render", "status", "end")] == [
                "render",
                "render",
                "end",
            ]
            first_render = resumed[1]
            again = await read_events(client, user, created["id"], last_event_id=first_render.id)

        assert [(e.event, e.data.get("variant")) for e in named(again, "render", "end")] == [
            ("render", 1),
            ("end", None),
        ]
        assert again[-1].data["status"] == "succeeded"

    @pytest.mark.parametrize(
        "last_event_id", ["garbage", "running:50:7", "running:500:", "sleeping:0:", "queued:0:x"]
    )
    async def test_an_id_this_stream_never_sent_is_400(
        self, bounded_app: FastAPI, last_event_id: str
    ):
        async with http_client(bounded_app) as client:
            hold_jobs(bounded_app)
            user = await create_user(bounded_app)
            project = await create_project(client, user)
            created = await submit_job(client, user, project["id"], variants=2)
            response = await client.get(
                f"{API}/jobs/{created['id']}/events",
                headers={**user.headers, "Last-Event-ID": last_event_id},
            )
        assert_error(response, 400, "invalid_last_event_id")


class TestThroughApiGateway:
    async def test_the_lambda_handler_answers_a_stream_once_it_has_news(
        self, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ):
        # The stream's bound is 25 s here; each answer must come long before it.
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "mugshot-api")
        settings = make_settings(
            database_url=database_url, data_dir=tmp_path, job_dispatch="in_process"
        )
        environment = await asyncio.to_thread(LambdaEnvironment, settings)
        held = hold_jobs(environment.app)

        async def submit() -> tuple[TestUser, dict[str, Any]]:
            async with http_client(environment.app) as client:
                user = await create_user(environment.app)
                project = await create_project(client, user)
                return user, await submit_job(client, user, project["id"], variants=2)

        def follow(user: TestUser, job_id: str, last_event_id: str | None = None) -> list[Event]:
            headers = dict(user.headers)
            if last_event_id:
                headers["last-event-id"] = last_event_id
            response = environment.request(
                Gateway.HTTP_API, "GET", f"{API}/jobs/{job_id}/events", headers=headers
            )
            assert response.status == 200, response.body
            assert response.headers["content-type"].startswith("text/event-stream")
            return parse_stream(response.body.decode())

        try:
            user, created = await asyncio.to_thread(environment.run, submit())
            first = await asyncio.to_thread(follow, user, created["id"])
            await asyncio.to_thread(environment.run, held.release())
            second = await asyncio.to_thread(follow, user, created["id"], first[-1].id)
        finally:
            await asyncio.to_thread(environment.close)

        assert first[0].retry == RETRY_MS
        assert [event.event for event in first] == [None, "status"]
        assert first[1].data["status"] == "queued"
        assert [event.event for event in second] == [None, "render", "render", "end"]


class TestAccess:
    async def test_another_users_job_is_404(self, client: httpx.AsyncClient, app: FastAPI):
        hold_jobs(app)
        owner = await create_user(app)
        stranger = await create_user(app)
        project = await create_project(client, owner)
        created = await submit_job(client, owner, project["id"])
        response = await client.get(f"{API}/jobs/{created['id']}/events", headers=stranger.headers)
        assert_error(response, 404, "not_found")
        missing = await client.get(f"{API}/jobs/{uuid.uuid4()}/events", headers=owner.headers)
        assert_error(missing, 404, "not_found")
        anonymous = await client.get(f"{API}/jobs/{created['id']}/events")
        assert anonymous.status_code == 401


@dataclass
class OpenStream:
    response: httpx.Response
    # Held so the connection stays open: closing the iterator closes the response.
    lines: AsyncIterator[str] | None

    @property
    def status_code(self) -> int:
        return self.response.status_code

    async def aclose(self) -> None:
        await self.response.aclose()


async def open_stream(http: httpx.AsyncClient, user: TestUser, job_id: str) -> OpenStream:
    """Open a stream over the socket and read until its first event arrived."""
    request = http.build_request("GET", f"{API}/jobs/{job_id}/events", headers=user.headers)
    response = await http.send(request, stream=True)
    if response.status_code != 200:
        await response.aread()
        return OpenStream(response, None)
    lines = response.aiter_lines()
    while await anext(lines) != "":
        pass
    return OpenStream(response, lines)


class TestStreamCap:
    async def test_beyond_the_cap_is_429_and_a_closed_stream_frees_its_slot(
        self, database_url: str, tmp_path: Path
    ):
        settings = make_settings(
            database_url=database_url,
            data_dir=tmp_path,
            sse_max_streams_per_user=2,
            sse_max_seconds=20,
        )
        async with running_app(settings) as app:
            hold_jobs(app)
            async with http_client(app) as client:
                user = await create_user(app)
                other = await create_user(app)
                created = await submit_job(client, user, (await create_project(client, user))["id"])
                theirs = await submit_job(
                    client, other, (await create_project(client, other))["id"]
                )
            async with (
                uvicorn_server(app) as base_url,
                httpx.AsyncClient(base_url=base_url, timeout=10) as http,
            ):
                first = await open_stream(http, user, created["id"])
                second = await open_stream(http, user, created["id"])
                refused = await open_stream(http, user, created["id"])
                assert_error(refused.response, 429, "too_many_streams")
                assert 1 <= int(refused.response.headers["retry-after"]) <= 20
                # The cap is per user.
                others = await open_stream(http, other, theirs["id"])
                assert others.status_code == 200
                await others.aclose()

                await first.aclose()
                reopened = await self.open_when_freed(http, user, created["id"])
                assert reopened.status_code == 200
                await reopened.aclose()
                await second.aclose()

    @staticmethod
    async def open_when_freed(http: httpx.AsyncClient, user: TestUser, job_id: str) -> OpenStream:
        # The server notices the disconnect on its next read of the socket.
        for _ in range(50):
            response = await open_stream(http, user, job_id)
            if response.status_code == 200:
                return response
            await response.aclose()
            await asyncio.sleep(0.1)
        return response


@pytest.fixture(params=["memory", "upstash"])
async def kv(request: pytest.FixtureRequest) -> AsyncIterator[KeyValueStore]:
    if request.param == "memory":
        store: KeyValueStore = MemoryKeyValueStore()
    else:
        url: str = request.getfixturevalue("upstash_url")
        store = UpstashKeyValueStore(url, UPSTASH_TOKEN, prefix=f"test-{uuid.uuid4().hex[:8]}")
    yield store
    await store.close()


class TestStreamSlots:
    async def test_slots_count_per_user_and_free_on_release(self, kv: KeyValueStore):
        slots = StreamSlots(kv, limit=2, stream_seconds=10)
        user, other = uuid.uuid4(), uuid.uuid4()
        first = await slots.acquire(user)
        assert first is not None
        assert await slots.acquire(user) is not None
        with pytest.raises(TooManyStreams) as refused:
            await slots.acquire(user)
        # When the oldest stream reaches its bound.
        assert refused.value.headers is not None
        assert 1 <= int(refused.value.headers["Retry-After"]) <= 10
        assert await slots.acquire(other) is not None
        await slots.release(user, first)
        assert await slots.acquire(user) is not None

    async def test_a_slot_left_by_a_dead_instance_stops_counting(self, kv: KeyValueStore):
        user = uuid.uuid4()
        # What an instance that died mid-stream leaves behind: slots past their expiry.
        for _ in range(3):
            await kv.set_add(
                f"streams:{user}", f"{uuid.uuid4().hex}:{int(time.time()) - 1}", ttl_seconds=60
            )
        slots = StreamSlots(kv, limit=1, stream_seconds=10)
        assert await slots.acquire(user) is not None
        assert len(await kv.set_members(f"streams:{user}")) == 1


class TestPolling:
    @pytest.mark.parametrize(
        ("age_seconds", "interval"),
        [(0, POLL_MIN_SECONDS), (8, 1.0), (60, POLL_MAX_SECONDS), (3600, POLL_MAX_SECONDS)],
    )
    def test_polls_slow_down_as_the_job_ages(self, age_seconds: int, interval: float):
        job = Job(created_at=utcnow() - timedelta(seconds=age_seconds))
        assert poll_interval(job) == pytest.approx(interval, abs=0.01)
