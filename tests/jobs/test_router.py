"""Jobs over HTTP with the studio model: charging, idempotency, running, cancelling, events."""

from __future__ import annotations

import asyncio
import uuid
from io import BytesIO

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import func, select

from app.credits import repository as credits_repository
from app.models import CreditTransaction, Job
from tests.auth.test_router import assert_error
from tests.factories import (
    API,
    balance,
    create_project,
    create_user,
    submit_job,
    wait_for_job,
)
from tests.support.dispatch import hold_jobs


async def ledger_matches(app: FastAPI, user_id: str) -> tuple[int, int]:
    async with app.state.ports.database.sessionmaker() as session:
        cached = await credits_repository.current_balance(session, uuid.UUID(user_id))
        total = await credits_repository.ledger_sum(session, uuid.UUID(user_id))
    assert cached is not None
    return cached, total


class TestModels:
    async def test_lists_the_catalogue_with_availability(self, client: httpx.AsyncClient):
        response = await client.get(f"{API}/models")
        assert response.status_code == 200
        models = {model["id"]: model for model in response.json()}
        assert models["studio"]["available"] is True
        assert models["studio"]["cost_by_quality"] == {"draft": 1, "std": 1, "4k": 2}
        # No provider keys are configured in tests.
        for remote in ("nano_banana", "nano_banana_pro", "seedream", "flux_schnell"):
            assert models[remote]["available"] is False
        assert models["flux_kontext"]["needs_reference"] is True
        assert models["ideogram_v3"]["params"]["style"]["choices"]


class TestSubmitAndRun:
    async def test_a_two_variant_job_renders_and_costs_two(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user)
        created = await submit_job(client, user, project["id"], variants=2)
        assert created["status"] == "queued"
        assert created["cost_credits"] == 2
        job = await wait_for_job(client, app, user, created["id"])
        assert job["status"] == "succeeded"
        assert job["progress"] == 100
        assert [r["variant"] for r in job["renders"]] == [0, 1]
        for render in job["renders"]:
            assert (render["width"], render["height"]) == (1280, 720)
            image = await client.get(render["url"])
            assert image.status_code == 200
            assert Image.open(BytesIO(image.content)).size == (1280, 720)
        assert job["renders"][0]["url"] != job["renders"][1]["url"]
        assert await balance(client, user) == 8
        ledger = (await client.get(f"{API}/credits/transactions", headers=user.headers)).json()
        charge = ledger["items"][0]
        assert (charge["delta"], charge["reason"]) == (-2, "job_charge")
        assert charge["reference"] == f"job:{created['id']}:charge"
        refreshed = await client.get(f"{API}/projects/{project['id']}", headers=user.headers)
        assert refreshed.json()["status"] == "done"

    async def test_4k_renders_at_4k_and_costs_double(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        project = await create_project(client, user, platform="instagram_post")
        created = await submit_job(client, user, project["id"], quality="4k")
        assert created["cost_credits"] == 2
        job = await wait_for_job(client, app, user, created["id"])
        [render] = job["renders"]
        assert (render["width"], render["height"]) == (3840, 3840)

    async def test_short_balance_is_402_and_changes_nothing(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user)
        await submit_job(client, user, project["id"], quality="4k", variants=4)  # 8 of 10
        response = await client.post(
            f"{API}/jobs",
            json={"project_id": project["id"], "quality": "std", "variants": 3},
            headers=user.headers,
        )
        assert_error(response, 402, "insufficient_credits")
        refusal = response.json()
        assert (refusal["cost_credits"], refusal["balance"]) == (3, 2)
        assert "costs 3 credits" in refusal["detail"]
        assert "balance is 2" in refusal["detail"]
        assert await balance(client, user) == 2
        jobs = (await client.get(f"{API}/jobs?include_total=true", headers=user.headers)).json()
        assert jobs["total"] == 1

    async def test_an_unavailable_model_names_the_ones_that_work(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user)
        response = await client.post(
            f"{API}/jobs",
            json={"project_id": project["id"], "model": "nano_banana"},
            headers=user.headers,
        )
        assert_error(response, 422, "model_unavailable")
        refusal = response.json()
        # The test settings carry no provider keys: only the built-in designer and its motion
        # clip render.
        assert refusal["available_models"] == ["studio", "studio_motion"]
        assert "studio" in refusal["detail"]
        assert "nano_banana" in refusal["known_models"]
        assert "API_KEY" not in refusal["detail"]
        response = await client.post(
            f"{API}/jobs",
            json={"project_id": project["id"], "model": "dall-e-9"},
            headers=user.headers,
        )
        assert_error(response, 422, "unknown_model")
        assert response.json()["available_models"] == ["studio", "studio_motion"]
        assert await balance(client, user) == 10

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"model": "no_such_model"}, "unknown_model"),
            ({"model": "nano_banana"}, "model_unavailable"),
            ({"params": {"temperature": 1}}, "invalid_parameter"),
            ({"model": "studio", "params": {"seed": 1}}, "invalid_parameter"),
        ],
    )
    async def test_model_problems_are_422_and_charge_nothing(
        self, client: httpx.AsyncClient, app: FastAPI, body: dict[str, object], code: str
    ):
        user = await create_user(app)
        project = await create_project(client, user)
        response = await client.post(
            f"{API}/jobs", json={"project_id": project["id"], **body}, headers=user.headers
        )
        assert_error(response, 422, code)
        assert await balance(client, user) == 10

    @pytest.mark.parametrize(
        "body",
        [
            {"variants": 0},
            {"variants": 5},
            {"quality": "ultra"},
            {"project_id": "not-a-uuid"},
        ],
    )
    async def test_malformed_bodies_are_422(
        self, client: httpx.AsyncClient, app: FastAPI, body: dict[str, object]
    ):
        user = await create_user(app)
        project = await create_project(client, user)
        response = await client.post(
            f"{API}/jobs", json={"project_id": project["id"], **body}, headers=user.headers
        )
        assert response.status_code == 422

    async def test_another_users_ids_are_404(self, client: httpx.AsyncClient, app: FastAPI):
        owner = await create_user(app)
        stranger = await create_user(app)
        project = await create_project(client, owner)
        created = await submit_job(client, owner, project["id"])
        await wait_for_job(client, app, owner, created["id"])
        response = await client.post(
            f"{API}/jobs", json={"project_id": project["id"]}, headers=stranger.headers
        )
        assert_error(response, 404, "not_found")
        for method, path in [
            ("GET", f"/jobs/{created['id']}"),
            ("POST", f"/jobs/{created['id']}/cancel"),
            ("GET", f"/jobs/{created['id']}/events"),
        ]:
            response = await client.request(method, f"{API}{path}", headers=stranger.headers)
            assert_error(response, 404, "not_found")
        listed = (
            await client.get(f"{API}/jobs?include_total=true", headers=stranger.headers)
        ).json()
        assert listed["total"] == 0
        assert await balance(client, stranger) == 10


class TestIdempotency:
    async def test_same_key_and_body_answer_the_first_response_once(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        project = await create_project(client, user)
        headers = {**user.headers, "Idempotency-Key": "retry-1"}
        body = {"project_id": project["id"], "variants": 2}
        first = await client.post(f"{API}/jobs", json=body, headers=headers)
        await app.state.ports.dispatcher.drain()
        second = await client.post(f"{API}/jobs", json=body, headers=headers)
        assert first.status_code == second.status_code == 202
        assert first.json() == second.json()
        assert await balance(client, user) == 8
        jobs = (await client.get(f"{API}/jobs?include_total=true", headers=user.headers)).json()
        assert jobs["total"] == 1

    async def test_same_key_with_another_body_is_422(self, client: httpx.AsyncClient, app: FastAPI):
        user = await create_user(app)
        project = await create_project(client, user)
        headers = {**user.headers, "Idempotency-Key": "retry-2"}
        await client.post(f"{API}/jobs", json={"project_id": project["id"]}, headers=headers)
        other = await client.post(
            f"{API}/jobs", json={"project_id": project["id"], "variants": 3}, headers=headers
        )
        assert_error(other, 422, "idempotency_key_reused")
        assert await balance(client, user) == 9

    async def test_keys_belong_to_one_user(self, client: httpx.AsyncClient, app: FastAPI):
        alice = await create_user(app)
        bob = await create_user(app)
        for user in (alice, bob):
            project = await create_project(client, user)
            response = await client.post(
                f"{API}/jobs",
                json={"project_id": project["id"]},
                headers={**user.headers, "Idempotency-Key": "shared-key"},
            )
            assert response.status_code == 202
        assert await balance(client, alice) == await balance(client, bob) == 9

    async def test_concurrent_retries_charge_once(self, client: httpx.AsyncClient, app: FastAPI):
        hold_jobs(app)
        user = await create_user(app)
        project = await create_project(client, user)
        headers = {**user.headers, "Idempotency-Key": "burst"}
        responses = await asyncio.gather(
            *(
                client.post(f"{API}/jobs", json={"project_id": project["id"]}, headers=headers)
                for _ in range(8)
            )
        )
        statuses = sorted(r.status_code for r in responses)
        assert set(statuses) <= {202, 409}
        accepted = {r.json()["id"] for r in responses if r.status_code == 202}
        assert len(accepted) == 1
        assert await balance(client, user) == 9


class TestConcurrency:
    async def test_forty_submissions_never_overspend(self, client: httpx.AsyncClient, app: FastAPI):
        hold_jobs(app)
        user = await create_user(app)
        project = await create_project(client, user)
        body = {"project_id": project["id"], "quality": "4k", "variants": 2}  # 4 credits
        responses = await asyncio.gather(
            *(client.post(f"{API}/jobs", json=body, headers=user.headers) for _ in range(40))
        )
        codes = [r.status_code for r in responses]
        assert codes.count(202) == 2
        assert codes.count(402) == 38
        assert await ledger_matches(app, user.id) == (2, 2)
        async with app.state.ports.database.sessionmaker() as session:
            jobs = await session.scalar(select(func.count()).select_from(Job))
            charges = await session.scalar(
                select(func.count())
                .select_from(CreditTransaction)
                .where(CreditTransaction.reason == "job_charge")
            )
        assert jobs == charges == 2


class TestCancel:
    async def test_a_queued_job_is_canceled_and_refunded(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        held = hold_jobs(app)
        user = await create_user(app)
        project = await create_project(client, user)
        created = await submit_job(client, user, project["id"], variants=3)
        assert await balance(client, user) == 7
        response = await client.post(f"{API}/jobs/{created['id']}/cancel", headers=user.headers)
        assert response.status_code == 200
        assert response.json()["status"] == "canceled"
        assert response.json()["refunded_credits"] == 3
        assert await balance(client, user) == 10
        # The worker comes along later and finds nothing to do.
        assert await held.release() == [None]
        again = await client.post(f"{API}/jobs/{created['id']}/cancel", headers=user.headers)
        assert_error(again, 409, "job_finished")
        assert await ledger_matches(app, user.id) == (10, 10)
        project_now = await client.get(f"{API}/projects/{project['id']}", headers=user.headers)
        assert project_now.json()["status"] == "draft"

    async def test_a_running_job_stops_before_its_next_variant(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        user = await create_user(app)
        # Large renders take long enough to cancel between two variants.
        project = await create_project(client, user, platform="custom", width=4096, height=4096)
        created = await submit_job(client, user, project["id"], variants=4)
        for _ in range(2000):
            job = (await client.get(f"{API}/jobs/{created['id']}", headers=user.headers)).json()
            if job["renders"]:
                break
            await asyncio.sleep(0.01)
        response = await client.post(f"{API}/jobs/{created['id']}/cancel", headers=user.headers)
        assert response.status_code == 200, response.text
        assert response.json()["cancel_requested"] is True
        job = await wait_for_job(client, app, user, created["id"])
        assert job["status"] == "canceled"
        delivered = len(job["renders"])
        assert 1 <= delivered < 4
        assert job["refunded_credits"] == 4 - delivered
        assert await balance(client, user) == 10 - delivered
        assert await ledger_matches(app, user.id) == (10 - delivered, 10 - delivered)


class TestHistoryAndEvents:
    async def test_list_filters_by_status_and_project(
        self, client: httpx.AsyncClient, app: FastAPI
    ):
        held = hold_jobs(app)
        user = await create_user(app)
        first = await create_project(client, user)
        second = await create_project(client, user)
        await submit_job(client, user, first["id"])
        await submit_job(client, user, second["id"])
        await held.release()
        await submit_job(client, user, second["id"])
        queued = (
            await client.get(f"{API}/jobs?status=queued&include_total=true", headers=user.headers)
        ).json()
        assert queued["total"] == 1
        by_project = (
            await client.get(
                f"{API}/jobs?project_id={second['id']}&include_total=true", headers=user.headers
            )
        ).json()
        assert by_project["total"] == 2
        project_jobs = (
            await client.get(f"{API}/projects/{second['id']}/jobs", headers=user.headers)
        ).json()
        assert [j["id"] for j in project_jobs["items"]] == [j["id"] for j in by_project["items"]]
        bad = await client.get(f"{API}/jobs?status=sleeping", headers=user.headers)
        assert bad.status_code == 422
