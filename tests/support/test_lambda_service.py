"""The Lambda service stand-in behaves as Lambda does towards the real runtime client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.serverless.lambda_events import ROOT
from tests.support.lambda_service import (
    AwsCredentials,
    FunctionError,
    LambdaFunction,
    LambdaService,
    lambda_service,
)

CREDENTIALS = AwsCredentials("ASIAQ3EGUXJMUPROBEKEY", "probe-secret-access-key", "probe-token")
StartService = Callable[..., LambdaService]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    with ExitStack() as stack:

        def start(
            handler: str = "tests.support.lambda_probe.handler",
            timeout_seconds: float = 30.0,
            retry_delays: tuple[float, ...] = (0.0, 0.0),
        ) -> LambdaService:
            return stack.enter_context(
                lambda_service(
                    function=LambdaFunction(timeout_seconds=timeout_seconds),
                    credentials=CREDENTIALS,
                    handler=handler,
                    environment={},
                    cwd=ROOT,
                    log_dir=tmp_path,
                    retry_delays=retry_delays,
                )
            )

        yield start


class TestRuntimeApi:
    def test_the_context_comes_from_the_next_headers(self, start_service: StartService) -> None:
        service = start_service()

        answer = service.invoke({}, qualifier="live")

        [invocation] = service.invocations
        assert answer["request_id"] == invocation.request_id
        assert answer["function_arn"] == service.function.arn("live")
        assert 0 < answer["remaining_ms"] <= 30_000

    def test_the_environment_is_frozen_between_invocations(
        self, start_service: StartService
    ) -> None:
        service = start_service()
        first = service.invoke({})
        service.wait_idle()

        [environment] = service.environments
        assert environment.process_state() == "T"
        assert service.invoke({})["pid"] == first["pid"]

    def test_a_failed_async_event_is_retried_twice_with_the_same_request_id(
        self, start_service: StartService
    ) -> None:
        service = start_service()

        invocation = service.invoke_async({"raise": "boom"})
        service.wait_idle()

        assert invocation.deliveries == ["1 ValueError"] * 3
        assert invocation.error is not None
        assert invocation.error["errorMessage"] == "boom"
        assert len(service.environments) == 1

    def test_past_the_timeout_the_environment_is_stopped(self, start_service: StartService) -> None:
        service = start_service(timeout_seconds=1.0)

        started = time.monotonic()
        with pytest.raises(FunctionError, match="Sandbox.Timedout"):
            service.invoke({"sleep": 30})

        assert time.monotonic() - started < 20
        assert service.invoke({})["pid"] != service.environments[0].pid

    def test_a_handler_that_does_not_import_is_an_init_error(
        self, start_service: StartService
    ) -> None:
        service = start_service(handler="tests.support.no_such_module.handler")

        with pytest.raises(FunctionError, match="Runtime.ImportModuleError"):
            service.invoke({})
