"""The local test checkout end to end through the API: buy a package, see credits and ledger."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi import FastAPI

from app.models import PaymentStatus
from tests.conftest import http_client, make_settings, running_app
from tests.factories import (
    API,
    TestUser,
    balance,
    create_user,
    message_text,
    outbox_messages,
)
from tests.payments.conftest import (
    assert_balance_is_ledger,
    payment_references,
    purchase,
    stored_payment,
)


class TestBuyingOnTheTestCheckout:
    async def test_pay_adds_the_credits_once_with_a_ledger_entry_and_a_receipt(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ) -> None:
        before = await balance(client, user)
        order = await purchase(client, user, "creator")
        assert order["provider"] == "test"
        assert order["status"] == "created"
        assert order["credits"] == 150
        assert order["amount"] == 49900
        assert order["currency"] == "INR"
        url = order["checkout"]["url"]
        assert url == f"http://test{API}/payments/test/{order['order_id']}"

        page = await client.get(url)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "150 credits" in page.text
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action is not None
        assert action.group(1) == f"{API}/payments/test/{order['order_id']}/pay"

        paid = await client.post(action.group(1))
        assert paid.status_code == 303
        assert paid.headers["location"] == f"{API}/payments/test/{order['order_id']}"
        again = await client.post(action.group(1))  # a double click
        assert again.status_code == 303

        assert await balance(client, user) == before + 150
        assert await assert_balance_is_ledger(client, user) == before + 150
        [reference] = await payment_references(client, user)
        stored = await stored_payment(app, order["order_id"])
        assert reference == f"payment:test:{stored.provider_payment_id}"
        assert stored.status == PaymentStatus.PAID.value

        shown = await client.get(f"{API}/credits/orders/{order['order_id']}", headers=user.headers)
        assert shown.status_code == 200
        assert shown.json()["status"] == "paid"
        assert shown.json()["paid_at"] is not None
        page = await client.get(url)
        assert "Paid." in page.text
        assert "<form" not in page.text

        receipts = [m for m in outbox_messages(app) if m["Subject"] == "Receipt: 150 credits"]
        assert len(receipts) == 1
        assert receipts[0]["To"] == user.email
        assert order["order_id"] in message_text(receipts[0])

    async def test_unknown_orders_and_other_providers_orders_are_404(
        self, client: httpx.AsyncClient, app: FastAPI, user: TestUser
    ) -> None:
        missing = "00000000-0000-4000-8000-000000000000"
        assert (await client.get(f"{API}/payments/test/{missing}")).status_code == 404
        assert (await client.post(f"{API}/payments/test/{missing}/pay")).status_code == 404
        assert (await client.get(f"{API}/payments/test/not-a-uuid")).status_code == 422
        razorpay_order = await purchase(client, user, provider="razorpay")
        pay = await client.post(f"{API}/payments/test/{razorpay_order['order_id']}/pay")
        assert pay.status_code == 404
        assert await payment_references(client, user) == []


class TestRefusedWhereItMustNotRun:
    async def test_production_serves_no_test_checkout(
        self, database_url: str, tmp_path: Path
    ) -> None:
        settings = make_settings(
            database_url=database_url,
            data_dir=tmp_path / "prod",
            environment="production",
            allow_ephemeral_kv=True,
        )
        async with running_app(settings) as application, http_client(application) as client:
            person = await create_user(application)
            refused = await purchase(client, person, provider="test", expect=422)
            assert refused["code"] == "payment_provider_not_configured"
            default = await purchase(client, person, provider=None, expect=422)
            assert default["code"] == "payment_provider_not_configured"
            order_id = "00000000-0000-4000-8000-000000000000"
            assert (await client.get(f"{API}/payments/test/{order_id}")).status_code == 404
            assert (await client.post(f"{API}/payments/test/{order_id}/pay")).status_code == 404

    async def test_turned_off_it_refuses_orders_and_pages(
        self, database_url: str, tmp_path: Path
    ) -> None:
        settings = make_settings(
            database_url=database_url, data_dir=tmp_path / "off", test_checkout_enabled=False
        )
        async with running_app(settings) as application, http_client(application) as client:
            person = await create_user(application)
            refused = await purchase(client, person, provider="test", expect=422)
            assert refused["code"] == "payment_provider_not_configured"
            order_id = "00000000-0000-4000-8000-000000000000"
            assert (await client.get(f"{API}/payments/test/{order_id}")).status_code == 404
