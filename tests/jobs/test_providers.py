"""Jobs through the API on every cloud model, each against its provider's wire-level test server.

The real client libraries (google-genai, httpx for Seedream, fal-client) talk to local servers
that answer as the services do, including their failures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from tests.conftest import http_client, make_settings, running_app
from tests.factories import API, TestUser, balance, create_project, create_user, wait_for_job
from tests.images import image_bytes, open_image, upload
from tests.jobs.test_router import ledger_matches
from tests.support.fal_server import FalServerHandle, fal_server
from tests.support.gemini_server import GeminiServerHandle, gemini_server
from tests.support.seedream_server import SeedreamServerHandle, seedream_server

GEMINI_KEY = "test-gemini-key"
ARK_KEY = "test-ark-key"
FAL_KEY = "test-fal-key"
# Enough for two variants of the dearest model.
START = 100


@dataclass
class Servers:
    gemini: GeminiServerHandle
    seedream: SeedreamServerHandle
    fal: FalServerHandle


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    with (
        gemini_server(GEMINI_KEY) as gemini,
        seedream_server(ARK_KEY) as seedream,
        fal_server(FAL_KEY) as fal,
    ):
        gemini.state.slow_seconds = 6.0
        seedream.state.slow_seconds = 6.0
        yield Servers(gemini, seedream, fal)


def provider_settings(
    servers: Servers, sqlite_database: str, tmp_path: Path, **overrides: object
) -> Settings:
    for server in (servers.gemini, servers.seedream):
        server.set_fault(None)
        server.reset()
    servers.fal.reset()
    return make_settings(
        database_url=sqlite_database,
        data_dir=tmp_path,
        gemini_api_key=GEMINI_KEY,
        gemini_base_url=servers.gemini.url,
        bytedance_api_key=ARK_KEY,
        seedream_base_url=servers.seedream.base_url,
        fal_key=FAL_KEY,
        fal_queue_url=servers.fal.url,
        **{
            "provider_timeout_seconds": 2.0,
            "provider_retry_seconds": 1.0,
            "default_user_credits": START,
            **overrides,
        },
    )


@pytest.fixture
async def provider_app(
    servers: Servers, sqlite_database: str, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    async with running_app(provider_settings(servers, sqlite_database, tmp_path)) as app:
        yield app


@pytest.fixture
async def patient_provider_app(
    servers: Servers, sqlite_database: str, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    # A first call into an SDK can spend a second building its schemas on a loaded machine;
    # the retry after a 429 must still fit in the budget.
    settings = provider_settings(servers, sqlite_database, tmp_path, provider_retry_seconds=10.0)
    async with running_app(settings) as app:
        yield app


@dataclass(frozen=True)
class Case:
    model: str
    provider: str

    def calls(self, servers: Servers) -> int:
        if self.provider == "gemini":
            return len(servers.gemini.requests)
        if self.provider == "seedream":
            return len(servers.seedream.requests)
        return len(servers.fal.submits())

    def set_fault(self, servers: Servers, fault: str) -> None:
        native = {
            "fal": {"safety": "nsfw"},
            "gemini": {"safety": "safety_block"},
            "seedream": {"safety": "safety_block"},
        }[self.provider].get(fault, fault)
        if self.provider == "gemini":
            servers.gemini.set_fault(native)
        elif self.provider == "seedream":
            servers.seedream.set_fault(native)
        else:
            servers.fal.fault = native  # type: ignore[assignment]


CASES = [
    Case("nano_banana", "gemini"),
    Case("nano_banana_pro", "gemini"),
    Case("seedream", "seedream"),
    Case("flux_schnell", "fal"),
    Case("flux_pro_ultra", "fal"),
    Case("flux_kontext", "fal"),
    Case("ideogram_v3", "fal"),
]
IDS: Callable[[Case], str] = lambda case: case.model  # noqa: E731


async def start_job(
    client: httpx.AsyncClient, app: FastAPI, case: Case, **job: Any
) -> tuple[TestUser, dict[str, Any]]:
    user = await create_user(app)
    selfie = await upload(client, user, image_bytes("JPEG", size=(480, 640)), type="selfie")
    assert selfie.status_code == 201, selfie.text
    project = await create_project(client, user, selfie_asset_ids=[selfie.json()["id"]])
    response = await client.post(
        f"{API}/jobs",
        json={"project_id": project["id"], "model": case.model, **job},
        headers=user.headers,
    )
    assert response.status_code == 202, response.text
    return user, response.json()


class TestEveryModel:
    @pytest.mark.parametrize("case", CASES, ids=IDS)
    async def test_renders_are_stored_at_the_exact_size(
        self, provider_app: FastAPI, servers: Servers, case: Case
    ):
        async with http_client(provider_app) as client:
            models = {m["id"]: m for m in (await client.get(f"{API}/models")).json()}
            assert models[case.model]["available"] is True
            user, created = await start_job(client, provider_app, case, variants=2)
            job = await wait_for_job(client, provider_app, user, created["id"])
            assert job["status"] == "succeeded", job
            assert [r["variant"] for r in job["renders"]] == [0, 1]
            for render in job["renders"]:
                picture = await client.get(render["url"])
                assert open_image(picture.content).size == (1280, 720)
            assert case.calls(servers) == 2
            cost = created["cost_credits"]
            assert await balance(client, user) == START - cost
            assert await ledger_matches(provider_app, user.id) == (START - cost, START - cost)

    async def test_the_selfie_and_prompt_reach_the_provider(
        self, provider_app: FastAPI, servers: Servers
    ):
        async with http_client(provider_app) as client:
            user, created = await start_job(client, provider_app, Case("nano_banana", "gemini"))
            await wait_for_job(client, provider_app, user, created["id"])
        [request] = servers.gemini.requests
        assert request.headers["x-goog-api-key"] == GEMINI_KEY
        assert "I tried this for 30 days" in str(request.body)


class TestFaults:
    @pytest.mark.parametrize("case", CASES, ids=IDS)
    async def test_a_rate_limit_is_retried_and_succeeds(
        self, patient_provider_app: FastAPI, servers: Servers, case: Case
    ):
        case.set_fault(servers, "rate_limit_once")
        async with http_client(patient_provider_app) as client:
            user, created = await start_job(client, patient_provider_app, case)
            job = await wait_for_job(client, patient_provider_app, user, created["id"])
            assert job["status"] == "succeeded", job
            assert case.calls(servers) == 2
            assert job["refunded_credits"] == 0

    @pytest.mark.parametrize(
        ("fault", "final"),
        [("server_error", False), ("safety", True), ("not_an_image", True), ("slow", False)],
    )
    @pytest.mark.parametrize(
        "case",
        [Case("nano_banana", "gemini"), Case("seedream", "seedream"), Case("flux_schnell", "fal")],
        ids=IDS,
    )
    async def test_failures_end_failed_with_one_refund(
        self, provider_app: FastAPI, servers: Servers, case: Case, fault: str, final: bool
    ):
        case.set_fault(servers, fault)
        async with http_client(provider_app) as client:
            user, created = await start_job(client, provider_app, case, variants=2)
            job = await wait_for_job(client, provider_app, user, created["id"])
            assert job["status"] == "failed", job
            assert job["renders"] == []
            message = job["error"]
            assert message
            for secret in (GEMINI_KEY, ARK_KEY, FAL_KEY, "{", "Traceback"):
                assert secret not in message
            calls = case.calls(servers)
            if final:
                # Both variants start together; a final failure is never retried.
                assert calls == 2
            else:
                assert calls >= 2
            assert job["refunded_credits"] == created["cost_credits"]
            assert await balance(client, user) == START
            assert await ledger_matches(provider_app, user.id) == (START, START)
            reasons = [
                row["reason"]
                for row in (
                    await client.get(f"{API}/credits/transactions", headers=user.headers)
                ).json()["items"]
            ]
            assert reasons.count("job_refund") == 1


class TestConcurrentVariants:
    @pytest.mark.parametrize(("limit", "overlap"), [(4, 4), (2, 2)])
    async def test_variants_render_at_once_within_the_provider_limit(
        self, servers: Servers, sqlite_database: str, tmp_path: Path, limit: int, overlap: int
    ):
        settings = provider_settings(
            servers, sqlite_database, tmp_path, seedream_max_concurrency=limit
        )
        servers.seedream.set_fault("slow")
        servers.seedream.state.slow_seconds = 1.0
        try:
            async with running_app(settings) as app, http_client(app) as client:
                user, created = await start_job(
                    client, app, Case("seedream", "seedream"), variants=4
                )
                job = await wait_for_job(client, app, user, created["id"])
        finally:
            servers.seedream.state.slow_seconds = 6.0
        assert job["status"] == "succeeded", job
        assert [r["variant"] for r in job["renders"]] == [0, 1, 2, 3]
        assert len(servers.seedream.requests) == 4
        assert servers.seedream.state.max_in_flight == overlap

    async def test_a_rate_limited_variant_is_retried_beside_the_others(
        self, provider_app: FastAPI, servers: Servers
    ):
        servers.seedream.set_fault("rate_limit_once")
        async with http_client(provider_app) as client:
            user, created = await start_job(
                client, provider_app, Case("seedream", "seedream"), variants=3
            )
            job = await wait_for_job(client, provider_app, user, created["id"])
        assert job["status"] == "succeeded", job
        assert len(job["renders"]) == 3
        assert len(servers.seedream.requests) == 4
        assert job["refunded_credits"] == 0


class TestAvailability:
    async def test_a_model_without_its_key_is_unavailable(
        self, sqlite_database: str, tmp_path: Path
    ):
        settings = make_settings(database_url=sqlite_database, data_dir=tmp_path)
        async with running_app(settings) as app, http_client(app) as client:
            user = await create_user(app)
            project = await create_project(client, user)
            for model in ("nano_banana", "seedream", "flux_schnell"):
                response = await client.post(
                    f"{API}/jobs",
                    json={"project_id": project["id"], "model": model},
                    headers=user.headers,
                )
                assert response.status_code == 422
                assert response.json()["code"] == "model_unavailable"
            assert await balance(client, user) == 10

    async def test_kontext_needs_a_picture(self, provider_app: FastAPI):
        async with http_client(provider_app) as client:
            user = await create_user(provider_app)
            project = await create_project(client, user)
            response = await client.post(
                f"{API}/jobs",
                json={"project_id": project["id"], "model": "flux_kontext"},
                headers=user.headers,
            )
            assert response.status_code == 422
            assert response.json()["code"] == "reference_required"


class TestChatReplies:
    async def test_replies_come_from_the_text_model_when_configured(
        self, provider_app: FastAPI, servers: Servers
    ):
        servers.gemini.queue_json({"advice": "Try a bolder headline for small screens."})
        async with http_client(provider_app) as client:
            user = await create_user(provider_app)
            project = await create_project(client, user)
            chat = await client.post(
                f"{API}/chat/new", json={"project_id": project["id"]}, headers=user.headers
            )
            response = await client.post(
                f"{API}/chat/{chat.json()['chat_id']}/messages",
                json={"content": "How do I make it pop?", "sender": "user"},
                headers=user.headers,
            )
            assert response.status_code == 201, response.text
            reply = response.json()["reply"]["content"]
            assert reply == "Try a bolder headline for small screens."
        [request] = servers.gemini.requests
        assert "gemini-2.5-flash" in request.path
        assert "How do I make it pop?" in str(request.body)

    async def test_a_failing_text_model_falls_back_to_the_acknowledgement(
        self, provider_app: FastAPI, servers: Servers
    ):
        servers.gemini.set_fault("server_error")
        async with http_client(provider_app) as client:
            user = await create_user(provider_app)
            project = await create_project(client, user)
            chat = await client.post(
                f"{API}/chat/new", json={"project_id": project["id"]}, headers=user.headers
            )
            response = await client.post(
                f"{API}/chat/{chat.json()['chat_id']}/messages",
                json={"content": "Render it", "sender": "user", "generate": True},
                headers=user.headers,
            )
            assert response.status_code == 201, response.text
            exchange = response.json()
            assert exchange["job"] is not None
            assert exchange["job"]["id"] in exchange["reply"]["content"]
            await provider_app.state.ports.dispatcher.drain()


class TestDirectionsReachTheModel:
    async def test_a_prompt_and_the_projects_style_are_in_the_cloud_prompt(
        self, provider_app: FastAPI, servers: Servers
    ):
        async with http_client(provider_app) as client:
            user, created = await start_job(
                client,
                provider_app,
                Case("nano_banana", "gemini"),
                prompt='headline "PROMPTED", make me look shocked',
            )
            job = await wait_for_job(client, provider_app, user, created["id"])
            assert job["status"] == "succeeded", job
            assert job["instruction"] == 'headline "PROMPTED", make me look shocked'
            project = await client.patch(
                f"{API}/projects/{job['project_id']}",
                json={"background_color": "red", "person_side": "left", "headline_scale": 1.5},
                headers=user.headers,
            )
            assert project.status_code == 200, project.text
            again = await client.post(
                f"{API}/jobs",
                json={"project_id": job["project_id"], "model": "nano_banana"},
                headers=user.headers,
            )
            assert again.status_code == 202, again.text
            await wait_for_job(client, provider_app, user, again.json()["id"])
        first, second = (request.texts[0] for request in servers.gemini.requests)
        # The prompt's headline replaces the project's for that render; the rest is a note.
        assert 'exactly as "PROMPTED"' in first
        assert 'Additional direction from the creator: headline "PROMPTED", make me' in first
        assert "Background colour" not in first
        assert 'exactly as "I tried this for 30 days"' in second
        assert "Background colour: red (#ff0000)." in second
        assert "Place the person on the left side of the frame" in second
        assert "Make the headline extra large" in second
        assert "Additional direction" not in second
