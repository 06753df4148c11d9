"""The local Razorpay and Stripe servers refuse what the real APIs refuse, driven by the SDKs."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import pytest
import razorpay
import razorpay.errors
import stripe

from tests.support.razorpay_server import RazorpayServerHandle, razorpay_server
from tests.support.stripe_server import StripeServerHandle, stripe_server

KEY_ID = "rzp_test_ServerTests01"
KEY_SECRET = "razorpay-secret-for-server-tests"
WEBHOOK_SECRET = "razorpay-webhook-for-server-tests"
STRIPE_KEY = "sk_test_server_tests_000000"
STRIPE_WEBHOOK_SECRET = "whsec_server_tests"


@pytest.fixture(scope="module")
def razorpay_api() -> Iterator[RazorpayServerHandle]:
    with razorpay_server(KEY_ID, KEY_SECRET, WEBHOOK_SECRET) as handle:
        yield handle


@pytest.fixture(scope="module")
def stripe_api() -> Iterator[StripeServerHandle]:
    with stripe_server(STRIPE_KEY, STRIPE_WEBHOOK_SECRET) as handle:
        yield handle


def razorpay_client(handle: RazorpayServerHandle, secret: str = KEY_SECRET) -> razorpay.Client:
    return razorpay.Client(auth=(KEY_ID, secret), base_url=handle.url)


async def stripe_client(handle: StripeServerHandle, key: str = STRIPE_KEY) -> stripe.StripeClient:
    return stripe.StripeClient(
        key,
        base_addresses={"api": handle.url},
        http_client=stripe.HTTPXClient(),
        max_network_retries=0,
    )


def session_params(**overrides: object) -> Any:
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "inr",
                    "unit_amount": 19900,
                    "product_data": {"name": "Starter: 50 credits"},
                },
            }
        ],
        "success_url": "http://frontend.test/ok",
        "metadata": {"order_id": "o-1"},
    }
    params.update(overrides)
    return params


class TestRazorpayServer:
    def test_orders_and_payments_round_trip_through_the_sdk(
        self, razorpay_api: RazorpayServerHandle
    ) -> None:
        client = razorpay_client(razorpay_api)
        order = client.order.create({"amount": 19900, "currency": "INR", "receipt": "r-1"})
        assert order["id"].startswith("order_")
        assert order["status"] == "created"
        assert client.order.fetch(order["id"])["amount_due"] == 19900

        paid = razorpay_api.pay(order["id"])
        payment = client.payment.fetch(paid.razorpay_payment_id)
        assert payment["status"] == "captured"
        assert payment["order_id"] == order["id"]
        assert client.utility.verify_payment_signature(
            {
                "razorpay_order_id": paid.razorpay_order_id,
                "razorpay_payment_id": paid.razorpay_payment_id,
                "razorpay_signature": paid.razorpay_signature,
            }
        )
        body, headers = razorpay_api.webhook("payment.captured", paid.razorpay_payment_id)
        assert client.utility.verify_webhook_signature(
            body.decode(), headers["X-Razorpay-Signature"], WEBHOOK_SECRET
        )

    def test_bad_credentials_are_refused(self, razorpay_api: RazorpayServerHandle) -> None:
        client = razorpay_client(razorpay_api, secret="wrong")
        with pytest.raises(razorpay.errors.BadRequestError, match="Authentication failed"):
            client.order.create({"amount": 19900, "currency": "INR"})

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"currency": "INR"}, "amount field is required"),
            ({"amount": 19900}, "currency field is required"),
            ({"amount": 99, "currency": "INR"}, "atleast INR 1.00"),
            ({"amount": "199.00", "currency": "INR"}, "must be an integer"),
            ({"amount": 19900, "currency": "XYZ"}, "currency is invalid"),
            ({"amount": 19900, "currency": "INR", "receipt": "r" * 41}, "40 characters"),
            ({"amount": 19900, "currency": "INR", "colour": "red"}, "should not be sent"),
        ],
    )
    def test_invalid_orders_are_refused(
        self, razorpay_api: RazorpayServerHandle, data: dict[str, object], message: str
    ) -> None:
        with pytest.raises(razorpay.errors.BadRequestError, match=message):
            razorpay_client(razorpay_api).order.create(data)

    def test_unknown_ids_are_refused(self, razorpay_api: RazorpayServerHandle) -> None:
        with pytest.raises(razorpay.errors.BadRequestError, match="does not exist"):
            razorpay_client(razorpay_api).payment.fetch("pay_Missing0000000")

    def test_server_errors_reach_the_sdk_as_server_errors(
        self, razorpay_api: RazorpayServerHandle
    ) -> None:
        razorpay_api.fail_next = 502
        with pytest.raises(razorpay.errors.ServerError):
            razorpay_client(razorpay_api).order.create({"amount": 19900, "currency": "INR"})


class TestStripeServer:
    async def test_sessions_round_trip_through_the_sdk(
        self, stripe_api: StripeServerHandle
    ) -> None:
        client = await stripe_client(stripe_api)
        session = await client.v1.checkout.sessions.create_async(session_params())
        assert session.id.startswith("cs_test_")
        assert session.amount_total == 19900
        assert session.metadata is not None
        assert session.metadata.to_dict() == {"order_id": "o-1"}
        fetched = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert fetched.url == session.url
        assert stripe_api.versions[-1] == stripe.api_version

    async def test_a_wrong_key_is_an_authentication_error(
        self, stripe_api: StripeServerHandle
    ) -> None:
        client = await stripe_client(stripe_api, key="sk_test_not_the_key")
        with pytest.raises(stripe.AuthenticationError, match="Invalid API Key"):
            await client.v1.checkout.sessions.create_async(session_params())

    @pytest.mark.parametrize(
        ("params", "message"),
        [
            (session_params(mode=None), "Missing required param: mode"),
            (session_params(line_items=None), "line_items"),
            (session_params(success_url=None), "Missing required param: success_url"),
            (session_params(colour="red"), "Received unknown parameter: colour"),
            (
                session_params(
                    line_items=[
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": "inr",
                                "unit_amount": 10,
                                "product_data": {"name": "x"},
                            },
                        }
                    ]
                ),
                "minimum charge amount",
            ),
        ],
    )
    async def test_invalid_sessions_are_refused(
        self, stripe_api: StripeServerHandle, params: dict[str, Any], message: str
    ) -> None:
        cleaned = {key: value for key, value in params.items() if value is not None}
        client = await stripe_client(stripe_api)
        with pytest.raises(stripe.InvalidRequestError, match=message):
            await client.v1.checkout.sessions.create_async(cleaned)  # type: ignore[arg-type]

    async def test_an_idempotency_key_replays_and_refuses_other_parameters(
        self, stripe_api: StripeServerHandle
    ) -> None:
        client = await stripe_client(stripe_api)
        options: stripe.RequestOptions = {"idempotency_key": "checkout-o-2"}
        first = await client.v1.checkout.sessions.create_async(session_params(), options)
        again = await client.v1.checkout.sessions.create_async(session_params(), options)
        assert again.id == first.id
        with pytest.raises(stripe.IdempotencyError):
            await client.v1.checkout.sessions.create_async(
                session_params(client_reference_id="other"), options
            )

    async def test_unknown_sessions_are_404(self, stripe_api: StripeServerHandle) -> None:
        client = await stripe_client(stripe_api)
        with pytest.raises(stripe.InvalidRequestError, match="No such checkout.session"):
            await client.v1.checkout.sessions.retrieve_async("cs_test_missing")

    def test_events_are_signed_as_stripe_signs_them(self, stripe_api: StripeServerHandle) -> None:
        body, headers = stripe_api.event("checkout.session.completed", {"id": "cs_test_1"})
        signature = headers["Stripe-Signature"]
        stamp, v1 = (part.split("=", 1)[1] for part in signature.split(","))
        expected = hmac.new(
            STRIPE_WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256
        ).hexdigest()
        assert v1 == expected
        event = stripe.Webhook.construct_event(body, signature, STRIPE_WEBHOOK_SECRET)
        assert event.type == "checkout.session.completed"
        old = stripe_api.signature(body, timestamp=int(time.time()) - 600)
        with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
            stripe.Webhook.construct_event(body, old, STRIPE_WEBHOOK_SECRET)
