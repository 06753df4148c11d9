"""The function under awslambdaric, the real Runtime Interface Client, frozen between invocations.

Every execution environment is a `python -m awslambdaric app.lambda_handler.handler` process
talking to the test-side Lambda service (tests/support/lambda_service.py): API Gateway events
arrive through its Runtime API, and the job dispatcher's botocore `Invoke` calls reach its
Invoke API through `AWS_ENDPOINT_URL_LAMBDA`, signed with the function's credentials.
"""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.config import Settings
from app.credits import repository as credits_repository
from app.models import CreditTransaction, Job, Render
from tests.conftest import TEST_JWT_SECRET, UPSTASH_TOKEN
from tests.factories import API, latest_token, signup_body
from tests.serverless.lambda_events import (
    HOST,
    ROOT,
    SOURCE_IP,
    Gateway,
    LambdaResponse,
    json_event,
)
from tests.support.lambda_service import (
    AwsCredentials,
    Environment,
    LambdaFunction,
    LambdaService,
    lambda_service,
)

CREDENTIALS = AwsCredentials(
    access_key_id="ASIAQ3EGUXJMUTESTKEY",
    secret_access_key="lambda-execution-role-test-secret-0123456789",
    session_token="IQoJb3JpZ2luX2VjEPT//////////test-session-token",
)
FUNCTION = LambdaFunction()
HANDLER = "app.lambda_handler.handler"
LEASE_SECONDS = 5
# Lambda waits about 1 and 2 minutes before it retries a failed async event.
RETRY_DELAYS = (60.0, 120.0)
DRAFT_COST = 1  # two studio drafts: half of two credits

StartFunction = Callable[..., LambdaService]


def function_variables(settings: Settings, upstash_url: str, **overrides: str) -> dict[str, str]:
    """The function's configuration: the test database and data folder, nothing from the host.

    Sessions live in Upstash (the real Redis behind the REST test server), as in production:
    an environment's memory goes with it, and a later environment must still know the user.
    """
    return {
        "UPSTASH_REDIS_REST_URL": upstash_url,
        "UPSTASH_REDIS_REST_TOKEN": UPSTASH_TOKEN,
        "KV_KEY_PREFIX": f"lambda-{uuid.uuid4().hex[:8]}",
        "ENVIRONMENT": "development",
        "DATABASE_URL": settings.database_url,
        "DATA_DIR": str(settings.data_dir),
        "JWT_SECRET": TEST_JWT_SECRET,
        "PUBLIC_BASE_URL": f"https://{HOST}",
        "ALLOWED_ORIGINS": "https://studio.example.com",
        "LOG_LEVEL": "INFO",
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "DEFAULT_USER_CREDITS": "10",
        **overrides,
    }


@pytest.fixture
def start_function(
    app: FastAPI, settings: Settings, upstash_url: str, tmp_path: Path
) -> Iterator[StartFunction]:
    """Start the Lambda service for the function; every environment it started is ended after."""
    with ExitStack() as stack:

        def start(
            *, retry_delays: tuple[float, ...] = RETRY_DELAYS, **overrides: str
        ) -> LambdaService:
            return stack.enter_context(
                lambda_service(
                    function=FUNCTION,
                    credentials=CREDENTIALS,
                    handler=HANDLER,
                    environment=function_variables(settings, upstash_url, **overrides),
                    cwd=ROOT,
                    log_dir=tmp_path,
                    retry_delays=retry_delays,
                )
            )

        yield start


class ApiGateway:
    """Sends requests to the function as an API Gateway integration does: synchronously."""

    def __init__(self, service: LambdaService, gateway: Gateway) -> None:
        self.service = service
        self.gateway = gateway

    async def request(
        self,
        method: str,
        url: str,
        json_body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        source_ip: str = SOURCE_IP,
    ) -> LambdaResponse:
        event = json_event(
            self.gateway, method, url, json_body, headers=headers, source_ip=source_ip
        )
        raw = await asyncio.to_thread(self.service.invoke, event)
        return LambdaResponse.parse(raw)

    async def sign_up(self, app: FastAPI) -> dict[str, str]:
        body = signup_body()
        signup = await self.request("POST", f"{API}/auth/signup", body)
        assert signup.status == 201, signup.body
        token = latest_token(app, body["email"], "confirm-email")
        confirm = await self.request("POST", f"{API}/auth/confirm", {"token": token})
        assert confirm.status == 200, confirm.body
        credentials = {"email": body["email"], "password": body["password"]}
        signin = await self.request("POST", f"{API}/auth/signin", credentials)
        assert signin.status == 200, signin.body
        return {"authorization": f"Bearer {signin.json()['access_token']}"}

    async def submit_job(self, auth: dict[str, str]) -> dict[str, Any]:
        project = await self.request(
            "POST",
            f"{API}/projects",
            {"platform": "youtube", "headline": "I tried this for 30 days", "vibe": "bold"},
            headers=auth,
        )
        assert project.status == 201, project.body
        job = await self.request(
            "POST",
            f"{API}/jobs",
            {"project_id": project.json()["id"], "quality": "draft", "variants": 2},
            headers={**auth, "idempotency-key": str(uuid.uuid4())},
        )
        assert job.status == 202, job.body
        assert job.json()["cost_credits"] == DRAFT_COST
        submitted: dict[str, Any] = job.json()
        return submitted


def scheduled_event() -> dict[str, Any]:
    """What an EventBridge rule with `rate(1 minute)` sends its Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": FUNCTION.region,
        "resources": [f"arn:aws:events:{FUNCTION.region}:123456789012:rule/mugshot-sweep"],
        "detail": {},
    }


async def wait_idle(service: LambdaService) -> None:
    await asyncio.to_thread(service.wait_idle, 30)


async def ledger(app: FastAPI, user_id: uuid.UUID) -> tuple[int | None, int]:
    async with app.state.ports.database.sessionmaker() as session:
        balance = await credits_repository.current_balance(session, user_id)
        total = await credits_repository.ledger_sum(session, user_id)
    return balance, total


async def load_job(app: FastAPI, job_id: str) -> Job:
    async with app.state.ports.database.sessionmaker() as session:
        job = await session.get(Job, uuid.UUID(job_id))
    assert job is not None
    return job


async def renders_of(app: FastAPI, job_id: str) -> list[Render]:
    async with app.state.ports.database.sessionmaker() as session:
        rows = await session.scalars(select(Render).where(Render.job_id == uuid.UUID(job_id)))
        return list(rows)


async def assert_served_and_balanced(
    api: ApiGateway, app: FastAPI, auth: dict[str, str], job_id: str
) -> None:
    job = await api.request("GET", f"{API}/jobs/{job_id}", headers=auth)
    assert job.status == 200, job.body
    assert job.json()["status"] == "succeeded"
    renders = job.json()["renders"]
    assert sorted(render["variant"] for render in renders) == [0, 1]
    for render in renders:
        image = await api.request("GET", render["url"])
        assert image.status == 200, render["url"]
        # A YouTube project's renders are JPEG (YouTube takes thumbnails up to 2 MB).
        assert image.headers["content-type"] == "image/jpeg"
        assert image.body.startswith(b"\xff\xd8\xff")
    user_id = (await load_job(app, job_id)).user_id
    assert await ledger(app, user_id) == (10 - DRAFT_COST, 10 - DRAFT_COST)
    async with app.state.ports.database.sessionmaker() as session:
        entries = await session.scalars(
            select(CreditTransaction.delta).where(
                CreditTransaction.user_id == user_id, CreditTransaction.delta < 0
            )
        )
        # One charge for the job, no refund: each attempt reused it.
        assert list(entries) == [-DRAFT_COST]


def job_invocations(service: LambdaService) -> list[Any]:
    return [
        invocation
        for invocation in service.invocations
        if invocation.asynchronous and "mugshot_job" in invocation.event
    ]


class TestJobLeftAlone:
    async def test_the_job_arrives_by_self_invocation_and_succeeds(
        self, start_function: StartFunction, app: FastAPI
    ) -> None:
        service = start_function()
        api = ApiGateway(service, Gateway.REST_API)
        auth = await api.sign_up(app)
        job = await api.submit_job(auth)

        # No further request: the job event the function sent itself runs the job.
        await wait_idle(service)

        assert len(service.invoke_calls) == 1, service.logs()
        [call] = service.invoke_calls
        assert (call.status, call.invocation_type) == (202, "Event")
        assert (call.function_name, call.qualifier) == (FUNCTION.name, "live")
        assert call.headers["authorization"].startswith(
            f"AWS4-HMAC-SHA256 Credential={CREDENTIALS.access_key_id}/"
        )
        assert json.loads(call.payload) == {"mugshot_job": {"job_id": job["id"], "attempt": 0}}
        [invocation] = job_invocations(service)
        assert invocation.deliveries == ["1 ok"]
        assert json.loads(invocation.result or b"{}")["outcome"] == "ran"
        # One environment, frozen between its invocations and frozen now.
        [environment] = service.environments
        assert environment.freezes >= 1
        assert environment.process_state() == "T"

        assert (await load_job(app, job["id"])).status == "succeeded"
        await assert_served_and_balanced(api, app, auth, job["id"])


async def crash_mid_job(
    service: LambdaService, app: FastAPI, job_id: str
) -> tuple[Render, Environment]:
    """Kill the environment once variant 0 is stored (its row committed) and variant 1 renders."""
    first = await wait_for_render(app, job_id, variant=0)
    killed = await asyncio.to_thread(service.kill_environment)
    assert len(await renders_of(app, job_id)) == 1, "the job ended before the kill"
    assert killed.process.returncode == -signal.SIGKILL
    return first, killed


async def assert_resumed_and_charged_once(
    api: ApiGateway, app: FastAPI, auth: dict[str, str], job_id: str, first: Render
) -> None:
    stored = await load_job(app, job_id)
    assert (stored.status, stored.attempts) == ("succeeded", 2)
    renders = {render.variant: render for render in await renders_of(app, job_id)}
    assert renders[0].id == first.id, "variant 0 was rendered again"
    await assert_served_and_balanced(api, app, auth, job_id)


class TestCrashMidJob:
    async def test_lambdas_retry_in_a_new_environment_finishes_the_job(
        self, start_function: StartFunction, app: FastAPI
    ) -> None:
        # Lambda's first retry comes a minute later, after a lease of the same order has run
        # out; here the lease is 5 s and the retry comes just after it.
        service = start_function(retry_delays=(LEASE_SECONDS + 0.5,))
        api = ApiGateway(service, Gateway.HTTP_API)
        auth = await api.sign_up(app)
        job = await api.submit_job(auth)

        first, _ = await crash_mid_job(service, app, job["id"])
        await wait_idle(service)

        [invocation] = job_invocations(service)
        # The same event (same request id) in a new environment, which ran the job to its end.
        assert invocation.deliveries == ["1 Runtime.ExitError", "2 ok"]
        assert json.loads(invocation.result or b"{}")["outcome"] == "ran"
        assert len(service.environments) == 2
        assert len(service.invoke_calls) == 1
        await assert_resumed_and_charged_once(api, app, auth, job["id"], first)

    async def test_without_retries_the_scheduled_sweep_sends_it_again(
        self, start_function: StartFunction, app: FastAPI
    ) -> None:
        # MaximumRetryAttempts 0: the failed event is dropped, the job stays leased.
        service = start_function(retry_delays=())
        api = ApiGateway(service, Gateway.REST_API)
        auth = await api.sign_up(app)
        job = await api.submit_job(auth)

        first, _ = await crash_mid_job(service, app, job["id"])
        await wait_for_lease_expiry(app, job["id"])
        sweep = service.invoke_async(scheduled_event())
        await wait_idle(service)

        assert json.loads(sweep.result or b"{}") == {"redispatched": 1, "failed": 0, "checked": 1}
        attempts = [
            json.loads(call.payload)["mugshot_job"]["attempt"] for call in service.invoke_calls
        ]
        assert attempts == [0, 1]
        dropped, resent = job_invocations(service)
        assert dropped.deliveries == ["1 Runtime.ExitError"]
        assert resent.deliveries == ["2 ok"]
        await assert_resumed_and_charged_once(api, app, auth, job["id"], first)


async def wait_for_render(app: FastAPI, job_id: str, *, variant: int) -> Render:
    for _ in range(3000):
        for render in await renders_of(app, job_id):
            if render.variant == variant:
                return render
        await asyncio.sleep(0.01)
    raise AssertionError(f"variant {variant} of job {job_id} was never stored")


async def wait_for_lease_expiry(app: FastAPI, job_id: str) -> None:
    job = await load_job(app, job_id)
    assert job.lease_until is not None
    lease_until = job.lease_until.replace(tzinfo=job.lease_until.tzinfo or UTC)
    await asyncio.sleep(max(0.0, (lease_until - datetime.now(UTC)).total_seconds()) + 0.2)


async def sign_in_as_nobody(
    api: ApiGateway, source_ip: str, headers: dict[str, str] | None = None
) -> LambdaResponse:
    body = {"email": f"nobody-{uuid.uuid4().hex[:8]}@example.com", "password": "x" * 12}
    return await api.request(
        "POST", f"{API}/auth/signin", body, headers=headers, source_ip=source_ip
    )


class TestClientAddress:
    async def test_a_made_up_forwarded_for_does_not_lift_the_sign_in_limit(
        self, start_function: StartFunction
    ) -> None:
        service = start_function(RATE_LIMIT_SIGNIN="2", RATE_LIMIT_WINDOW_SECONDS="900")
        # One caller per gateway (the limit is per address), both through one function.
        callers = {Gateway.REST_API: "203.0.113.24", Gateway.HTTP_API: "203.0.113.25"}
        for gateway, caller in callers.items():
            api = ApiGateway(service, gateway)
            statuses = [(await sign_in_as_nobody(api, caller)).status for _ in range(3)]
            assert statuses == [401, 401, 429], gateway

            spoofed = await sign_in_as_nobody(
                api, caller, {"x-forwarded-for": "198.51.100.77", "x-real-ip": "198.51.100.77"}
            )
            assert spoofed.status == 429, gateway
            assert spoofed.json()["code"] == "rate_limited"
            assert int(spoofed.headers["retry-after"]) > 0

            # Another address is not affected: the limit is the source IP's.
            other = caller.replace("203.0.113.", "198.51.100.")
            assert (await sign_in_as_nobody(api, other)).status == 401, gateway
