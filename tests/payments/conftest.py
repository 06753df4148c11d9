"""Payments tests: the app wired to local Razorpay and Stripe servers driven by the real SDKs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.config import Settings
from app.models import Payment
from tests.conftest import make_settings
from tests.factories import API, TestUser
from tests.support.razorpay_server import RazorpayServerHandle, razorpay_server
from tests.support.stripe_server import StripeServerHandle, stripe_server

RAZORPAY_KEY_ID = "rzp_test_1DP5mmOlF5G5ag"
RAZORPAY_KEY_SECRET = "razorpay-key-secret-for-tests"
RAZORPAY_WEBHOOK_SECRET = "razorpay-webhook-secret-for-tests"
STRIPE_SECRET_KEY = "sk_test_51Hp2tests0000000000000000"
STRIPE_WEBHOOK_SECRET = "whsec_stripe_webhook_secret_for_tests"


@pytest.fixture(scope="session")
def razorpay() -> Iterator[RazorpayServerHandle]:
    with razorpay_server(RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET, RAZORPAY_WEBHOOK_SECRET) as handle:
        yield handle


@pytest.fixture(scope="session")
def stripe_api() -> Iterator[StripeServerHandle]:
    with stripe_server(STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET) as handle:
        yield handle


def payment_settings(
    razorpay: RazorpayServerHandle, stripe_api: StripeServerHandle, **overrides: object
) -> dict[str, object]:
    values: dict[str, object] = {
        "razorpay_key_id": RAZORPAY_KEY_ID,
        "razorpay_key_secret": RAZORPAY_KEY_SECRET,
        "razorpay_webhook_secret": RAZORPAY_WEBHOOK_SECRET,
        "razorpay_base_url": razorpay.url,
        "stripe_secret_key": STRIPE_SECRET_KEY,
        "stripe_webhook_secret": STRIPE_WEBHOOK_SECRET,
        "stripe_api_base": stripe_api.url,
    }
    values.update(overrides)
    return values


@pytest.fixture
def settings(
    database_url: str,
    tmp_path: Path,
    razorpay: RazorpayServerHandle,
    stripe_api: StripeServerHandle,
) -> Settings:
    razorpay.fail_next = stripe_api.fail_next = None
    return make_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        **payment_settings(razorpay, stripe_api),
    )


async def purchase(
    client: httpx.AsyncClient,
    user: TestUser,
    package_id: str = "starter",
    provider: str | None = "test",
    *,
    expect: int = 201,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"package_id": package_id}
    if provider is not None:
        body["provider"] = provider
    response = await client.post(
        f"{API}/credits/purchase", json=body, headers={**user.headers, **(headers or {})}
    )
    assert response.status_code == expect, response.text
    data: dict[str, Any] = response.json()
    return data


async def ledger(client: httpx.AsyncClient, user: TestUser) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/credits/transactions?limit=100", headers=user.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def assert_balance_is_ledger(client: httpx.AsyncClient, user: TestUser) -> int:
    """The cached balance equals the sum of the ledger, and is not negative."""
    response = await client.get(f"{API}/credits/balance", headers=user.headers)
    balance: int = response.json()["credits"]
    assert balance == sum(row["delta"] for row in await ledger(client, user))
    assert balance >= 0
    return balance


async def stored_payment(app: FastAPI, order_id: str) -> Payment:
    async with app.state.ports.database.sessionmaker() as session:
        payment = await session.scalar(select(Payment).where(Payment.id == uuid.UUID(order_id)))
    assert payment is not None
    return payment


async def payment_references(client: httpx.AsyncClient, user: TestUser) -> list[str]:
    return [
        row["reference"]
        for row in await ledger(client, user)
        if (row["reference"] or "").startswith("payment:")
    ]
