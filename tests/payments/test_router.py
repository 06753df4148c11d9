"""Packages, purchase and orders: the happy paths, bad input, idempotency and ownership."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import http_client, make_settings, running_app
from tests.factories import API, TestUser, create_user
from tests.payments.conftest import (
    RAZORPAY_KEY_SECRET,
    RAZORPAY_WEBHOOK_SECRET,
    STRIPE_SECRET_KEY,
    STRIPE_WEBHOOK_SECRET,
    purchase,
)

MISSING = "00000000-0000-4000-8000-000000000000"


class TestPackages:
    async def test_the_defaults_are_listed_without_signing_in(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(f"{API}/credits/packages")

        assert response.status_code == 200
        packages = response.json()
        assert [package["id"] for package in packages] == ["starter", "creator", "studio"]
        assert packages[1] == {
            "id": "creator",
            "name": "Creator",
            "credits": 150,
            "amount": 49900,
            "currency": "INR",
            "popular": True,
        }

    async def test_packages_come_from_the_environment(
        self, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(
            "CREDIT_PACKAGES",
            '[{"id": "mini", "name": "Mini", "credits": 5, "amount": 99, "currency": "USD"}]',
        )
        settings = make_settings(database_url=database_url, data_dir=tmp_path / "data")
        async with running_app(settings) as application, http_client(application) as client:
            response = await client.get(f"{API}/credits/packages")
        assert response.json() == [
            {
                "id": "mini",
                "name": "Mini",
                "credits": 5,
                "amount": 99,
                "currency": "USD",
                "popular": False,
            }
        ]


class TestPurchase:
    async def test_signed_out_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.post(f"{API}/credits/purchase", json={"package_id": "starter"})
        assert response.status_code == 401

    async def test_unknown_package_is_422_and_records_nothing(
        self, client: httpx.AsyncClient, user: TestUser
    ) -> None:
        refused = await purchase(client, user, "platinum", expect=422)
        assert refused["code"] == "unknown_package"
        orders = await client.get(f"{API}/credits/orders?include_total=true", headers=user.headers)
        assert orders.json()["total"] == 0

    async def test_unknown_provider_name_is_422(
        self, client: httpx.AsyncClient, user: TestUser
    ) -> None:
        await purchase(client, user, provider="paypal", expect=422)

    async def test_a_provider_without_keys_is_422(self, database_url: str, tmp_path: Path) -> None:
        settings = make_settings(database_url=database_url, data_dir=tmp_path / "data")
        async with running_app(settings) as application, http_client(application) as client:
            person = await create_user(application)
            for provider in ("razorpay", "stripe"):
                refused = await purchase(client, person, provider=provider, expect=422)
                assert refused["code"] == "payment_provider_not_configured"
            # Without keys the default is the test checkout.
            order = await purchase(client, person, provider=None)
            assert order["provider"] == "test"

    async def test_the_default_provider_follows_settings(
        self, client: httpx.AsyncClient, user: TestUser
    ) -> None:
        # Both providers have keys here; the first configured one (Razorpay) is the default.
        order = await purchase(client, user, provider=None)
        assert order["provider"] == "razorpay"

    async def test_idempotency_key_answers_the_same_order(
        self, client: httpx.AsyncClient, user: TestUser
    ) -> None:
        key = {"Idempotency-Key": "buy-starter-1"}
        first = await purchase(client, user, headers=key)
        second = await purchase(client, user, headers=key)
        assert second == first

        reused = await purchase(client, user, "studio", headers=key, expect=422)
        assert reused["code"] == "idempotency_key_reused"
        orders = await client.get(f"{API}/credits/orders?include_total=true", headers=user.headers)
        assert orders.json()["total"] == 1

    async def test_the_same_key_is_per_user(
        self, client: httpx.AsyncClient, user: TestUser, other: TestUser
    ) -> None:
        key = {"Idempotency-Key": "shared-key"}
        mine = await purchase(client, user, headers=key)
        theirs = await purchase(client, other, headers=key)
        assert mine["order_id"] != theirs["order_id"]


class TestOrders:
    async def test_list_and_read_own_orders_newest_first(
        self, client: httpx.AsyncClient, user: TestUser, other: TestUser
    ) -> None:
        first = await purchase(client, user, "starter")
        second = await purchase(client, user, "studio")
        await purchase(client, other, "creator")

        listed = await client.get(
            f"{API}/credits/orders?limit=1&include_total=true", headers=user.headers
        )
        assert listed.status_code == 200
        page = listed.json()
        assert page["total"] == 2
        assert [item["order_id"] for item in page["items"]] == [second["order_id"]]
        following = await client.get(
            f"{API}/credits/orders",
            params={"limit": 1, "cursor": page["next_cursor"]},
            headers=user.headers,
        )
        assert [item["order_id"] for item in following.json()["items"]] == [first["order_id"]]
        assert following.json()["next_cursor"] is None
        shown = await client.get(f"{API}/credits/orders/{first['order_id']}", headers=user.headers)
        assert shown.status_code == 200
        body = shown.json()
        assert body["status"] == "created"
        assert body["credits_unrecovered"] == 0
        assert body["checkout"] == first["checkout"]

    async def test_another_users_order_is_404(
        self, client: httpx.AsyncClient, user: TestUser, other: TestUser
    ) -> None:
        theirs = await purchase(client, other)
        response = await client.get(
            f"{API}/credits/orders/{theirs['order_id']}", headers=user.headers
        )
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        missing = await client.get(f"{API}/credits/orders/{MISSING}", headers=user.headers)
        assert missing.status_code == 404


class TestSecrets:
    async def test_no_response_or_log_names_a_secret(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        user: TestUser,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        bodies = [
            (await client.get(f"{API}/credits/packages")).text,
            (await client.get(f"{API}/openapi.json")).text,
        ]
        for provider in ("razorpay", "stripe", "test"):
            order = await purchase(client, user, provider=provider)
            bodies.append(str(order))
            shown = await client.get(
                f"{API}/credits/orders/{order['order_id']}", headers=user.headers
            )
            bodies.append(shown.text)
        bodies.append(caplog.text)
        for secret in (
            RAZORPAY_KEY_SECRET,
            RAZORPAY_WEBHOOK_SECRET,
            STRIPE_SECRET_KEY,
            STRIPE_WEBHOOK_SECRET,
        ):
            assert all(secret not in body for body in bodies)
