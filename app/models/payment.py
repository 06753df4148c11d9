"""Payments: one row per checkout a user starts, from order to paid and any refunds."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, utcnow


class PaymentStatus(StrEnum):
    CREATED = "created"
    PAID = "paid"
    FAILED = "failed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


PAYMENT_STATUSES = tuple(status.value for status in PaymentStatus)


class Payment(CreatedAtMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_user_created", "user_id", "created_at", "id"),
        # Admin stats: revenue of the orders paid in a recent window.
        Index("ix_payments_paid", "paid_at"),
        UniqueConstraint("user_id", "idempotency_key", name="uq_payments_user_idempotency_key"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("credits > 0", name="credits_positive"),
        CheckConstraint("length(currency) = 3", name="currency_code"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{status}'" for status in PAYMENT_STATUSES) + ")",
            name="status_known",
        ),
        CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= amount", name="refund_within_amount"
        ),
        CheckConstraint(
            "credits_taken_back >= 0 AND credits_unrecovered >= 0 "
            "AND credits_taken_back + credits_unrecovered <= credits",
            name="refund_within_credits",
        ),
    )

    # Our order id: what the API and the providers' metadata name.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    package_id: Mapped[str] = mapped_column(String(40))
    credits: Mapped[int]
    amount: Mapped[int]  # minor units (paise, cents)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default=PaymentStatus.CREATED.value)
    # Razorpay order, Stripe Checkout Session, or the local test order.
    provider_order_id: Mapped[str] = mapped_column(String(255), unique=True)
    # Razorpay payment or Stripe PaymentIntent, once paid.
    provider_payment_id: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    checkout: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    refunded_amount: Mapped[int] = mapped_column(default=0)
    credits_taken_back: Mapped[int] = mapped_column(default=0)
    # Refunded credits the user had already spent: for an admin to follow up.
    credits_unrecovered: Mapped[int] = mapped_column(default=0)
    # What the provider reported when it did not match the order (nothing was granted).
    mismatch: Mapped[str | None] = mapped_column(String(500), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    request_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
