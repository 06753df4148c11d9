"""HTTP routes for buying credits: packages, purchase, Razorpay verify, orders, webhooks, and
the local test checkout pages."""

from __future__ import annotations

import base64
import hashlib
import html
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from app.adapters.payments import InvalidSignature, PaymentProvider, ProviderName
from app.auth.deps import AUTHED, CurrentUser
from app.config import API_PREFIX
from app.deps import PortsDep, SessionDep
from app.kit.errors import AppError, BadRequest, NotFound, error_response, responses
from app.kit.idempotency import IdempotencyKeyHeader, IdempotencyKeyInFlight, IdempotencyKeyReused
from app.kit.pagination import InvalidCursor, Page, PageParamsDep
from app.models import Payment, PaymentStatus
from app.payments import repository, service
from app.payments.deps import OwnedOrder
from app.payments.schemas import (
    OrderOut,
    PackageOut,
    PurchaseIn,
    PurchaseOut,
    VerifyIn,
    VerifyOut,
    WebhookOut,
)

router = APIRouter(prefix=API_PREFIX, tags=["credits"])
webhooks_router = APIRouter(prefix=f"{API_PREFIX}/webhooks", tags=["webhooks"])
test_checkout_router = APIRouter(
    prefix=f"{API_PREFIX}/payments/test", tags=["payments"], include_in_schema=False
)

# Providers' notifications are small; anything larger is not one of theirs.
MAX_WEBHOOK_BYTES = 256 * 1024
NOT_FOUND = responses(service.OrderNotFound)


class InvalidWebhookSignature(BadRequest):
    code = "invalid_signature"
    message = "The webhook signature is missing or does not verify."


class WebhookTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    message = "The webhook body is too large."


class WebhookProviderNotConfigured(NotFound):
    code = "payment_provider_not_configured"
    message = "This payment provider is not configured on this server."


@router.get("/credits/packages", response_model=list[PackageOut])
async def list_packages(ports: PortsDep) -> list[PackageOut]:
    """The credit packages for sale; amounts in minor units (paise, cents)."""
    return [PackageOut(**package.model_dump()) for package in ports.settings.credit_packages]


@router.post(
    "/credits/purchase",
    status_code=201,
    response_model=PurchaseOut,
    responses={
        **AUTHED,
        **responses(
            service.UnknownPackage,
            service.PaymentProviderNotConfigured,
            IdempotencyKeyReused,
            IdempotencyKeyInFlight,
            service.PaymentProviderUnavailable,
        ),
    },
)
async def purchase(
    body: PurchaseIn,
    user: CurrentUser,
    session: SessionDep,
    ports: PortsDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Open a checkout for a package; `checkout` says how the buyer pays."""
    status, payload = await service.purchase(
        session=session, ports=ports, user=user, data=body, idempotency_key=idempotency_key
    )
    return JSONResponse(payload, status_code=status)


@router.post(
    "/credits/verify",
    response_model=VerifyOut,
    responses={
        **AUTHED,
        **NOT_FOUND,
        **responses(
            service.InvalidPaymentSignature,
            service.PaymentMismatch,
            service.PaymentNotCaptured,
            service.PaymentProviderNotConfigured,
            service.PaymentProviderUnavailable,
        ),
    },
)
async def verify(
    body: VerifyIn, user: CurrentUser, session: SessionDep, ports: PortsDep
) -> VerifyOut | JSONResponse:
    """After Razorpay Checkout.js succeeds: check its signature and the capture, add credits."""
    payment = await service.verify_razorpay(session=session, ports=ports, user=user, data=body)
    if PaymentStatus(payment.status) not in service.PAID_STATES:
        # Answered without raising, so the mismatch recorded on the order is committed.
        error = service.PaymentMismatch("The payment's amount or currency differs from the order.")
        return error_response(error.status, error.code, error.detail)
    return VerifyOut(
        order_id=payment.id,
        status=payment.status,
        credits_added=payment.credits,
        balance=await service.current_balance(session, user.id),
    )


@router.get(
    "/credits/orders",
    response_model=Page[OrderOut],
    responses={**AUTHED, **responses(InvalidCursor)},
)
async def list_orders(
    user: CurrentUser, session: SessionDep, page: PageParamsDep
) -> Page[OrderOut]:
    """The caller's payment orders, newest first."""
    window = await repository.list_owned(session, user_id=user.id, page=page)
    return Page.of(window, [OrderOut.model_validate(row) for row in window.rows])


@router.get(
    "/credits/orders/{order_id}", response_model=OrderOut, responses={**AUTHED, **NOT_FOUND}
)
async def get_order(order: OwnedOrder) -> OrderOut:
    return OrderOut.model_validate(order)


async def _webhook_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise WebhookTooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_WEBHOOK_BYTES:
            raise WebhookTooLarge()
    return bytes(body)


async def _receive_webhook(
    request: Request, session: SessionDep, ports: PortsDep, name: ProviderName
) -> WebhookOut:
    if name not in ports.payments.configured():
        raise WebhookProviderNotConfigured()
    provider: PaymentProvider = ports.payments.get(name)
    body = await _webhook_body(request)
    try:
        event = provider.parse_webhook(body, request.headers)
    except InvalidSignature as exc:
        raise InvalidWebhookSignature() from exc
    await service.apply_event(session=session, ports=ports, event=event)
    return WebhookOut()


WEBHOOK_RESPONSES = responses(
    InvalidWebhookSignature, WebhookTooLarge, WebhookProviderNotConfigured
)


@webhooks_router.post("/razorpay", response_model=WebhookOut, responses=WEBHOOK_RESPONSES)
async def razorpay_webhook(request: Request, session: SessionDep, ports: PortsDep) -> WebhookOut:
    """Razorpay events, signed in `X-Razorpay-Signature`: `payment.captured` and `order.paid`
    add the credits, `refund.processed` takes back the refunded share."""
    return await _receive_webhook(request, session, ports, ProviderName.RAZORPAY)


@webhooks_router.post("/stripe", response_model=WebhookOut, responses=WEBHOOK_RESPONSES)
async def stripe_webhook(request: Request, session: SessionDep, ports: PortsDep) -> WebhookOut:
    """Stripe events, signed in `Stripe-Signature`: `checkout.session.completed` and
    `checkout.session.async_payment_succeeded` add the credits, `charge.refunded` takes back
    the refunded share."""
    return await _receive_webhook(request, session, ports, ProviderName.STRIPE)


async def _test_order(session: SessionDep, ports: PortsDep, order_id: uuid.UUID) -> Payment:
    """A test checkout order; 404 in production, when the test checkout is off, or unknown."""
    if not ports.settings.uses_test_checkout:
        raise NotFound()
    payment = await repository.get(session, order_id)
    if payment is None or payment.provider != ProviderName.TEST.value:
        raise service.OrderNotFound()
    return payment


_TEST_CHECKOUT_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}"
    "button{font-size:1.1rem;padding:.6rem 1.4rem;cursor:pointer}.note{color:#666}"
    ".done{color:#176d2c;font-weight:600}"
)
# The page's one inline style, allowed by its hash; nothing else may load or run.
_TEST_CHECKOUT_CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_TEST_CHECKOUT_STYLE.encode()).digest()).decode()
    + "'; form-action 'self'; frame-ancestors 'none'"
)


def _test_checkout_page(payment: Payment, frontend_url: str) -> str:
    price = html.escape(service.format_amount(payment.amount, payment.currency))
    package = html.escape(payment.package_id)
    status = PaymentStatus(payment.status)
    # Where Stripe Checkout returns the buyer too: the credits page, which shows the new balance.
    back = f"{frontend_url.rstrip('/')}/credits?payment=success&order_id={payment.id}"
    if status in service.PAID_STATES:
        action = (
            f"<p class=done>Paid. {payment.credits} credits were added to your account.</p>"
            f'<p><a href="{html.escape(back)}">Back to MugShot Studio</a></p>'
        )
    else:
        action = (
            f'<form method="post" action="{API_PREFIX}/payments/test/{payment.id}/pay">'
            f"<button type=submit>Pay {price}</button></form>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Test checkout: {payment.credits} credits</title>
<style>{_TEST_CHECKOUT_STYLE}</style></head>
<body><h1>Test checkout</h1>
<p>Package <strong>{package}</strong>: {payment.credits} credits for {price}.</p>
<p>Order <code>{payment.id}</code>, status <strong>{status.value}</strong>.</p>
{action}
<p class=note>No money moves: this page exists only on development servers.</p>
</body></html>"""


@test_checkout_router.get("/{order_id}", response_class=HTMLResponse)
async def test_checkout_page(
    order_id: uuid.UUID, session: SessionDep, ports: PortsDep
) -> HTMLResponse:
    payment = await _test_order(session, ports, order_id)
    return HTMLResponse(
        _test_checkout_page(payment, ports.settings.frontend_url),
        headers={"Content-Security-Policy": _TEST_CHECKOUT_CSP},
    )


@test_checkout_router.post("/{order_id}/pay")
async def test_checkout_pay(
    order_id: uuid.UUID, session: SessionDep, ports: PortsDep
) -> RedirectResponse:
    """The Pay button: reported as a paid event, applied exactly as a provider's webhook is."""
    payment = await _test_order(session, ports, order_id)
    event = ports.payments.test_checkout().payment_event(
        provider_order_id=payment.provider_order_id,
        amount=payment.amount,
        currency=payment.currency,
    )
    await service.apply_event(session=session, ports=ports, event=event)
    return RedirectResponse(f"{API_PREFIX}/payments/test/{order_id}", status_code=303)
