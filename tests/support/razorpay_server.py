"""A local server speaking Razorpay's Orders and Payments API, for driving the real SDK in tests.

Like the real API it takes HTTP basic auth (key id, key secret) and JSON bodies, and answers
errors as `{"error": {"code", "description", "source", "step", "reason", "metadata", "field"}}`.
The handle also plays the buyer and Razorpay's side: paying an order (with the Checkout.js
signature), refunding, and webhook bodies signed as Razorpay signs them (hex HMAC-SHA256 of
the raw body with the webhook secret).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import string
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.wire import serve

# Currencies Razorpay settles and the smallest amount an order may ask for (1.00 of the unit).
CURRENCIES = {"INR", "USD", "EUR", "GBP", "SGD", "AED", "AUD", "CAD"}
MIN_AMOUNT = 100
ORDER_FIELDS = {"amount", "currency", "receipt", "notes", "partial_payment", "offer_id"}
MAX_RECEIPT = 40
MAX_NOTES = 15
MAX_NOTE_LENGTH = 256


def razorpay_id(prefix: str) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "_" + "".join(secrets.choice(alphabet) for _ in range(14))


def hex_hmac(secret: str, message: str | bytes) -> str:
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def _error(status: int, description: str, field: str | None = None) -> JSONResponse:
    code = "SERVER_ERROR" if status >= 500 else "BAD_REQUEST_ERROR"
    body: dict[str, Any] = {
        "code": code,
        "description": description,
        "source": "NA",
        "step": "NA",
        "reason": "NA",
        "metadata": {},
    }
    if field is not None:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status)


@dataclass(frozen=True, slots=True)
class CheckoutResult:
    """What Checkout.js hands the frontend after a successful payment."""

    razorpay_order_id: str
    razorpay_payment_id: str
    razorpay_signature: str


class RazorpayServerHandle:
    def __init__(self, key_id: str, key_secret: str, webhook_secret: str) -> None:
        self.key_id = key_id
        self.key_secret = key_secret
        self.webhook_secret = webhook_secret
        self.url = ""
        self._lock = threading.Lock()
        self.orders: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail_next: int | None = None  # status to answer the next API call with

    # The buyer's and Razorpay's side ---------------------------------------------------------

    def pay(
        self,
        order_id: str,
        *,
        amount: int | None = None,
        currency: str | None = None,
        capture: bool = True,
    ) -> CheckoutResult:
        """Pay an order as Checkout.js would; `amount`/`currency` forge a payment that differs."""
        with self._lock:
            order = self.orders[order_id]
            payment_id = razorpay_id("pay")
            paid = order["amount"] if amount is None else amount
            self.payments[payment_id] = {
                "id": payment_id,
                "entity": "payment",
                "amount": paid,
                "currency": currency or order["currency"],
                "status": "captured" if capture else "authorized",
                "order_id": order_id,
                "invoice_id": None,
                "international": False,
                "method": "card",
                "amount_refunded": 0,
                "refund_status": None,
                "captured": capture,
                "description": None,
                "email": "buyer@example.com",
                "contact": "+919000090000",
                "notes": order["notes"],
                "fee": None,
                "tax": None,
                "error_code": None,
                "error_description": None,
                "created_at": int(time.time()),
            }
            if capture:
                order.update(status="paid", amount_paid=paid, amount_due=0)
            order["attempts"] += 1
        signature = hex_hmac(self.key_secret, f"{order_id}|{payment_id}")
        return CheckoutResult(order_id, payment_id, signature)

    def refund(self, payment_id: str, amount: int) -> dict[str, Any]:
        with self._lock:
            payment = self.payments[payment_id]
            if payment["amount_refunded"] + amount > payment["amount"]:
                raise ValueError("refund larger than the payment")
            refund = {
                "id": razorpay_id("rfnd"),
                "entity": "refund",
                "amount": amount,
                "currency": payment["currency"],
                "payment_id": payment_id,
                "notes": {},
                "receipt": None,
                "status": "processed",
                "speed_processed": "normal",
                "created_at": int(time.time()),
            }
            self.refunds[refund["id"]] = refund
            payment["amount_refunded"] += amount
            full = payment["amount_refunded"] == payment["amount"]
            payment["refund_status"] = "full" if full else "partial"
            if full:
                payment["status"] = "refunded"
            return dict(refund)

    def webhook(
        self, event: str, payment_id: str, *, refund_id: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook delivery: the raw body and its headers, signed with the webhook secret."""
        with self._lock:
            payment = dict(self.payments[payment_id])
            payload: dict[str, Any] = {"payment": {"entity": payment}}
            if event == "order.paid":
                payload["order"] = {"entity": dict(self.orders[payment["order_id"]])}
            if refund_id is not None:
                payload = {"refund": {"entity": dict(self.refunds[refund_id])}, **payload}
        body = json.dumps(
            {
                "entity": "event",
                "account_id": "acc_" + "T" * 14,
                "event": event,
                "contains": list(payload),
                "payload": payload,
                "created_at": int(time.time()),
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Razorpay-Signature": hex_hmac(self.webhook_secret, body),
            "X-Razorpay-Event-Id": razorpay_id("evt"),
        }
        return body, headers

    # Helpers for the routes -------------------------------------------------------------------

    def authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            key_id, _, key_secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(key_id, self.key_id) and hmac.compare_digest(
            key_secret, self.key_secret
        )


def _check_order(data: object) -> tuple[str, str] | None:
    """The first reason Razorpay would refuse this order, as (description, field)."""
    if not isinstance(data, dict):
        return ("The request body must be a JSON object", "")
    for name in data:
        if name not in ORDER_FIELDS:
            return (f"{name} is/are not required and should not be sent", name)
    amount = data.get("amount")
    if amount is None:
        return ("The amount field is required.", "amount")
    if not isinstance(amount, int) or isinstance(amount, bool):
        return ("The amount must be an integer.", "amount")
    currency = data.get("currency")
    if currency is None:
        return ("The currency field is required.", "currency")
    if currency not in CURRENCIES:
        return ("The currency is invalid.", "currency")
    if amount < MIN_AMOUNT:
        return (f"The amount must be atleast {currency} 1.00", "amount")
    receipt = data.get("receipt")
    if receipt is not None and (not isinstance(receipt, str) or len(receipt) > MAX_RECEIPT):
        return ("The receipt may not be greater than 40 characters.", "receipt")
    notes = data.get("notes", {})
    if not isinstance(notes, dict) or len(notes) > MAX_NOTES:
        return ("The notes may not have more than 15 items.", "notes")
    for value in notes.values():
        if not isinstance(value, str) or len(value) > MAX_NOTE_LENGTH:
            return ("The notes value may not be greater than 256 characters.", "notes")
    return None


def create_razorpay_app(handle: RazorpayServerHandle) -> Starlette:
    def guard(request: Request) -> Response | None:
        with handle._lock:
            handle.requests.append((request.method, request.url.path))
            status, handle.fail_next = handle.fail_next, None
        if status is not None:
            return _error(status, "We are facing some trouble completing your request")
        if not handle.authorized(request):
            return _error(401, "Authentication failed")
        return None

    async def create_order(request: Request) -> Response:
        refused = guard(request)
        if refused is not None:
            return refused
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            return _error(400, "The request body must be JSON")
        try:
            data = json.loads(await request.body())
        except ValueError:
            return _error(400, "The request body is not valid JSON")
        problem = _check_order(data)
        if problem is not None:
            return _error(400, problem[0], problem[1] or None)
        order = {
            "id": razorpay_id("order"),
            "entity": "order",
            "amount": data["amount"],
            "amount_paid": 0,
            "amount_due": data["amount"],
            "currency": data["currency"],
            "receipt": data.get("receipt"),
            "offer_id": None,
            "status": "created",
            "attempts": 0,
            "notes": data.get("notes", {}),
            "created_at": int(time.time()),
        }
        with handle._lock:
            handle.orders[order["id"]] = order
        return JSONResponse(order)

    async def fetch_order(request: Request) -> Response:
        refused = guard(request)
        if refused is not None:
            return refused
        with handle._lock:
            order = handle.orders.get(request.path_params["order_id"])
        if order is None:
            return _error(400, "The id provided does not exist")
        return JSONResponse(order)

    async def fetch_payment(request: Request) -> Response:
        refused = guard(request)
        if refused is not None:
            return refused
        with handle._lock:
            payment = handle.payments.get(request.path_params["payment_id"])
        if payment is None:
            return _error(400, "The id provided does not exist")
        return JSONResponse(payment)

    return Starlette(
        routes=[
            Route("/v1/orders", create_order, methods=["POST"]),
            Route("/v1/orders/{order_id}", fetch_order, methods=["GET"]),
            Route("/v1/payments/{payment_id}", fetch_payment, methods=["GET"]),
        ]
    )


@contextmanager
def razorpay_server(
    key_id: str, key_secret: str, webhook_secret: str
) -> Iterator[RazorpayServerHandle]:
    handle = RazorpayServerHandle(key_id, key_secret, webhook_secret)
    with serve(create_razorpay_app(handle), "razorpay") as url:
        handle.url = url
        yield handle


__all__ = ["CheckoutResult", "RazorpayServerHandle", "hex_hmac", "razorpay_server"]
