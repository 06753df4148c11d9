"""Razorpay end to end: orders through the real SDK, Checkout.js verify, webhooks and refunds."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from app.credits.service import CreditReason, apply_credit_change
from tests.conftest import http_client, make_settings, running_app
from tests.factories import API, TestUser, balance
from tests.payments.conftest import (
    RAZORPAY_KEY_ID,
    RAZORPAY_KEY_SECRET,
    assert_balance_is_ledger,
    payment_references,
    purchase,
    stored_payment,
)
from tests.support.razorpay_server import CheckoutResult, RazorpayServerHandle, hex_hmac

MISSING = "00000000-0000-4000-8000-000000000000"


def verify_body(order_id: str, paid: CheckoutResult) -> dict[str, str]:
    return {
        "order_id": order_id,
        "razorpay_order_id": paid.razorpay_order_id,
        "razorpay_payment_id": paid.razorpay_payment_id,
        "razorpay_signature": paid.razorpay_signature,
    }


async def send_webhook(
    client: httpx.AsyncClient, delivery: tuple[bytes, dict[str, str]]
) -> httpx.Response:
    body, headers = delivery
    return await client.post(f"{API}/webhooks/razorpay", content=body, headers=headers)


async def razorpay_order(client: httpx.AsyncClient, user: TestUser) -> dict[str, Any]:
    return await purchase(client, user, "starter", provider="razorpay")


class TestCheckout:
    async def test_purchase_opens_a_razorpay_order_for_checkout_js(
        self, client: httpx.AsyncClient, user: TestUser, razorpay: RazorpayServerHandle
    ) -> None:
        order = await razorpay_order(client, user)

        checkout = order["checkout"]
        assert isinstance(checkout, dict)
        assert checkout["key_id"] == RAZORPAY_KEY_ID
        remote = razorpay.orders[checkout["razorpay_order_id"]]
        assert remote["amount"] == 19900
        assert remote["currency"] == "INR"
        assert remote["receipt"] == order["order_id"]
        assert remote["notes"]["order_id"] == order["order_id"]

    async def test_verify_adds_the_credits_after_confirming_the_capture(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        user: TestUser,
        razorpay: RazorpayServerHandle,
    ) -> None:
        before = await balance(client, user)
        order = await razorpay_order(client, user)
        paid = razorpay.pay(order["checkout"]["razorpay_order_id"])

        response = await client.post(
            f"{API}/credits/verify",
            json=verify_body(str(order["order_id"]), paid),
            headers=user.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json() == {
            "order_id": order["order_id"],
            "status": "paid",
            "credits_added": 50,
            "balance": before + 50,
        }
        assert ("GET", f"/v1/payments/{paid.razorpay_payment_id}") in razorpay.requests
        assert await payment_references(client, user) == [
            f"payment:razorpay:{paid.razorpay_payment_id}"
        ]
        # The webhook that follows finds the payment applied.
        late = await send_webhook(
            client, razorpay.webhook("payment.captured", paid.razorpay_payment_id)
        )
        assert late.status_code == 200
        assert await assert_balance_is_ledger(client, user) == before + 50

    async def test_a_tampered_signature_is_400_and_changes_nothing(
        self, client: httpx.AsyncClient, user: TestUser, razorpay: RazorpayServerHandle
    ) -> None:
        before = await balance(client, user)
        order = await razorpay_order(client, user)
        paid = razorpay.pay(order["checkout"]["razorpay_order_id"])
        body = verify_body(str(order["order_id"]), paid)
        body["razorpay_signature"] = "0" * 64

        response = await client.post(f"{API}/credits/verify", json=body, headers=user.headers)

        assert response.status_code == 400
        assert response.json()["code"] == "invalid_signature"
        assert await balance(client, user) == before
        shown = await client.get(f"{API}/credits/orders/{order['order_id']}", headers=user.headers)
        assert shown.json()["status"] == "created"

    async def test_a_signature_alone_is_not_proof_of_capture(
        self, client: httpx.AsyncClient, user: TestUser, razorpay: RazorpayServerHandle
    ) -> None:
        before = await balance(client, user)
        order = await razorpay_order(client, user)
        paid = razorpay.pay(order["checkout"]["razorpay_order_id"], capture=False)

        response = await client.post(
            f"{API}/credits/verify",
            json=verify_body(str(order["order_id"]), paid),
            headers=user.headers,
        )

        assert response.status_code == 409
        assert response.json()["code"] == "payment_not_captured"
        assert await balance(client, user) == before

    async def test_an_amount_mismatch_grants_nothing_and_is_kept_on_the_order(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        user: TestUser,
        razorpay: RazorpayServerHandle,
    ) -> None:
        before = await balance(client, user)
        order = await razorpay_order(client, user)
        paid = razorpay.pay(order["checkout"]["razorpay_order_id"], amount=100)

        response = await client.post(
            f"{API}/credits/verify",
            json=verify_body(str(order["order_id"]), paid),
            headers=user.headers,
        )

        assert response.status_code == 400
        assert response.json()["code"] == "payment_mismatch"
        assert await balance(client, user) == before
        stored = await stored_payment(app, str(order["order_id"]))
        assert stored.status == "created"
        assert stored.mismatch is not None
        assert "100 INR" in stored.mismatch

    async def test_a_currency_mismatch_in_a_webhook_grants_nothing(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        user: TestUser,
        razorpay: RazorpayServerHandle,
    ) -> None:
        before = await balance(client, user)
        order = await razorpay_order(client, user)
        paid = razorpay.pay(order["checkout"]["razorpay_order_id"], currency="USD")

        response = await send_webhook(
            client, razorpay.webhook("payment.captured", paid.razorpay_payment_id)
        )

        assert response.status_code == 200
        assert await balance(client, user) == before
        stored = await stored_payment(app, str(order["order_id"]))
        assert stored.mismatch is not None
        assert "USD" in stored.mismatch

    async def test_verify_refuses_unknown_and_other_peoples_orders(
        self,
        client: httpx.AsyncClient,
        user: TestUser,
        other: TestUser,
        razorpay: RazorpayServerHandle,
    ) -> None:
        theirs = await razorpay_order(client, other)
        paid = razorpay.pay(theirs["checkout"]["razorpay_order_id"])

        stolen = await client.post(
            f"{API}/credits/verify",
            json=verify_body(str(theirs["order_id"]), paid),
            headers=user.headers,
        )
        unknown = await client.post(
            f"{API}/credits/verify", json=verify_body(MISSING, paid), headers=user.headers
        )
        mine = await razorpay_order(client, user)
        crossed = await client.post(
            f"{API}/credits/verify",
            json=verify_body(str(mine["order_id"]), paid),
            headers=user.headers,
        )

        assert stolen.status_code == 404
        assert unknown.status_code == 404
        assert crossed.status_code == 400
        assert crossed.json()["code"] == "payment_mismatch"
        assert await payment_references(client, user) == []
        assert await payment_references(client, other) == []

    async def test_malformed_bodies_and_other_providers_orders_are_refused(
        self, client: httpx.AsyncClient, user: TestUser, razorpay: RazorpayServerHandle
    ) -> None:
        order = await razorpay_order(client, user)
        paid = razorpay.pay(order["checkout"]["razorpay_order_id"])
        body = verify_body(str(order["order_id"]), paid)
        missing = {key: value for key, value in body.items() if key != "razorpay_signature"}
        test_order = await purchase(client, user, provider="test")

        responses = [
            await client.post(f"{API}/credits/verify", json=missing, headers=user.headers),
            await client.post(
                f"{API}/credits/verify", json={**body, "extra": 1}, headers=user.headers
            ),
            await client.post(
                f"{API}/credits/verify",
                json={**body, "order_id": test_order["order_id"]},
                headers=user.headers,
            ),
            await client.post(f"{API}/credits/verify", json=body),
        ]

        assert [response.status_code for response in responses] == [422, 422, 400, 401]
        assert responses[2].json()["code"] == "payment_mismatch"
        assert await payment_references(client, user) == []

    async def test_an_unknown_razorpay_payment_is_503_from_the_provider(
        self, client: httpx.AsyncClient, user: TestUser, razorpay: RazorpayServerHandle
    ) -> None:
        order = await razorpay_order(client, user)
        razorpay_order_id = order["checkout"]["razorpay_order_id"]

        forged = CheckoutResult(
            razorpay_order_id,
            "pay_DoesNotExist00",
            hex_hmac(RAZORPAY_KEY_SECRET, f"{razorpay_order_id}|pay_DoesNotExist00"),
        )
        response = await client.post(
            f"{API}/credits/verify",
            json=verify_body(str(order["order_id"]), forged),
            headers=user.headers,
        )
        assert response.status_code == 503
        assert response.json()["code"] == "payment_provider_error"

    async def test_razorpay_down_while_ordering_is_503_with_retry_after(
        self, client: httpx.AsyncClient, user: TestUser, razorpay: RazorpayServerHandle
    ) -> None:
        razorpay.fail_next = 500
        response = await client.post(
            f"{API}/credits/purchase",
            json={"package_id": "starter", "provider": "razorpay"},
            headers=user.headers,
        )
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        orders = await client.get(f"{API}/credits/orders?include_total=true", headers=user.headers)
        assert orders.json()["total"] == 0


class TestWebhooks:
    async def test_payment_captured_and_order_paid_grant_once(
        self, client: httpx.AsyncClient, user: TestUser, razorpay: RazorpayServerHandle
    ) -> None:
        before = await balance(client, user)
        order = await razorpay_order(client, user)
        paid = razorpay.pay(order["checkout"]["razorpay_order_id"])

        for event in ("order.paid", "payment.captured", "order.paid"):
            response = await send_webhook(client, razorpay.webhook(event, paid.razorpay_payment_id))
            assert response.status_code == 200
            assert response.json() == {"received": True}

        assert await assert_balance_is_ledger(client, user) == before + 50

    async def test_unsigned_and_tampered_webhooks_are_400(
        self, client: httpx.AsyncClient, user: TestUser, razorpay: RazorpayServerHandle
    ) -> None:
        before = await balance(client, user)
        order = await razorpay_order(client, user)
        paid = razorpay.pay(order["checkout"]["razorpay_order_id"])
        body, headers = razorpay.webhook("payment.captured", paid.razorpay_payment_id)

        unsigned = await client.post(
            f"{API}/webhooks/razorpay", content=body, headers={"Content-Type": "application/json"}
        )
        tampered = await client.post(
            f"{API}/webhooks/razorpay",
            content=body.replace(b'"amount":19900', b'"amount":99900'),
            headers=headers,
        )
        wrong_key = await client.post(
            f"{API}/webhooks/razorpay",
            content=body,
            headers={**headers, "X-Razorpay-Signature": "ab" * 32},
        )

        for response in (unsigned, tampered, wrong_key):
            assert response.status_code == 400
            assert response.json()["code"] == "invalid_signature"
        assert await balance(client, user) == before

    async def test_ignored_events_and_unknown_orders_answer_200(
        self, client: httpx.AsyncClient, user: TestUser, razorpay: RazorpayServerHandle
    ) -> None:
        before = await balance(client, user)
        order = await razorpay_order(client, user)
        paid = razorpay.pay(order["checkout"]["razorpay_order_id"])
        ignored = await send_webhook(
            client, razorpay.webhook("payment.authorized", paid.razorpay_payment_id)
        )
        # An order this server never made (another app on the same account).
        razorpay.orders["order_ElsewhereMade0"] = {
            **razorpay.orders[paid.razorpay_order_id],
            "id": "order_ElsewhereMade0",
        }
        stranger = razorpay.pay("order_ElsewhereMade0")
        unknown = await send_webhook(
            client, razorpay.webhook("payment.captured", stranger.razorpay_payment_id)
        )

        assert ignored.status_code == 200
        assert unknown.status_code == 200
        assert await balance(client, user) == before

    async def test_a_failed_payment_marks_the_order_failed_until_a_retry_succeeds(
        self, client: httpx.AsyncClient, user: TestUser, razorpay: RazorpayServerHandle
    ) -> None:
        order = await razorpay_order(client, user)
        razorpay_order_id = order["checkout"]["razorpay_order_id"]
        failed = razorpay.pay(razorpay_order_id, capture=False)
        razorpay.payments[failed.razorpay_payment_id]["status"] = "failed"
        await send_webhook(client, razorpay.webhook("payment.failed", failed.razorpay_payment_id))
        shown = await client.get(f"{API}/credits/orders/{order['order_id']}", headers=user.headers)
        assert shown.json()["status"] == "failed"

        retried = razorpay.pay(razorpay_order_id)
        await send_webhook(
            client, razorpay.webhook("payment.captured", retried.razorpay_payment_id)
        )
        shown = await client.get(f"{API}/credits/orders/{order['order_id']}", headers=user.headers)
        assert shown.json()["status"] == "paid"

    async def test_webhooks_are_refused_when_razorpay_is_not_configured(
        self, database_url: str, tmp_path: Path
    ) -> None:
        settings = make_settings(database_url=database_url, data_dir=tmp_path / "bare")
        async with running_app(settings) as application, http_client(application) as bare:
            response = await bare.post(f"{API}/webhooks/razorpay", content=b"{}")
        assert response.status_code == 404


class TestRefunds:
    async def test_a_partial_then_full_refund_takes_back_the_refunded_share(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        user: TestUser,
        razorpay: RazorpayServerHandle,
    ) -> None:
        before = await balance(client, user)
        order = await razorpay_order(client, user)
        paid = razorpay.pay(order["checkout"]["razorpay_order_id"])
        await send_webhook(client, razorpay.webhook("payment.captured", paid.razorpay_payment_id))

        half = razorpay.refund(paid.razorpay_payment_id, 19900 // 2)
        partial = razorpay.webhook(
            "refund.processed", paid.razorpay_payment_id, refund_id=half["id"]
        )
        assert (await send_webhook(client, partial)).status_code == 200
        assert (await send_webhook(client, partial)).status_code == 200  # repeated
        assert await balance(client, user) == before + 50 - 25
        shown = await client.get(f"{API}/credits/orders/{order['order_id']}", headers=user.headers)
        assert shown.json()["status"] == "partially_refunded"
        assert shown.json()["refunded_amount"] == 9950

        rest = razorpay.refund(paid.razorpay_payment_id, 19900 - 19900 // 2)
        full = razorpay.webhook("refund.processed", paid.razorpay_payment_id, refund_id=rest["id"])
        assert (await send_webhook(client, full)).status_code == 200
        assert await assert_balance_is_ledger(client, user) == before
        shown = await client.get(f"{API}/credits/orders/{order['order_id']}", headers=user.headers)
        assert shown.json()["status"] == "refunded"
        assert shown.json()["credits_unrecovered"] == 0

    async def test_a_refund_larger_than_the_balance_stops_at_zero(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        user: TestUser,
        razorpay: RazorpayServerHandle,
    ) -> None:
        before = await balance(client, user)
        order = await razorpay_order(client, user)
        paid = razorpay.pay(order["checkout"]["razorpay_order_id"])
        await send_webhook(client, razorpay.webhook("payment.captured", paid.razorpay_payment_id))
        # Spend all but 20 credits.
        async with app.state.ports.database.sessionmaker() as session, session.begin():
            await apply_credit_change(
                session=session,
                user_id=uuid.UUID(user.id),
                delta=-(before + 30),
                reason=CreditReason.JOB_CHARGE,
                reference="job:spent-for-the-test:charge",
            )

        refund = razorpay.refund(paid.razorpay_payment_id, 19900)
        response = await send_webhook(
            client,
            razorpay.webhook("refund.processed", paid.razorpay_payment_id, refund_id=refund["id"]),
        )

        assert response.status_code == 200
        assert await assert_balance_is_ledger(client, user) == 0
        shown = await client.get(f"{API}/credits/orders/{order['order_id']}", headers=user.headers)
        assert shown.json()["status"] == "refunded"
        assert shown.json()["credits_unrecovered"] == 30
        stored = await stored_payment(app, str(order["order_id"]))
        assert stored.credits_taken_back == 20
