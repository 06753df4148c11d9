"""The `Idempotency-Key` request header and the errors its replay rules answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from app.kit.errors import Conflict, Unprocessable


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was already used with a different request."


class IdempotencyKeyInFlight(Conflict):
    code = "idempotency_key_in_flight"
    message = "A request with this Idempotency-Key is being processed; retry shortly."


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=200,
        description="Retry-safe key: the same key and body within 24 h answer the same.",
    ),
]
