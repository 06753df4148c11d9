"""Jobs delivered by QStash: publishing, signature checks, retries and repeated deliveries."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.jobs import repository as jobs_repository
from app.jobs import runner
from app.jobs.runner import STORAGE_DOWN, claim_job
from app.jobs.service import charge_reference, refund_reference
from app.kit.db import transaction
from tests.auth.test_router import assert_error
from tests.conftest import http_client, make_settings, running_app
from tests.factories import (
    API,
    TestUser,
    balance,
    create_project,
    create_user,
    submit_job,
    wait_for_job,
)
from tests.internal.conftest import (
    QSTASH_TOKEN,
    job_row,
    ledger_count,
    qstash_settings,
    render_paths,
    run_path,
    run_url,
)
from tests.support.qstash_server import (
    Delivery,
    Message,
    QStashServer,
    QStashState,
    sign,
    signing_key,
)


async def submitted(
    client: httpx.AsyncClient, app: FastAPI, **overrides: Any
) -> tuple[TestUser, dict[str, Any]]:
    user = await create_user(app)
    project = await create_project(client, user)
    return user, await submit_job(client, user, project["id"], **overrides)


def message_body(job_id: str) -> bytes:
    return json.dumps({"job_id": job_id}).encode()


async def post_run(
    client: httpx.AsyncClient,
    job_id: str,
    *,
    key: str | None,
    body: bytes | None = None,
    signed_body: bytes | None = None,
    url: str | None = None,
    **claims: Any,
) -> httpx.Response:
    """POST to the run endpoint as QStash would, with a signature made by `key`."""
    body = message_body(job_id) if body is None else body
    headers = {"Content-Type": "application/json", "Upstash-Retried": "0"}
    if key is not None:
        headers["Upstash-Signature"] = sign(
            key,
            url=url or run_url(job_id),
            body=body if signed_body is None else signed_body,
            **claims,
        )
    return await client.post(run_path(job_id), content=body, headers=headers)


class TestPublishAndRun:
    async def test_a_token_selects_the_qstash_dispatcher(self, app: FastAPI):
        assert app.state.ports.dispatcher.name == "qstash"

    async def test_a_submitted_job_is_published_delivered_and_run_once(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        user, created = await submitted(client, app, variants=2)

        [message] = qstash.messages
        assert message.url == run_url(created["id"])
        assert message.method == "POST"
        assert json.loads(message.body) == {"job_id": created["id"]}
        assert message.headers["content-type"] == "application/json"
        assert message.retries == 3
        assert message.deduplication_id == f"{created['id']}-0"
        assert qstash.publish_headers[0]["authorization"] == f"Bearer {QSTASH_TOKEN}"
        assert (await job_row(app, created["id"])).status == "queued"

        [delivery] = await qstash.deliver_pending(client)
        assert delivery.status == 200
        assert delivery.body == {"job_id": created["id"], "status": "succeeded", "outcome": "ran"}
        job = await wait_for_job(client, app, user, created["id"])
        assert job["status"] == "succeeded"
        assert [render["variant"] for render in job["renders"]] == [0, 1]
        assert await balance(client, user) == 8
        assert await ledger_count(app, charge_reference(uuid.UUID(created["id"]))) == 1

    async def test_a_refused_publish_leaves_the_job_queued(
        self, database_url: str, tmp_path: Path, qstash_service: QStashServer, qstash: QStashState
    ):
        settings = qstash_settings(
            qstash_service,
            qstash_token="not-the-token",
            database_url=database_url,
            data_dir=tmp_path / "data",
        )
        async with running_app(settings) as app, http_client(app) as client:
            user, created = await submitted(client, app)
            assert qstash.messages == []
            job = await wait_for_job(client, app, user, created["id"])
            assert job["status"] == "queued"
            assert await balance(client, user) == 9


class TestSignature:
    async def test_unsigned_is_401_and_runs_nothing(self, client: httpx.AsyncClient, app: FastAPI):
        _, created = await submitted(client, app)
        response = await post_run(client, created["id"], key=None)
        assert_error(response, 401, "invalid_signature")
        job = await job_row(app, created["id"])
        assert (job.status, job.attempts) == ("queued", 0)

    async def test_a_key_we_do_not_hold_is_401(self, client: httpx.AsyncClient, app: FastAPI):
        _, created = await submitted(client, app)
        response = await post_run(client, created["id"], key=signing_key())
        assert_error(response, 401, "invalid_signature")
        assert (await job_row(app, created["id"])).attempts == 0

    async def test_the_next_key_is_accepted(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        _, created = await submitted(client, app)
        response = await post_run(client, created["id"], key=qstash.next_signing_key)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "succeeded"

    async def test_deliveries_keep_working_across_a_key_rotation(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        _, created = await submitted(client, app)
        # The app was configured before the rotation: QStash now signs with its next key.
        qstash.rotate_keys()
        [delivery] = await qstash.deliver_pending(client)
        assert delivery.status == 200
        assert (await job_row(app, created["id"])).status == "succeeded"

    async def test_an_expired_signature_is_401(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        _, created = await submitted(client, app)
        response = await post_run(
            client, created["id"], key=qstash.current_signing_key, issued_at=time.time() - 400
        )
        assert_error(response, 401, "invalid_signature")

    async def test_a_signature_not_yet_valid_is_401(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        _, created = await submitted(client, app)
        response = await post_run(
            client, created["id"], key=qstash.current_signing_key, issued_at=time.time() + 120
        )
        assert_error(response, 401, "invalid_signature")

    async def test_a_tampered_body_is_401(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        _, created = await submitted(client, app)
        signed = message_body(created["id"])
        # Same meaning, other bytes: the hash is over the raw body, not its JSON value.
        sent = json.dumps({"job_id": created["id"]}, separators=(",", ":")).encode()
        response = await post_run(
            client, created["id"], key=qstash.current_signing_key, body=sent, signed_body=signed
        )
        assert_error(response, 401, "invalid_signature")

    @pytest.mark.parametrize(
        "url",
        [
            "https://elsewhere.example/api/v1/internal/jobs/{id}/run",
            "http://test/api/v1/internal/jobs/{other}/run",
        ],
    )
    async def test_a_signature_for_another_url_is_401(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState, url: str
    ):
        _, created = await submitted(client, app)
        response = await post_run(
            client,
            created["id"],
            key=qstash.current_signing_key,
            url=url.format(id=created["id"], other=uuid.uuid4()),
        )
        assert_error(response, 401, "invalid_signature")

    async def test_another_issuer_is_401(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        _, created = await submitted(client, app)
        response = await post_run(
            client, created["id"], key=qstash.current_signing_key, iss="Someone"
        )
        assert_error(response, 401, "invalid_signature")

    async def test_without_signing_keys_nothing_runs(
        self, database_url: str, tmp_path: Path, qstash: QStashState
    ):
        settings = make_settings(database_url=database_url, data_dir=tmp_path / "data")
        async with running_app(settings) as app, http_client(app) as client:
            job_id = str(uuid.uuid4())
            response = await post_run(client, job_id, key=qstash.current_signing_key)
            assert_error(response, 503, "signing_not_configured")

    async def test_a_body_for_another_job_is_400(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        _, created = await submitted(client, app)
        for body in (message_body(str(uuid.uuid4())), b'{"job": 1}', b"not json"):
            response = await post_run(
                client, created["id"], key=qstash.current_signing_key, body=body
            )
            assert_error(response, 400, "message_mismatch")
        assert (await job_row(app, created["id"])).attempts == 0

    async def test_the_routes_are_not_in_the_public_schema(self, client: httpx.AsyncClient):
        schema = (await client.get(f"{API}/openapi.json")).json()
        assert not [path for path in schema["paths"] if "/internal/" in path]


def block_renders(app: FastAPI, user: TestUser) -> Path:
    """Put a file where the user's render folder belongs, so storing a render fails."""
    ports = app.state.ports
    blocker: Path = ports.settings.data_dir / "storage" / ports.buckets.renders.name / user.id
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"")
    return blocker


class TestRetries:
    async def test_a_storage_outage_answers_503_and_the_retry_finishes_the_job(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        user, created = await submitted(client, app, variants=2)
        blocker = block_renders(app, user)

        def storage_recovers(message: Message, delivery: Delivery) -> None:
            if blocker.is_file():
                blocker.unlink()

        deliveries = await qstash.deliver_pending(client, after_attempt=storage_recovers)

        assert [delivery.status for delivery in deliveries] == [503, 200]
        assert deliveries[0].body["code"] == "retry_later"
        assert deliveries[1].body["outcome"] == "ran"
        job = await wait_for_job(client, app, user, created["id"])
        assert job["status"] == "succeeded"
        assert [render["variant"] for render in job["renders"]] == [0, 1]
        assert (await job_row(app, created["id"])).attempts == 2
        assert await balance(client, user) == 8
        assert await ledger_count(app, refund_reference(uuid.UUID(created["id"]))) == 0

    async def test_an_outage_on_the_last_attempt_fails_and_refunds(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        app.state.ports.settings.job_max_attempts = 1
        user, created = await submitted(client, app)
        block_renders(app, user)

        [delivery] = await qstash.deliver_pending(client)

        assert delivery.status == 200
        assert delivery.body["status"] == "failed"
        job = await wait_for_job(client, app, user, created["id"])
        assert (job["status"], job["error"]) == ("failed", STORAGE_DOWN)
        assert await balance(client, user) == 10

    async def test_a_repeated_delivery_runs_and_charges_once(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        user, created = await submitted(client, app, variants=2)
        [first] = await qstash.deliver_pending(client)
        paths = await render_paths(app, created["id"])

        again = await qstash.redeliver(first.message_id, client)

        assert again.status == 200
        assert again.body["outcome"] == "already_finished"
        assert await render_paths(app, created["id"]) == paths
        assert (await job_row(app, created["id"])).attempts == 1
        assert await balance(client, user) == 8

    async def test_simultaneous_deliveries_run_the_job_once(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        user, created = await submitted(client, app, variants=2)
        [message] = qstash.messages

        deliveries = await asyncio.gather(
            qstash.attempt(message, client, 0), qstash.attempt(message, client, 0)
        )

        assert all(delivery.status == 200 for delivery in deliveries)
        assert sorted(delivery.body["outcome"] for delivery in deliveries)[1] == "ran"
        job = await job_row(app, created["id"])
        assert (job.status, job.attempts) == ("succeeded", 1)
        assert sorted(await render_paths(app, created["id"])) == [0, 1]
        assert await balance(client, user) == 8

    async def test_a_repeated_publish_is_delivered_once(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        user, created = await submitted(client, app)
        await app.state.ports.dispatcher.dispatch(uuid.UUID(created["id"]))

        assert len(qstash.messages) == 1
        deliveries = await qstash.deliver_pending(client)
        assert [delivery.status for delivery in deliveries] == [200]
        assert await balance(client, user) == 9

    async def test_a_job_another_runner_holds_is_left_to_it(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        _, created = await submitted(client, app)
        assert await claim_job(app.state.ports, uuid.UUID(created["id"])) is not None

        [delivery] = await qstash.deliver_pending(client)

        assert delivery.status == 200
        assert delivery.body == {
            "job_id": created["id"],
            "status": "running",
            "outcome": "in_progress",
        }
        assert (await job_row(app, created["id"])).attempts == 1

    async def test_a_job_that_no_longer_exists_is_acknowledged(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        job_id = str(uuid.uuid4())
        response = await post_run(client, job_id, key=qstash.current_signing_key)
        assert response.status_code == 200
        assert response.json() == {"job_id": job_id, "status": None, "outcome": "missing"}


class TestCancelAfterRelease:
    async def test_refunds_only_the_variants_not_yet_rendered(
        self, client: httpx.AsyncClient, app: FastAPI, qstash: QStashState
    ):
        user, created = await submitted(client, app, variants=2)
        ports = app.state.ports
        job_id = uuid.UUID(created["id"])
        job = await claim_job(ports, job_id)
        assert job is not None
        # Variant 0 is stored, then an outage sends the job back to the queue.
        await runner._store_variant(ports, await runner._plan(ports, job), job.attempts, 0, set())
        async with transaction(ports.database.sessionmaker) as session:
            assert await jobs_repository.release(session, job_id=job_id, attempt=job.attempts)

        response = await client.post(f"{API}/jobs/{job_id}/cancel", headers=user.headers)

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "canceled"
        assert response.json()["refunded_credits"] == 1
        assert await balance(client, user) == 9
