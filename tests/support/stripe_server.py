"""A local server speaking Stripe's API for Checkout Sessions, for driving the real SDK in tests.

Like the real API it takes the secret key as a bearer token, form-encoded bodies with bracketed
keys (`line_items[0][price_data][currency]`), a `Stripe-Version` header and `Idempotency-Key`,
and answers errors as `{"error": {"type", "message", "code"?, "param"?}}`. The handle also plays
the buyer and Stripe's side: completing a session, refunding its charge, and events signed as
Stripe signs them (`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.wire import serve

API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
SESSION_FIELDS = {
    "mode",
    "line_items",
    "success_url",
    "cancel_url",
    "client_reference_id",
    "customer_email",
    "metadata",
    "payment_intent_data",
    "expires_at",
}
# Stripe's minimum charge, in minor units, for the currencies the tests use.
MIN_CHARGE = {"usd": 50, "eur": 50, "gbp": 30, "inr": 50}


def stripe_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def stripe_error(
    status: int,
    message: str,
    *,
    error_type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if code is not None:
        error["code"] = code
    if param is not None:
        error["param"] = param
    return JSONResponse({"error": error}, status_code=status, headers={"Request-Id": "req_x"})


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back into nested values: `a[b][0][c]=v` → {"a": {"b": [{...}]}}."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        converted = {key: _lists(item) for key, item in value.items()}
        if converted and all(key.isdigit() for key in converted):
            return [converted[key] for key in sorted(converted, key=int)]
        return converted
    return value


class StripeServerHandle:
    def __init__(self, secret_key: str, webhook_secret: str) -> None:
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.url = ""
        self._lock = threading.Lock()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}  # by payment intent
        self.idempotent: dict[str, tuple[str, dict[str, Any]]] = {}
        self.versions: list[str] = []
        self.fail_next: int | None = None

    def complete(
        self,
        session_id: str,
        *,
        amount: int | None = None,
        currency: str | None = None,
        payment_status: str = "paid",
    ) -> dict[str, Any]:
        """The buyer finishes the hosted checkout; `amount`/`currency` forge a different total."""
        with self._lock:
            session = self.sessions[session_id]
            intent = session["payment_intent"] or stripe_id("pi")
            session.update(status="complete", payment_status=payment_status, payment_intent=intent)
            if amount is not None:
                session["amount_total"] = amount
            if currency is not None:
                session["currency"] = currency
            if payment_status == "paid":
                self.charges[intent] = {
                    "id": stripe_id("ch"),
                    "object": "charge",
                    "amount": session["amount_total"],
                    "amount_captured": session["amount_total"],
                    "amount_refunded": 0,
                    "currency": session["currency"],
                    "paid": True,
                    "captured": True,
                    "refunded": False,
                    "payment_intent": intent,
                    "status": "succeeded",
                    "metadata": {},
                    "livemode": False,
                    "created": int(time.time()),
                }
            return dict(session)

    def refund(self, payment_intent: str, amount: int) -> dict[str, Any]:
        with self._lock:
            charge = self.charges[payment_intent]
            if charge["amount_refunded"] + amount > charge["amount"]:
                raise ValueError("refund larger than the charge")
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            return dict(charge)

    def event(
        self, event_type: str, obj: dict[str, Any], *, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook delivery of `obj` as `event_type`, signed at `timestamp` (default now)."""
        body = json.dumps(
            {
                "id": stripe_id("evt"),
                "object": "event",
                "api_version": self.versions[-1] if self.versions else None,
                "created": int(time.time()),
                "data": {"object": obj},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": event_type,
            },
            indent=2,
        ).encode()
        return body, {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": self.signature(body, timestamp=timestamp),
        }

    def signature(self, body: bytes, *, timestamp: int | None = None) -> str:
        stamp = int(time.time()) if timestamp is None else timestamp
        signed = f"{stamp}.".encode() + body
        digest = hmac.new(self.webhook_secret.encode(), signed, hashlib.sha256).hexdigest()
        return f"t={stamp},v1={digest}"


def _check_session(data: dict[str, Any]) -> JSONResponse | None:
    for name in data:
        if name not in SESSION_FIELDS:
            return stripe_error(
                400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )
    mode = data.get("mode")
    if mode is None:
        return stripe_error(
            400, "Missing required param: mode.", code="parameter_missing", param="mode"
        )
    if mode != "payment":
        return stripe_error(400, f"Invalid mode: {mode}", code="parameter_invalid", param="mode")
    if "success_url" not in data:
        return stripe_error(
            400,
            "Missing required param: success_url.",
            code="parameter_missing",
            param="success_url",
        )
    items = data.get("line_items")
    if not isinstance(items, list) or not items:
        return stripe_error(
            400,
            "You must specify `line_items` in `payment` mode.",
            code="parameter_missing",
            param="line_items",
        )
    currencies = set()
    for index, item in enumerate(items):
        price = item.get("price_data") if isinstance(item, dict) else None
        param = f"line_items[{index}][price_data]"
        if not isinstance(price, dict):
            return stripe_error(400, f"Missing required param: {param}.", param=param)
        unit_amount = price.get("unit_amount", "")
        if not unit_amount.isdigit():
            return stripe_error(
                400, "Invalid integer: " + unit_amount, param=f"{param}[unit_amount]"
            )
        currency = price.get("currency", "")
        if currency not in MIN_CHARGE:
            return stripe_error(400, f"Invalid currency: {currency}.", param=f"{param}[currency]")
        currencies.add(currency)
        if not isinstance(price.get("product_data"), dict) or not price["product_data"].get("name"):
            return stripe_error(
                400,
                f"Missing required param: {param}[product_data][name].",
                param=f"{param}[product_data][name]",
            )
    if len(currencies) > 1:
        return stripe_error(400, "All line items must use the same currency.")
    return None


def create_stripe_app(handle: StripeServerHandle) -> Starlette:
    def guard(request: Request) -> Response | None:
        with handle._lock:
            status, handle.fail_next = handle.fail_next, None
        if status is not None:
            return stripe_error(status, "An unknown error occurred", error_type="api_error")
        header = request.headers.get("authorization", "")
        if not header:
            return stripe_error(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth.",
            )
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(key, handle.secret_key):
            return stripe_error(401, f"Invalid API Key provided: {key[:8]}****{key[-4:]}")
        version = request.headers.get("stripe-version", "")
        if version and not API_VERSION.match(version):
            return stripe_error(400, f"Invalid Stripe API version: {version}")
        with handle._lock:
            handle.versions.append(version)
        return None

    async def create_session(request: Request) -> Response:
        refused = guard(request)
        if refused is not None:
            return refused
        content_type = request.headers.get("content-type", "").split(";")[0]
        if content_type != "application/x-www-form-urlencoded":
            return stripe_error(400, "Invalid request: expected form-encoded parameters.")
        raw = (await request.body()).decode()
        data = decode_form(parse_qsl(raw, keep_blank_values=True))
        key = request.headers.get("idempotency-key")
        if key is not None:
            with handle._lock:
                seen = handle.idempotent.get(key)
            if seen is not None:
                if seen[0] != raw:
                    return stripe_error(
                        400,
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with.",
                        error_type="idempotency_error",
                    )
                return JSONResponse(seen[1], headers={"Idempotent-Replayed": "true"})
        refused = _check_session(data)
        if refused is not None:
            return refused
        items = data["line_items"]
        total = sum(
            int(item["price_data"]["unit_amount"]) * int(item.get("quantity", "1"))
            for item in items
        )
        currency = items[0]["price_data"]["currency"]
        if total < MIN_CHARGE[currency]:
            return stripe_error(
                400,
                "The Checkout Session's total amount due must add up to at least the minimum "
                "charge amount.",
                code="amount_too_small",
            )
        session_id = stripe_id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": data.get("cancel_url"),
            "client_reference_id": data.get("client_reference_id"),
            "created": int(time.time()),
            "currency": currency,
            "customer_email": data.get("customer_email"),
            "expires_at": int(time.time()) + 86400,
            "livemode": False,
            "metadata": data.get("metadata", {}),
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": data["success_url"],
            "url": f"{handle.url}/c/pay/{session_id}",
        }
        with handle._lock:
            handle.sessions[session_id] = session
            if key is not None:
                handle.idempotent[key] = (raw, session)
        return JSONResponse(session)

    async def retrieve_session(request: Request) -> Response:
        refused = guard(request)
        if refused is not None:
            return refused
        session_id = request.path_params["session_id"]
        with handle._lock:
            session = handle.sessions.get(session_id)
        if session is None:
            return stripe_error(
                404,
                f"No such checkout.session: '{session_id}'",
                code="resource_missing",
                param="session",
            )
        return JSONResponse(session)

    return Starlette(
        routes=[
            Route("/v1/checkout/sessions", create_session, methods=["POST"]),
            Route("/v1/checkout/sessions/{session_id}", retrieve_session, methods=["GET"]),
        ]
    )


@contextmanager
def stripe_server(secret_key: str, webhook_secret: str) -> Iterator[StripeServerHandle]:
    handle = StripeServerHandle(secret_key, webhook_secret)
    with serve(create_stripe_app(handle), "stripe") as url:
        handle.url = url
        yield handle


__all__ = ["StripeServerHandle", "decode_form", "stripe_server"]
