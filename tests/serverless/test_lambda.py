"""The Lambda handler driven by API Gateway HTTP API (v2) and REST API (v1) events."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from app.adapters.lambda_dispatch import JOB_EVENT_KEY, job_event
from app.config import Settings
from app.jobs.runner import claim_job
from app.lambda_handler import IN_PROCESS_WARNING, build_handler
from app.main import create_app
from tests.conftest import make_settings
from tests.factories import API, latest_token, signup_body
from tests.images import image_bytes
from tests.serverless.lambda_events import Gateway, build_event, load_sample
from tests.serverless.lambda_runtime import LambdaEnvironment
from tests.support.dispatch import HeldDispatcher

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BOUNDARY = "----MugShotBoundary7MA4YWxkTrZu0gW"


@pytest.fixture(params=list(Gateway), ids=[gateway.name for gateway in Gateway])
def gateway(request: pytest.FixtureRequest) -> Gateway:
    value: Gateway = request.param
    return value


def multipart(fields: dict[str, str], filename: str, content: bytes) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; "
        f'name="file"; filename="{filename}"\r\nContent-Type: image/png\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def sign_up(env: LambdaEnvironment, gateway: Gateway) -> dict[str, str]:
    """Sign up, confirm with the mailed token and sign in, each through the handler."""
    body = signup_body()
    signup = env.request(gateway, "POST", f"{API}/auth/signup", json_body=body)
    assert signup.status == 201, signup.body
    assert signup.json()["next"] == "confirm_email"

    token = latest_token(env.app, body["email"], "confirm-email")
    confirm = env.request(gateway, "POST", f"{API}/auth/confirm", json_body={"token": token})
    assert confirm.status == 200, confirm.body

    credentials = {"email": body["email"], "password": body["password"]}
    signin = env.request(gateway, "POST", f"{API}/auth/signin", json_body=credentials)
    assert signin.status == 200, signin.body
    tokens: dict[str, Any] = signin.json()
    assert tokens["token_type"] == "bearer"
    return {"authorization": f"Bearer {tokens['access_token']}"}


def upload_png(
    env: LambdaEnvironment, gateway: Gateway, auth: dict[str, str], content: bytes
) -> dict[str, Any]:
    body = multipart({"type": "selfie"}, "selfie.png", content)
    headers = {**auth, "content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    event = build_event(
        gateway, "POST", f"{API}/assets/upload", headers=headers, body=body, binary=True
    )
    assert event["isBase64Encoded"] is True
    response = env.invoke(event)
    assert response.status == 201, response.body
    asset: dict[str, Any] = response.json()
    return asset


class TestEvents:
    def test_the_samples_are_api_gateways_documented_shapes(self) -> None:
        http_api = load_sample(Gateway.HTTP_API)
        assert http_api["version"] == "2.0"
        assert "sourceIp" in http_api["requestContext"]["http"]
        rest_api = load_sample(Gateway.REST_API)
        assert rest_api["httpMethod"] == rest_api["requestContext"]["httpMethod"]
        assert "sourceIp" in rest_api["requestContext"]["identity"]
        assert set(rest_api["multiValueHeaders"]) == set(rest_api["headers"])

    def test_a_binary_body_is_sent_base64_encoded(self, gateway: Gateway) -> None:
        event = build_event(gateway, "POST", f"{API}/assets/upload", body=b"\x89PNG", binary=True)
        assert event["isBase64Encoded"] is True
        assert event["body"] == "iVBORw=="


class TestHealth:
    def test_get_health(self, lambda_env: LambdaEnvironment, gateway: Gateway) -> None:
        response = lambda_env.request(gateway, "GET", "/health")

        assert response.status == 200, response.body
        assert response.base64_encoded is False
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-request-id"]
        assert response.json()["status"] == "ok"

    def test_an_unknown_path_is_the_apps_404(
        self, lambda_env: LambdaEnvironment, gateway: Gateway
    ) -> None:
        response = lambda_env.request(gateway, "GET", f"{API}/nothing-here")

        assert response.status == 404
        assert "detail" in response.json()


class TestAccounts:
    def test_signup_confirm_and_signin(
        self, lambda_env: LambdaEnvironment, gateway: Gateway
    ) -> None:
        auth = sign_up(lambda_env, gateway)

        me = lambda_env.request(gateway, "GET", f"{API}/auth/me", headers=auth)
        assert me.status == 200, me.body
        assert me.json()["email"].endswith("@example.com")

    def test_a_bad_token_is_401(self, lambda_env: LambdaEnvironment, gateway: Gateway) -> None:
        response = lambda_env.request(
            gateway, "GET", f"{API}/auth/me", headers={"authorization": "Bearer not-a-token"}
        )

        assert response.status == 401


class TestBinaryBodies:
    def test_a_base64_multipart_upload_is_decoded(
        self, lambda_env: LambdaEnvironment, gateway: Gateway
    ) -> None:
        auth = sign_up(lambda_env, gateway)

        asset = upload_png(lambda_env, gateway, auth, image_bytes("PNG", (40, 30), "green"))

        assert asset["content_type"] == "image/png"
        assert (asset["width"], asset["height"]) == (40, 30)

    def test_an_image_response_comes_back_base64_encoded(
        self, lambda_env: LambdaEnvironment, gateway: Gateway
    ) -> None:
        auth = sign_up(lambda_env, gateway)
        asset = upload_png(lambda_env, gateway, auth, image_bytes("PNG", (40, 30), "green"))

        # The signed URL of the local storage, fetched through the handler.
        response = lambda_env.request(gateway, "GET", asset["url"])

        assert response.status == 200, response.body
        assert response.base64_encoded is True
        assert response.headers["content-type"] == "image/png"
        assert response.body.startswith(PNG_SIGNATURE)
        assert len(response.body) == asset["size_bytes"]


class TestJobs:
    def test_create_a_project_and_submit_a_job(
        self, lambda_env: LambdaEnvironment, gateway: Gateway
    ) -> None:
        auth = sign_up(lambda_env, gateway)
        selfie = upload_png(lambda_env, gateway, auth, image_bytes("PNG", (64, 64), "blue"))
        project = lambda_env.request(
            gateway,
            "POST",
            f"{API}/projects",
            headers=auth,
            json_body={
                "platform": "youtube",
                "headline": "I tried this for 30 days",
                "vibe": "bold",
                "selfie_asset_ids": [selfie["id"]],
            },
        )
        assert project.status == 201, project.body

        job = lambda_env.request(
            gateway,
            "POST",
            f"{API}/jobs",
            headers={**auth, "idempotency-key": str(uuid.uuid4())},
            json_body={"project_id": project.json()["id"], "quality": "draft", "variants": 1},
        )

        assert job.status == 202, job.body
        assert job.json()["status"] == "queued"
        assert job.json()["cost_credits"] > 0


def submit_held_job(env: LambdaEnvironment, gateway: Gateway) -> uuid.UUID:
    """A queued job whose dispatch is held, so only the events the test sends run it."""
    env.app.state.ports.dispatcher = HeldDispatcher(env.app.state.ports)
    auth = sign_up(env, gateway)
    project = env.request(
        gateway, "POST", f"{API}/projects", headers=auth, json_body={"platform": "youtube"}
    )
    assert project.status == 201, project.body
    job = env.request(
        gateway,
        "POST",
        f"{API}/jobs",
        headers=auth,
        json_body={"project_id": project.json()["id"], "quality": "draft", "variants": 1},
    )
    assert job.status == 202, job.body
    return uuid.UUID(job.json()["id"])


class TestJobEvents:
    def test_a_job_event_runs_the_job_to_its_end(self, lambda_env: LambdaEnvironment) -> None:
        job_id = submit_held_job(lambda_env, Gateway.HTTP_API)

        answer = lambda_env.invoke_raw(job_event(job_id, 0))

        assert answer == {"job_id": str(job_id), "status": "succeeded", "outcome": "ran"}

    def test_a_job_held_by_a_live_lease_is_answered_not_retried(
        self, lambda_env: LambdaEnvironment
    ) -> None:
        job_id = submit_held_job(lambda_env, Gateway.HTTP_API)
        # Another run claimed it (or claimed it and crashed): its lease is still live.
        assert lambda_env.run(claim_job(lambda_env.app.state.ports, job_id)) is not None

        answer = lambda_env.invoke_raw(job_event(job_id, 0))

        assert answer["outcome"] == "in_progress"
        assert answer["status"] == "running"

    def test_a_finished_job_is_not_run_again(self, lambda_env: LambdaEnvironment) -> None:
        job_id = submit_held_job(lambda_env, Gateway.REST_API)
        lambda_env.invoke_raw(job_event(job_id, 0))

        again = lambda_env.invoke_raw(job_event(job_id, 0))

        assert again["outcome"] == "already_finished"

    @pytest.mark.parametrize("body", [{}, {"job_id": "not-a-uuid"}, "text", None])
    def test_a_malformed_job_event_is_dropped(
        self, lambda_env: LambdaEnvironment, body: object
    ) -> None:
        assert lambda_env.invoke_raw({JOB_EVENT_KEY: body}) == {"outcome": "invalid_event"}

    def test_a_scheduled_event_runs_the_sweep(self, lambda_env: LambdaEnvironment) -> None:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2026-12-02T03:00:00Z",
            "region": "eu-west-1",
            "resources": ["arn:aws:events:eu-west-1:123456789012:rule/mugshot-sweep"],
            "detail": {},
        }

        assert lambda_env.invoke_raw(event) == {"redispatched": 0, "failed": 0, "checked": 0}


class TestBasePath:
    def test_a_named_stage_is_stripped_from_the_path(self, settings: Settings) -> None:
        staged = settings.model_copy(update={"api_gateway_base_path": "/prod"})
        environment = LambdaEnvironment(staged)
        try:
            event = build_event(Gateway.HTTP_API, "GET", "/prod/health")
            event["requestContext"]["stage"] = "prod"

            response = environment.invoke(event)
        finally:
            environment.close()

        assert response.status == 200, response.body


class RecordList(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def app_records() -> Iterator[list[logging.LogRecord]]:
    """Records of the `app` loggers, which do not propagate to the root logger."""
    handler = RecordList()
    logger = logging.getLogger("app")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


class TestStartupWarning:
    def test_in_process_dispatch_is_flagged(
        self, app_records: list[logging.LogRecord], tmp_path: Any
    ) -> None:
        settings = make_settings(data_dir=tmp_path / "data", database_url="sqlite://")
        app = create_app(settings)

        build_handler(app)

        warnings = [r for r in app_records if r.levelno == logging.WARNING]
        assert [r.getMessage() for r in warnings] == [IN_PROCESS_WARNING]
        assert "QSTASH_TOKEN" in IN_PROCESS_WARNING
        assert "self-invocation" in IN_PROCESS_WARNING

    def test_a_durable_dispatcher_is_not_flagged(
        self, app_records: list[logging.LogRecord], tmp_path: Any
    ) -> None:
        settings = make_settings(data_dir=tmp_path / "data", database_url="sqlite://")
        app = create_app(settings)
        app.state.ports.dispatcher = DurableDispatcher()

        build_handler(app)

        assert not [r for r in app_records if r.levelno >= logging.WARNING]


class DurableDispatcher:
    """Stands in for a queue-backed dispatcher: only its name matters to the handler."""

    name = "qstash"
    finishes_after_response = True

    async def dispatch(self, job_id: uuid.UUID, *, attempt: int = 0) -> None:
        raise AssertionError("not used")

    async def drain(self) -> None:
        return None
