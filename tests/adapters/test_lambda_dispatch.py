"""The Lambda dispatcher: real botocore against the Invoke API stand-in, signed with SigV4."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.adapters.dispatch import DispatchFailed
from app.adapters.lambda_dispatch import LambdaInvokeDispatcher, job_event, qualifier_of
from tests.support.lambda_service import (
    AwsCredentials,
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


@pytest.fixture
def invoke_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LambdaService]:
    """The Invoke API only (no environment runs the events), and the variables Lambda sets."""
    with lambda_service(
        function=FUNCTION,
        credentials=CREDENTIALS,
        handler=None,
        environment={},
        cwd=tmp_path,
        log_dir=tmp_path,
    ) as service:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", service.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS.access_key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS.secret_access_key)
        monkeypatch.setenv("AWS_SESSION_TOKEN", CREDENTIALS.session_token)
        for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
        yield service


def dispatcher(function_name: str = FUNCTION.name) -> LambdaInvokeDispatcher:
    return LambdaInvokeDispatcher(function_name=function_name, region=FUNCTION.region)


class TestQualifier:
    @pytest.mark.parametrize(
        ("arn", "qualifier"),
        [
            ("arn:aws:lambda:eu-west-1:123456789012:function:mugshot-api:live", "live"),
            ("arn:aws:lambda:eu-west-1:123456789012:function:mugshot-api:7", "7"),
            ("arn:aws:lambda:eu-west-1:123456789012:function:mugshot-api", None),
            (None, None),
        ],
    )
    def test_read_from_the_invoked_arn(self, arn: str | None, qualifier: str | None) -> None:
        assert qualifier_of(arn) == qualifier


class TestDispatch:
    async def test_the_job_is_queued_as_an_async_event(self, invoke_api: LambdaService) -> None:
        job_id = uuid.uuid4()
        sender = dispatcher()
        sender.invoked_function_arn = FUNCTION.arn("live")

        await sender.dispatch(job_id, attempt=1)

        [call] = invoke_api.invoke_calls
        assert (call.status, call.invocation_type, call.qualifier) == (202, "Event", "live")
        assert json.loads(call.payload) == job_event(job_id, 1)
        assert len(call.payload) < 200
        [queued] = invoke_api.invocations
        assert queued.asynchronous
        assert queued.qualifier == "live"
        assert queued.event == {"mugshot_job": {"job_id": str(job_id), "attempt": 1}}

    async def test_an_unqualified_invocation_sends_no_qualifier(
        self, invoke_api: LambdaService
    ) -> None:
        sender = dispatcher()
        sender.invoked_function_arn = FUNCTION.arn()

        await sender.dispatch(uuid.uuid4())

        [call] = invoke_api.invoke_calls
        assert call.status == 202
        assert call.qualifier is None

    async def test_a_function_named_by_its_arn_is_signed_right(
        self, invoke_api: LambdaService
    ) -> None:
        # The ARN's colons are percent-encoded in the path, and encoded again when signed.
        await dispatcher(FUNCTION.arn()).dispatch(uuid.uuid4())

        [call] = invoke_api.invoke_calls
        assert call.status == 202

    async def test_a_wrong_secret_is_refused_and_nothing_queued(
        self, invoke_api: LambdaService, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-role-secret")

        with pytest.raises(DispatchFailed, match="InvalidSignatureException"):
            await dispatcher().dispatch(uuid.uuid4())

        assert [call.status for call in invoke_api.invoke_calls] == []
        assert invoke_api.invocations == []

    async def test_a_missing_session_token_is_refused(
        self, invoke_api: LambdaService, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("AWS_SESSION_TOKEN")

        with pytest.raises(DispatchFailed, match="UnrecognizedClientException"):
            await dispatcher().dispatch(uuid.uuid4())

        assert invoke_api.invocations == []

    async def test_an_unknown_alias_is_not_found(self, invoke_api: LambdaService) -> None:
        sender = dispatcher()
        sender.invoked_function_arn = FUNCTION.arn("staging")

        with pytest.raises(DispatchFailed, match="ResourceNotFoundException"):
            await sender.dispatch(uuid.uuid4())

        assert [call.status for call in invoke_api.invoke_calls] == [404]

    async def test_an_unreachable_endpoint_fails_the_dispatch(
        self, invoke_api: LambdaService, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9")

        with pytest.raises(DispatchFailed, match="Could not connect"):
            await dispatcher().dispatch(uuid.uuid4())
