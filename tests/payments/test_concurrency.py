"""Credits arrive once per payment under concurrency: verify racing webhooks, repeated
deliveries at the same moment, and purchases from two tabs. The balance equals the ledger."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from tests.factories import API, TestUser, balance
from tests.payments.conftest import assert_balance_is_ledger, payment_references, purchase
from tests.support.razorpay_server import RazorpayServerHandle
from tests.support.stripe_server import StripeServerHandle


class TestExactlyOnce:
    async def test_verify_and_webhooks_racing_for_one_payment(
        self, client: httpx.AsyncClient, user: TestUser, razorpay: RazorpayServerHandle
    ) -> None:
        before = await balance(client, user)
        order = await purchase(client, user, "starter", provider="razorpay")
        paid = razorpay.pay(order["checkout"]["razorpay_order_id"])
        verify = {
            "order_id": order["order_id"],
            "razorpay_order_id": paid.razorpay_order_id,
            "razorpay_payment_id": paid.razorpay_payment_id,
            "razorpay_signature": paid.razorpay_signature,
        }
        captured, captured_headers = razorpay.webhook("payment.captured", paid.razorpay_payment_id)
        order_paid, order_paid_headers = razorpay.webhook("order.paid", paid.razorpay_payment_id)

        responses = await asyncio.gather(
            client.post(f"{API}/credits/verify", json=verify, headers=user.headers),
            client.post(f"{API}/webhooks/razorpay", content=captured, headers=captured_headers),
            client.post(f"{API}/webhooks/razorpay", content=order_paid, headers=order_paid_headers),
            client.post(f"{API}/credits/verify", json=verify, headers=user.headers),
        )

        assert [response.status_code for response in responses] == [200, 200, 200, 200]
        assert responses[0].json()["status"] == "paid"
        assert await assert_balance_is_ledger(client, user) == before + 50
        assert await payment_references(client, user) == [
            f"payment:razorpay:{paid.razorpay_payment_id}"
        ]

    async def test_twenty_deliveries_of_one_webhook_at_once(
        self, client: httpx.AsyncClient, user: TestUser, stripe_api: StripeServerHandle
    ) -> None:
        before = await balance(client, user)
        order = await purchase(client, user, "studio", provider="stripe")
        session = stripe_api.complete(order["checkout"]["url"].rsplit("/", 1)[1])
        body, headers = stripe_api.event("checkout.session.completed", session)

        responses = await asyncio.gather(
            *(
                client.post(f"{API}/webhooks/stripe", content=body, headers=headers)
                for _ in range(20)
            )
        )

        assert {response.status_code for response in responses} == {200}
        assert await assert_balance_is_ledger(client, user) == before + 500
        assert len(await payment_references(client, user)) == 1

    async def test_purchases_from_two_tabs_each_pay_once(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ) -> None:
        before = await balance(client, user)
        first, second = await asyncio.gather(
            purchase(client, user, "starter"), purchase(client, user, "creator")
        )
        assert first["order_id"] != second["order_id"]

        # Both tabs press Pay, twice each, at the same moment.
        pays = [
            client.post(f"{API}/payments/test/{order['order_id']}/pay")
            for order in (first, second, first, second)
        ]
        responses = await asyncio.gather(*pays)

        assert {response.status_code for response in responses} == {303}
        assert await assert_balance_is_ledger(client, user) == before + 50 + 150
        assert len(await payment_references(client, user)) == 2

    async def test_two_tabs_with_one_idempotency_key_make_one_order(
        self, client: httpx.AsyncClient, user: TestUser
    ) -> None:
        key = {"Idempotency-Key": "same-click"}
        body = {"package_id": "starter", "provider": "test"}
        responses = await asyncio.gather(
            *(
                client.post(f"{API}/credits/purchase", json=body, headers={**user.headers, **key})
                for _ in range(2)
            )
        )

        statuses = sorted(response.status_code for response in responses)
        assert statuses in ([201, 201], [201, 409])
        created = {r.json()["order_id"] for r in responses if r.status_code == 201}
        assert len(created) == 1
        orders = await client.get(f"{API}/credits/orders?include_total=true", headers=user.headers)
        assert orders.json()["total"] == 1
