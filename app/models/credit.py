"""The credit ledger: every change of a balance, in order, with an optional unique reference."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, IdMixin


class CreditTransaction(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "credit_transactions"
    __table_args__ = (
        Index("ix_credit_transactions_user_created", "user_id", "created_at", "id"),
        # Admin stats sum each reason over a recent window.
        Index("ix_credit_transactions_created", "created_at", "reason", "delta"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    delta: Mapped[int]
    reason: Mapped[str] = mapped_column(String(40))
    # A purchase, refund or grant names what it pays for, so it can be applied only once.
    reference: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    balance_after: Mapped[int]
