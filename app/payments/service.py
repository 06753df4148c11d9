"""Payment rules: open a checkout, and apply what providers report to the order and the ledger.

Every report (Razorpay's verify call, a webhook, the test checkout's Pay button) goes through
`apply_event`, which locks the order and grants through the ledger with the reference
`payment:<provider>:<payment id>`, so credits arrive once whichever report comes first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.mail import Mail
from app.adapters.payments import (
    EventKind,
    InvalidSignature,
    NewOrder,
    PaymentEvent,
    PaymentProviderError,
    ProviderName,
    ProviderNotConfigured,
)
from app.auth.identity import SignedInUser
from app.config import CreditPackage, Settings
from app.credits import repository as credits_repository
from app.credits.service import CreditReason, apply_credit_change
from app.kit.db import after_commit, end_read_only_transaction
from app.kit.errors import BadRequest, Conflict, NotFound, ServiceUnavailable, Unprocessable
from app.kit.idempotency import IdempotencyKeyInFlight, IdempotencyKeyReused
from app.models import Payment, PaymentStatus, User
from app.models.base import utcnow
from app.payments import repository
from app.payments.schemas import PurchaseIn, PurchaseOut, VerifyIn
from app.ports import Ports

logger = logging.getLogger("app.payments")

PAID_STATES = frozenset(
    {PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
)
# Currencies without a minor unit, for the receipt's wording.
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"})


class UnknownPackage(Unprocessable):
    code = "unknown_package"
    message = "There is no credit package with this id."


class PaymentProviderNotConfigured(Unprocessable):
    code = "payment_provider_not_configured"
    message = "This payment provider is not configured on this server."


class OrderNotFound(NotFound):
    message = "Order not found."


class InvalidPaymentSignature(BadRequest):
    code = "invalid_signature"
    message = "The payment signature is not valid."


class PaymentMismatch(BadRequest):
    code = "payment_mismatch"
    message = "The payment does not match this order."


class PaymentNotCaptured(Conflict):
    code = "payment_not_captured"
    message = "The payment has not been captured yet; the credits arrive when it is."


class PaymentProviderUnavailable(ServiceUnavailable):
    message = "The payment provider is unavailable. Try again shortly."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": "5"})


class PaymentProviderRejected(ServiceUnavailable):
    code = "payment_provider_error"
    message = "The payment provider refused the request."


def payment_reference(provider: str, payment_id: str) -> str:
    return f"payment:{provider}:{payment_id}"


def refund_reference(provider: str, payment_id: str, refunded_amount: int) -> str:
    # One row per cumulative refunded amount: a repeated refund event finds its row.
    return f"payment:{provider}:{payment_id}:refund:{refunded_amount}"


def find_package(settings: Settings, package_id: str) -> CreditPackage:
    for package in settings.credit_packages:
        if package.id == package_id:
            return package
    raise UnknownPackage()


def _provider_error(exc: PaymentProviderError) -> ServiceUnavailable:
    logger.warning("payment provider call failed: %s", exc)
    if exc.retryable:
        return PaymentProviderUnavailable()
    return PaymentProviderRejected()


def _request_hash(package_id: str, provider: str) -> str:
    canonical = json.dumps({"package_id": package_id, "provider": provider}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def purchase_body(payment: Payment) -> dict[str, Any]:
    return PurchaseOut(
        order_id=payment.id,
        provider=payment.provider,
        package_id=payment.package_id,
        amount=payment.amount,
        currency=payment.currency,
        credits=payment.credits,
        status=PaymentStatus.CREATED.value,
        checkout=payment.checkout,
    ).model_dump(mode="json")


async def purchase(
    *,
    session: AsyncSession,
    ports: Ports,
    user: SignedInUser,
    data: PurchaseIn,
    idempotency_key: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """Open a checkout with the provider and record the order; returns status and body."""
    settings = ports.settings
    package = find_package(settings, data.package_id)
    provider_name = data.provider or ports.payments.default()
    if provider_name is None:
        raise PaymentProviderNotConfigured("No payment provider is configured on this server.")
    try:
        provider = ports.payments.get(provider_name)
    except ProviderNotConfigured as exc:
        raise PaymentProviderNotConfigured(
            f"Payments through '{provider_name.value}' are not configured on this server."
        ) from exc

    request_hash = _request_hash(package.id, provider_name.value)
    if idempotency_key is not None:
        existing = await repository.find_by_idempotency_key(
            session, user_id=user.id, key=idempotency_key
        )
        if existing is not None:
            expired = existing.created_at < utcnow() - timedelta(
                hours=settings.idempotency_ttl_hours
            )
            if not expired:
                if existing.request_hash != request_hash:
                    raise IdempotencyKeyReused()
                return 201, purchase_body(existing)
            await repository.forget_idempotency_key(session, existing.id)
            await session.flush()

    # The provider is called outside any transaction, so no lock waits on the network.
    await end_read_only_transaction(session)
    order_id = uuid.uuid4()
    try:
        checkout = await provider.create_checkout(
            NewOrder(order_id=order_id, package=package, customer_email=user.email)
        )
    except PaymentProviderError as exc:
        raise _provider_error(exc) from exc

    payment = Payment(
        id=order_id,
        user_id=user.id,
        provider=provider_name.value,
        package_id=package.id,
        credits=package.credits,
        amount=package.amount,
        currency=package.currency,
        status=PaymentStatus.CREATED.value,
        provider_order_id=checkout.provider_order_id,
        checkout=checkout.checkout,
        idempotency_key=idempotency_key,
        request_hash=request_hash if idempotency_key is not None else None,
        created_at=utcnow(),
    )
    savepoint = await session.begin_nested()
    try:
        session.add(payment)
        await session.flush()
    except IntegrityError as exc:
        # Another request with the same key committed first (or is about to).
        await savepoint.rollback()
        if idempotency_key is None:
            raise
        raise IdempotencyKeyInFlight() from exc
    await savepoint.commit()
    logger.info(
        "payment order created",
        extra={"order_id": str(order_id), "provider": provider_name.value},
    )
    return 201, purchase_body(payment)


@dataclass(frozen=True, slots=True)
class Applied:
    payment: Payment | None
    credits_added: int = 0


async def apply_event(*, session: AsyncSession, ports: Ports, event: PaymentEvent) -> Applied:
    """Apply one provider report to its order, in the caller's transaction."""
    if event.kind is EventKind.IGNORED:
        logger.info("payment event ignored", extra={"event_type": event.event_type})
        return Applied(None)
    payment = await repository.lock_for_event(
        session,
        provider_order_id=event.provider_order_id,
        provider_payment_id=event.provider_payment_id,
    )
    if payment is None or payment.provider != event.provider.value:
        logger.warning(
            "payment event for an unknown order",
            extra={"event_type": event.event_type, "provider": event.provider.value},
        )
        return Applied(None)
    if event.kind is EventKind.PAID:
        return Applied(payment, await _grant(session, ports, payment, event))
    if event.kind is EventKind.FAILED:
        if payment.status == PaymentStatus.CREATED:
            payment.status = PaymentStatus.FAILED.value
            await session.flush()
        return Applied(payment)
    await _take_back(session, payment, event)
    return Applied(payment)


def _record_mismatch(payment: Payment, event: PaymentEvent, problem: str) -> None:
    payment.mismatch = (
        f"{event.event_type}: {problem} (reported {event.amount} {event.currency}, "
        f"payment {event.provider_payment_id}; order is {payment.amount} {payment.currency})"
    )[:500]
    logger.warning(
        "payment does not match its order; nothing granted",
        extra={"order_id": str(payment.id), "event_type": event.event_type, "problem": problem},
    )


async def _grant(session: AsyncSession, ports: Ports, payment: Payment, event: PaymentEvent) -> int:
    if PaymentStatus(payment.status) in PAID_STATES:
        if payment.provider_payment_id != event.provider_payment_id:
            logger.warning(
                "a second payment reported for a paid order; not granted",
                extra={"order_id": str(payment.id), "event_type": event.event_type},
            )
        return 0
    if event.provider_payment_id is None:
        _record_mismatch(payment, event, "no payment id")
        await session.flush()
        return 0
    if event.amount != payment.amount or event.currency != payment.currency:
        _record_mismatch(payment, event, "amount or currency differs")
        await session.flush()
        return 0
    change = await apply_credit_change(
        session=session,
        user_id=payment.user_id,
        delta=payment.credits,
        reason=CreditReason.PURCHASE,
        reference=payment_reference(payment.provider, event.provider_payment_id),
    )
    payment.status = PaymentStatus.PAID.value
    payment.provider_payment_id = event.provider_payment_id
    payment.paid_at = utcnow()
    await session.flush()
    if not change.applied:
        return 0
    logger.info(
        "payment credited",
        extra={"order_id": str(payment.id), "provider": payment.provider},
    )
    user = await repository.get_user(session, payment.user_id)
    if user is not None:
        mail = receipt_mail(user=user, payment=payment, balance=change.transaction.balance_after)

        async def send_receipt() -> None:
            await ports.mailer.send(mail)

        after_commit(session, send_receipt)
    return payment.credits


async def _take_back(session: AsyncSession, payment: Payment, event: PaymentEvent) -> None:
    """Take back the refunded share of the credits, never more than the balance holds."""
    if PaymentStatus(payment.status) not in PAID_STATES or payment.provider_payment_id is None:
        logger.warning("refund for an unpaid order", extra={"order_id": str(payment.id)})
        return
    if event.refunded_amount is None or (
        event.currency is not None and event.currency != payment.currency
    ):
        _record_mismatch(payment, event, "refund without an amount in the order's currency")
        await session.flush()
        return
    refunded = min(event.refunded_amount, payment.amount)
    if refunded <= payment.refunded_amount:
        return  # a repeat, or an older event arriving late
    if refunded >= payment.amount:
        share = payment.credits
    else:
        share = payment.credits * refunded // payment.amount
    owed = share - payment.credits_taken_back - payment.credits_unrecovered
    if owed > 0:
        balance = await repository.lock_balance(session, payment.user_id) or 0
        taken = min(owed, balance)
        if taken > 0:
            change = await apply_credit_change(
                session=session,
                user_id=payment.user_id,
                delta=-taken,
                reason=CreditReason.PURCHASE_REFUND,
                reference=refund_reference(payment.provider, payment.provider_payment_id, refunded),
            )
            if not change.applied:
                return
        payment.credits_taken_back += taken
        payment.credits_unrecovered += owed - taken
        if owed > taken:
            logger.warning(
                "refunded credits already spent; recorded as unrecovered",
                extra={"order_id": str(payment.id), "unrecovered": owed - taken},
            )
    payment.refunded_amount = refunded
    payment.status = (
        PaymentStatus.REFUNDED.value
        if refunded >= payment.amount
        else PaymentStatus.PARTIALLY_REFUNDED.value
    )
    await session.flush()


def format_amount(amount: int, currency: str) -> str:
    if currency in ZERO_DECIMAL_CURRENCIES:
        return f"{amount} {currency}"
    return f"{amount / 100:.2f} {currency}"


def receipt_mail(*, user: User, payment: Payment, balance: int) -> Mail:
    price = format_amount(payment.amount, payment.currency)
    text = (
        f"Hi {user.full_name or user.username},\n\n"
        f"Thank you for your purchase. {payment.credits} credits are now on your account.\n\n"
        f"Order: {payment.id}\n"
        f"Package: {payment.package_id}\n"
        f"Paid: {price} through {payment.provider}\n"
        f"Payment: {payment.provider_payment_id}\n"
        f"Balance: {balance} credits\n\n"
        "MugShot Studio\n"
    )
    return Mail(to=user.email, subject=f"Receipt: {payment.credits} credits", text=text)


async def verify_razorpay(
    *, session: AsyncSession, ports: Ports, user: SignedInUser, data: VerifyIn
) -> Payment:
    """Check the Checkout.js signature, confirm the capture with Razorpay, then apply it.

    Returns the order, still unpaid when the payment did not match it (the mismatch is
    recorded on the order, so the caller answers without raising and the record commits).
    """
    payment = await repository.get_owned(session, user_id=user.id, order_id=data.order_id)
    if payment is None:
        raise OrderNotFound()
    if payment.provider != ProviderName.RAZORPAY.value:
        raise PaymentMismatch("This order is not paid through Razorpay.")
    if data.razorpay_order_id != payment.provider_order_id:
        raise PaymentMismatch("razorpay_order_id does not belong to this order.")
    try:
        provider = ports.payments.razorpay()
    except ProviderNotConfigured as exc:
        raise PaymentProviderNotConfigured() from exc
    try:
        provider.verify_checkout_signature(
            razorpay_order_id=data.razorpay_order_id,
            razorpay_payment_id=data.razorpay_payment_id,
            signature=data.razorpay_signature,
        )
    except InvalidSignature as exc:
        raise InvalidPaymentSignature() from exc
    await end_read_only_transaction(session)
    try:
        event = await provider.fetch_payment(data.razorpay_payment_id)
    except PaymentProviderError as exc:
        raise _provider_error(exc) from exc
    if event.provider_order_id != payment.provider_order_id:
        raise PaymentMismatch("The payment belongs to another Razorpay order.")
    if event.kind is not EventKind.PAID:
        raise PaymentNotCaptured()
    applied = await apply_event(session=session, ports=ports, event=event)
    assert applied.payment is not None
    return applied.payment


async def current_balance(session: AsyncSession, user_id: uuid.UUID) -> int:
    return await credits_repository.current_balance(session, user_id) or 0
