"""Payments: credit purchases through Razorpay, Stripe or the local test checkout.

Revision ID: 0005_payments
Revises: 0004_list_indexes
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import enable_row_level_security

revision: str = "0005_payments"
down_revision: str | None = "0004_list_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
STATUSES = ("created", "paid", "failed", "refunded", "partially_refunded")


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_payments_user_id_users"),
            nullable=False,
        ),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("package_id", sa.String(40), nullable=False),
        sa.Column("credits", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("provider_order_id", sa.String(255), nullable=False),
        sa.Column("provider_payment_id", sa.String(255), nullable=True),
        sa.Column("checkout", sa.JSON(), nullable=False),
        sa.Column("refunded_amount", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("credits_taken_back", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("credits_unrecovered", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("mismatch", sa.String(500), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("paid_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("provider_order_id", name="uq_payments_provider_order_id"),
        sa.UniqueConstraint("provider_payment_id", name="uq_payments_provider_payment_id"),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_payments_user_idempotency_key"),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint("credits > 0", name=op.f("ck_payments_credits_positive")),
        sa.CheckConstraint("length(currency) = 3", name=op.f("ck_payments_currency_code")),
        sa.CheckConstraint(
            "status IN (" + ", ".join(f"'{status}'" for status in STATUSES) + ")",
            name=op.f("ck_payments_status_known"),
        ),
        sa.CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= amount",
            name=op.f("ck_payments_refund_within_amount"),
        ),
        sa.CheckConstraint(
            "credits_taken_back >= 0 AND credits_unrecovered >= 0 "
            "AND credits_taken_back + credits_unrecovered <= credits",
            name=op.f("ck_payments_refund_within_credits"),
        ),
    )
    op.create_index("ix_payments_user_created", "payments", ["user_id", "created_at", "id"])
    enable_row_level_security("payments")


def downgrade() -> None:
    op.drop_index("ix_payments_user_created", table_name="payments")
    op.drop_table("payments")
