"""Job dispatch on AWS Lambda: the function invokes itself asynchronously with the job's id.

`Invoke` with `InvocationType=Event` puts the job on the function's own async queue; Lambda runs
it in an invocation of its own (in this environment once it is free, or another one) and retries
it when that invocation fails. No extra service is needed, only `lambda:InvokeFunction` on the
function itself. botocore ships with Lambda's Python runtime, so it is not a requirement of the
bundle, and it is imported on the first dispatch only.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any

import anyio

from app.adapters.dispatch import DispatchFailed

logger = logging.getLogger("app.dispatch")

# The key that tells a job event from an API Gateway or EventBridge event in the handler.
JOB_EVENT_KEY = "mugshot_job"
# Dispatch runs inside a request, after its commit: fail fast rather than hold the response.
# A job whose Invoke failed stays queued, and the sweeper sends it again.
CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0
INVOKE_ATTEMPTS = 2
# An async invocation answers 202 once Lambda has queued the event.
ACCEPTED = 202


def job_event(job_id: uuid.UUID, attempt: int) -> dict[str, Any]:
    """The async event for a job: ids only, far below Lambda's async payload limit."""
    return {JOB_EVENT_KEY: {"job_id": str(job_id), "attempt": attempt}}


def qualifier_of(function_arn: str | None) -> str | None:
    """The version or alias in an invoked function ARN (`arn:aws:lambda:…:function:name:live`)."""
    if not function_arn:
        return None
    parts = function_arn.split(":")
    return parts[7] if len(parts) == 8 and parts[7] else None


class LambdaInvokeDispatcher:
    """Sends each job to this same Lambda function as an asynchronous invocation."""

    name = "lambda_invoke"
    # The job runs in an invocation of its own, which Lambda keeps alive until it returns.
    finishes_after_response = True

    def __init__(self, *, function_name: str, region: str) -> None:
        self.function_name = function_name
        self.region = region
        # Set by the handler on every invocation, so the job goes to the same version or alias
        # that served the request (an alias may also carry provisioned concurrency).
        self.invoked_function_arn: str | None = None
        self._client: Any = None
        self._client_lock = threading.Lock()

    def _lambda(self) -> Any:
        with self._client_lock:
            if self._client is None:
                # Imported on first use: a cold start that never dispatches does not pay for it.
                from botocore.config import Config
                from botocore.session import get_session

                # Credentials and AWS_ENDPOINT_URL_LAMBDA come from the environment, read by
                # botocore itself, as Lambda sets them in every function.
                self._client = get_session().create_client(
                    "lambda",
                    region_name=self.region or None,
                    config=Config(
                        connect_timeout=CONNECT_TIMEOUT_SECONDS,
                        read_timeout=READ_TIMEOUT_SECONDS,
                        retries={"total_max_attempts": INVOKE_ATTEMPTS, "mode": "standard"},
                    ),
                )
            return self._client

    def _invoke(self, payload: bytes) -> Any:
        arguments: dict[str, Any] = {
            "FunctionName": self.function_name,
            "InvocationType": "Event",
            "Payload": payload,
        }
        qualifier = qualifier_of(self.invoked_function_arn)
        if qualifier is not None:
            arguments["Qualifier"] = qualifier
        return self._lambda().invoke(**arguments)

    async def dispatch(self, job_id: uuid.UUID, *, attempt: int = 0) -> None:
        payload = json.dumps(job_event(job_id, attempt)).encode()
        try:
            response = await anyio.to_thread.run_sync(self._invoke, payload)
        except Exception as exc:
            logger.error(
                "job dispatch failed", extra={"job_id": str(job_id), "error": str(exc)[:300]}
            )
            raise DispatchFailed(f"Lambda did not accept job {job_id}: {exc}") from exc
        status = response.get("StatusCode")
        if status != ACCEPTED:
            raise DispatchFailed(f"Lambda answered {status} for job {job_id}, not {ACCEPTED}")
        request_id = response.get("ResponseMetadata", {}).get("RequestId")
        logger.info("job dispatched", extra={"job_id": str(job_id), "request_id": request_id})

    async def drain(self) -> None:
        # Nothing runs here: Lambda holds the event until an invocation takes it.
        return None
