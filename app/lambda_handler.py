"""AWS Lambda entry point: the application behind Mangum, for API Gateway REST and HTTP APIs."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from mangum import Mangum

from app.adapters.dispatch import InProcessDispatcher
from app.main import create_app

logger = logging.getLogger("app.lambda")

IN_PROCESS_WARNING = (
    "jobs are dispatched in-process because QSTASH_TOKEN is not set; on AWS Lambda that work "
    "stops when the response is returned (the execution environment is frozen until its next "
    "request and may never resume), so jobs stall. Set QSTASH_TOKEN and the QStash signing keys "
    "to dispatch jobs through QStash."
)


def build_handler(app: FastAPI) -> Mangum:
    """Wrap the app for Lambda, warning when its job dispatch cannot work there."""
    ports = app.state.ports
    if ports.dispatcher.name == InProcessDispatcher.name:
        logger.warning(IN_PROCESS_WARNING)
    # Lifespan "off": Mangum would run startup and shutdown around every invocation, and the
    # shutdown closes the ports and waits for in-process jobs before the response goes out.
    # The ports are built in create_app; periodic work comes from the cron route instead.
    return Mangum(
        app,
        lifespan="off",
        api_gateway_base_path=ports.settings.api_gateway_base_path,
    )


handler = build_handler(create_app())
