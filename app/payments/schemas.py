"""Bodies of the credit purchase endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.adapters.payments import ProviderName
from app.kit.examples import body_examples


class PackageOut(BaseModel):
    id: str
    name: str
    credits: int
    amount: int = Field(description="In minor units (paise, cents).")
    currency: str
    popular: bool


class PurchaseIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra=body_examples({"package_id": "creator"})
    )

    package_id: str = Field(min_length=1, max_length=40)
    provider: ProviderName | None = Field(
        default=None, description="Empty: the deployment's default provider."
    )


class PurchaseOut(BaseModel):
    order_id: uuid.UUID
    provider: str
    package_id: str
    amount: int
    currency: str
    credits: int
    status: str
    checkout: dict[str, Any] = Field(
        description="Razorpay: `{key_id, razorpay_order_id}` for Checkout.js. "
        "Stripe and the test checkout: `{url}` to send the buyer to."
    )


class VerifyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=body_examples(
            {
                "order_id": "3f0c6a2e-8d1b-4c5e-9a7f-2b6d8e4c1a90",
                "razorpay_payment_id": "pay_Nx8kQ2mV4tLr7a",
                "razorpay_order_id": "order_Nx8jP1kU3sKq6z",
                "razorpay_signature": "hex HMAC-SHA256 of order_id|payment_id",
            }
        ),
    )

    order_id: uuid.UUID
    razorpay_payment_id: str = Field(min_length=1, max_length=100)
    razorpay_order_id: str = Field(min_length=1, max_length=100)
    razorpay_signature: str = Field(min_length=1, max_length=200)


class VerifyOut(BaseModel):
    order_id: uuid.UUID
    status: str
    credits_added: int
    balance: int


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_id: uuid.UUID = Field(validation_alias="id")
    provider: str
    package_id: str
    credits: int
    amount: int
    currency: str
    status: str
    checkout: dict[str, Any]
    refunded_amount: int
    credits_unrecovered: int = Field(
        description="Refunded credits that had already been spent and could not be taken back."
    )
    created_at: datetime
    paid_at: datetime | None


class WebhookOut(BaseModel):
    received: bool = True
