"""Credit rules: every balance change goes through `apply_credit_change`, which keeps the ledger."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.credits import repository
from app.kit.errors import AppError
from app.models import CreditTransaction


class CreditReason(StrEnum):
    SIGNUP_BONUS = "signup_bonus"
    JOB_CHARGE = "job_charge"
    JOB_REFUND = "job_refund"
    PURCHASE = "purchase"
    PURCHASE_REFUND = "purchase_refund"
    ADMIN_GRANT = "admin_grant"
    ADMIN_DEDUCTION = "admin_deduction"


class CreditShortfall(BaseModel):
    """Beside the message of a 402: what the request costs and what the account holds."""

    cost_credits: int = Field(description="Credits the request needs.")
    balance: int = Field(description="Credits the account holds now.")


class InsufficientCredits(AppError):
    status = 402
    code = "insufficient_credits"
    message = "Not enough credits for this request."
    fields = CreditShortfall

    @classmethod
    def of(cls, *, cost: int, balance: int) -> InsufficientCredits:
        credits = "credit" if cost == 1 else "credits"
        return cls(
            f"This costs {cost} {credits} and your balance is {balance}.",
            extra=CreditShortfall(cost_credits=cost, balance=balance),
        )


@dataclass(frozen=True, slots=True)
class CreditChange:
    transaction: CreditTransaction
    applied: bool  # False when the reference had been applied before


async def apply_credit_change(
    *,
    session: AsyncSession,
    user_id: uuid.UUID,
    delta: int,
    reason: CreditReason,
    reference: str | None = None,
) -> CreditChange:
    """Change a balance and append the ledger row in the caller's transaction.

    With a `reference`, the change applies at most once: a second call finds the first row.
    Raises InsufficientCredits when a debit would take the balance below zero.
    """
    if reference is not None:
        existing = await repository.find_by_reference(session, reference)
        if existing is not None:
            return CreditChange(existing, applied=False)
    # A savepoint keeps a lost race on the unique reference from undoing the caller's work.
    savepoint = await session.begin_nested()
    try:
        balance = await repository.add_to_balance(session, user_id=user_id, delta=delta)
        if balance is None:
            held = await repository.current_balance(session, user_id)
            raise InsufficientCredits.of(cost=-delta, balance=held or 0)
        row = CreditTransaction(
            user_id=user_id,
            delta=delta,
            reason=reason.value,
            reference=reference,
            balance_after=balance,
        )
        session.add(row)
        await session.flush()
    except IntegrityError:
        await savepoint.rollback()
        if reference is None:
            raise
        existing = await repository.find_by_reference(session, reference)
        if existing is None:
            raise
        return CreditChange(existing, applied=False)
    except BaseException:
        await savepoint.rollback()
        raise
    await savepoint.commit()
    return CreditChange(row, applied=True)
