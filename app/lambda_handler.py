"""AWS Lambda entry point: API Gateway events through Mangum, job and schedule events directly.

Three kinds of events reach the function:
- API Gateway REST and HTTP API requests, served by the app behind Mangum;
- `{"mugshot_job": {"job_id", "attempt"}}`, the async self-invocation of the job dispatcher,
  run to its end in this invocation;
- EventBridge scheduled events, which run the sweeper (stalled jobs are sent again).

Only API Gateway events come from the outside world; the other two can be sent only by a
principal allowed to invoke the function, which is what makes them trusted.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from typing import Any, TypeVar

from fastapi import FastAPI
from mangum import Mangum

from app.adapters.lambda_dispatch import JOB_EVENT_KEY, LambdaInvokeDispatcher
from app.internal.service import run_delivered_job, sweep
from app.kit.heap import freeze_startup_heap
from app.main import create_app
from app.ports import Ports

logger = logging.getLogger("app.lambda")

T = TypeVar("T")
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

IN_PROCESS_WARNING = (
    "jobs are dispatched in-process; on AWS Lambda that work stops when the response is "
    "returned (the execution environment is frozen until its next request and may never "
    "resume), so jobs stall. Use the Lambda dispatcher (asynchronous self-invocation, the "
    "default on Lambda) or set QSTASH_TOKEN and the QStash signing keys."
)


def is_scheduled_event(event: dict[str, Any]) -> bool:
    """An EventBridge rule's schedule (`rate(1 minute)`), sent with no input of its own."""
    return event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event"


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    # The loop Mangum set up when it was built: every invocation runs on the same one, so
    # the ports' connections and locks stay bound to it.
    return asyncio.get_event_loop().run_until_complete(coroutine)


def run_job_event(ports: Ports, body: object) -> dict[str, Any]:
    """Run the job of an async self-invocation to its end, under the usual lease.

    Raising makes Lambda retry the event later (twice), so it raises only when a retry can
    help: the database failed or storage was down (`RetryLater`). A job another run holds
    (a live lease, also one left by a run that crashed) is answered normally: the sweeper
    sends it again once the lease expires, and the attempt limit still bounds the runs.
    """
    try:
        job_id = uuid.UUID(str(body["job_id"]))  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        # A retry cannot fix a malformed event: answer, so Lambda drops it.
        logger.error("job event refused: no valid job_id", extra={"event": str(body)[:200]})
        return {"outcome": "invalid_event"}
    result = _run(run_delivered_job(ports=ports, job_id=job_id))
    logger.info("job event handled", extra={"job_id": str(job_id), "outcome": result.outcome})
    return result.model_dump(mode="json")


def run_scheduled_sweep(ports: Ports) -> dict[str, Any]:
    return asdict(_run(sweep(ports)))


def build_handler(app: FastAPI) -> LambdaHandler:
    """Wrap the app for Lambda, warning when its job dispatch cannot work there."""
    ports: Ports = app.state.ports
    dispatcher = ports.dispatcher
    if not dispatcher.finishes_after_response:
        logger.warning(IN_PROCESS_WARNING)
    # Lifespan "off": Mangum would run startup and shutdown around every invocation, and the
    # shutdown closes the ports and waits for in-process jobs before the response goes out.
    # The ports are built in create_app; periodic work comes from the schedule instead.
    http = Mangum(
        app,
        lifespan="off",
        api_gateway_base_path=ports.settings.api_gateway_base_path,
    )

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if isinstance(dispatcher, LambdaInvokeDispatcher):
            dispatcher.invoked_function_arn = getattr(context, "invoked_function_arn", None)
        if JOB_EVENT_KEY in event:
            return run_job_event(ports, event[JOB_EVENT_KEY])
        if is_scheduled_event(event):
            return run_scheduled_sweep(ports)
        response: dict[str, Any] = http(event, context)
        return response

    return handler


handler = build_handler(create_app())
freeze_startup_heap()
