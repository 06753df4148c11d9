"""Stripe end to end: Checkout Sessions through StripeClient, signed webhooks and refunds."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import http_client, make_settings, running_app
from tests.factories import API, TestUser, balance, create_user
from tests.payments.conftest import (
    assert_balance_is_ledger,
    payment_references,
    payment_settings,
    purchase,
    stored_payment,
)
from tests.support.razorpay_server import RazorpayServerHandle
from tests.support.stripe_server import StripeServerHandle


async def stripe_order(client: httpx.AsyncClient, user: TestUser) -> dict[str, Any]:
    return await purchase(client, user, "starter", provider="stripe")


def session_id(handle: StripeServerHandle, order: dict[str, Any]) -> str:
    url: str = order["checkout"]["url"]
    return url.rsplit("/", 1)[1]


async def send(client: httpx.AsyncClient, delivery: tuple[bytes, dict[str, str]]) -> httpx.Response:
    body, headers = delivery
    return await client.post(f"{API}/webhooks/stripe", content=body, headers=headers)


class TestCheckoutSession:
    async def test_purchase_opens_a_checkout_session(
        self, client: httpx.AsyncClient, user: TestUser, stripe_api: StripeServerHandle
    ) -> None:
        order = await stripe_order(client, user)

        url = order["checkout"]["url"]
        assert url.startswith(f"{stripe_api.url}/c/pay/cs_test_")
        session = stripe_api.sessions[session_id(stripe_api, order)]
        assert session["amount_total"] == 19900
        assert session["currency"] == "inr"
        assert session["client_reference_id"] == order["order_id"]
        assert session["metadata"] == {"order_id": order["order_id"], "package": "starter"}
        assert session["customer_email"] == user.email
        assert session["success_url"] == (
            f"http://frontend.test/credits?payment=success&order_id={order['order_id']}"
        )
        # The SDK pins its API version on every request.
        assert stripe_api.versions[-1].startswith("20")

    async def test_a_wrong_secret_key_is_a_provider_error_and_records_nothing(
        self,
        database_url: str,
        tmp_path: Path,
        razorpay: RazorpayServerHandle,
        stripe_api: StripeServerHandle,
    ) -> None:
        settings = make_settings(
            database_url=database_url,
            data_dir=tmp_path / "data",
            **payment_settings(razorpay, stripe_api, stripe_secret_key="sk_test_wrong_key_0000"),
        )
        async with running_app(settings) as application, http_client(application) as client:
            person = await create_user(application)
            refused = await purchase(client, person, provider="stripe", expect=503)
            assert refused["code"] == "payment_provider_error"
            orders = await client.get(
                f"{API}/credits/orders?include_total=true", headers=person.headers
            )
            assert orders.json()["total"] == 0


class TestWebhooks:
    async def test_checkout_session_completed_grants_once(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        user: TestUser,
        stripe_api: StripeServerHandle,
    ) -> None:
        before = await balance(client, user)
        order = await stripe_order(client, user)
        session = stripe_api.complete(session_id(stripe_api, order))
        delivery = stripe_api.event("checkout.session.completed", session)

        for _ in range(3):  # Stripe redelivers until it sees a 2xx
            response = await send(client, delivery)
            assert response.status_code == 200
            assert response.json() == {"received": True}

        assert await assert_balance_is_ledger(client, user) == before + 50
        assert await payment_references(client, user) == [
            f"payment:stripe:{session['payment_intent']}"
        ]
        stored = await stored_payment(app, order["order_id"])
        assert stored.status == "paid"
        assert stored.provider_payment_id == session["payment_intent"]

    async def test_a_delayed_payment_grants_when_it_succeeds(
        self, client: httpx.AsyncClient, user: TestUser, stripe_api: StripeServerHandle
    ) -> None:
        before = await balance(client, user)
        order = await stripe_order(client, user)
        waiting = stripe_api.complete(session_id(stripe_api, order), payment_status="unpaid")

        assert (
            await send(client, stripe_api.event("checkout.session.completed", waiting))
        ).status_code == 200
        assert await balance(client, user) == before

        succeeded = {**waiting, "payment_status": "paid"}
        delivery = stripe_api.event("checkout.session.async_payment_succeeded", succeeded)
        assert (await send(client, delivery)).status_code == 200
        assert await balance(client, user) == before + 50

    async def test_stale_unsigned_and_tampered_events_are_400(
        self, client: httpx.AsyncClient, user: TestUser, stripe_api: StripeServerHandle
    ) -> None:
        before = await balance(client, user)
        order = await stripe_order(client, user)
        session = stripe_api.complete(session_id(stripe_api, order))
        stale = stripe_api.event(
            "checkout.session.completed", session, timestamp=int(time.time()) - 301
        )
        body, headers = stripe_api.event("checkout.session.completed", session)

        responses = [
            await send(client, stale),
            await client.post(f"{API}/webhooks/stripe", content=body),
            await client.post(
                f"{API}/webhooks/stripe",
                content=body.replace(b'"amount_total": 19900', b'"amount_total": 100'),
                headers=headers,
            ),
            await client.post(
                f"{API}/webhooks/stripe",
                content=body,
                headers={"Stripe-Signature": "t=notanumber,v1=abc"},
            ),
        ]

        for response in responses:
            assert response.status_code == 400
            assert response.json()["code"] == "invalid_signature"
        assert await balance(client, user) == before
        # A signature made just inside the tolerance still verifies.
        fresh = stripe_api.event(
            "checkout.session.completed", session, timestamp=int(time.time()) - 240
        )
        assert (await send(client, fresh)).status_code == 200
        assert await balance(client, user) == before + 50

    async def test_an_amount_or_currency_mismatch_grants_nothing(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        user: TestUser,
        stripe_api: StripeServerHandle,
    ) -> None:
        before = await balance(client, user)
        cheap = await stripe_order(client, user)
        foreign = await stripe_order(client, user)
        cheap_session = stripe_api.complete(session_id(stripe_api, cheap), amount=500)
        usd_session = stripe_api.complete(session_id(stripe_api, foreign), currency="usd")

        for session in (cheap_session, usd_session):
            response = await send(client, stripe_api.event("checkout.session.completed", session))
            assert response.status_code == 200

        assert await balance(client, user) == before
        for order in (cheap, foreign):
            stored = await stored_payment(app, order["order_id"])
            assert stored.status == "created"
            assert stored.mismatch is not None

    async def test_expired_sessions_fail_and_unknown_events_are_accepted(
        self, client: httpx.AsyncClient, user: TestUser, stripe_api: StripeServerHandle
    ) -> None:
        order = await stripe_order(client, user)
        session = stripe_api.sessions[session_id(stripe_api, order)]
        expired = await send(
            client, stripe_api.event("checkout.session.expired", {**session, "status": "expired"})
        )
        other = await send(
            client, stripe_api.event("customer.created", {"id": "cus_1", "object": "customer"})
        )
        unknown = await send(
            client,
            stripe_api.event(
                "checkout.session.completed",
                {
                    **session,
                    "id": "cs_test_unknown",
                    "payment_status": "paid",
                    "payment_intent": "pi_x",
                },
            ),
        )

        assert [expired.status_code, other.status_code, unknown.status_code] == [200, 200, 200]
        shown = await client.get(f"{API}/credits/orders/{order['order_id']}", headers=user.headers)
        assert shown.json()["status"] == "failed"


class TestRefunds:
    async def test_charge_refunded_takes_back_the_share_once(
        self, client: httpx.AsyncClient, user: TestUser, stripe_api: StripeServerHandle
    ) -> None:
        before = await balance(client, user)
        order = await stripe_order(client, user)
        session = stripe_api.complete(session_id(stripe_api, order))
        await send(client, stripe_api.event("checkout.session.completed", session))

        charge = stripe_api.refund(session["payment_intent"], 19900 * 2 // 5)
        delivery = stripe_api.event("charge.refunded", charge)
        assert (await send(client, delivery)).status_code == 200
        assert (await send(client, delivery)).status_code == 200

        assert await assert_balance_is_ledger(client, user) == before + 50 - 20
        shown = await client.get(f"{API}/credits/orders/{order['order_id']}", headers=user.headers)
        assert shown.json()["status"] == "partially_refunded"

        charge = stripe_api.refund(session["payment_intent"], 19900 - 19900 * 2 // 5)
        assert (await send(client, stripe_api.event("charge.refunded", charge))).status_code == 200
        assert await assert_balance_is_ledger(client, user) == before
        shown = await client.get(f"{API}/credits/orders/{order['order_id']}", headers=user.headers)
        assert shown.json()["status"] == "refunded"
