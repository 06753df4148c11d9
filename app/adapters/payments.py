"""Payments port: Razorpay and Stripe checkouts, and a local test checkout served by the API.

Each adapter creates a checkout for an order and turns the provider's signed notifications into
`PaymentEvent`s; the payments service applies those to the order and the ledger. The SDKs are
imported on first use, so a deployment that sells nothing never loads them.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from app.config import API_PREFIX, CreditPackage, Settings, secret_value

if TYPE_CHECKING:
    import razorpay
    import stripe

logger = logging.getLogger("app.payments")

PROVIDER_TIMEOUT_SECONDS = 20.0


class ProviderName(StrEnum):
    RAZORPAY = "razorpay"
    STRIPE = "stripe"
    TEST = "test"


class PaymentProviderError(Exception):
    """The provider refused the request or could not be reached."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class InvalidSignature(Exception):
    """A webhook or checkout signature did not verify (or the body is not what was signed)."""


@dataclass(frozen=True, slots=True)
class NewOrder:
    order_id: uuid.UUID
    package: CreditPackage
    customer_email: str


@dataclass(frozen=True, slots=True)
class Checkout:
    provider_order_id: str
    checkout: dict[str, Any]  # what the frontend needs to open the provider's checkout


class EventKind(StrEnum):
    PAID = "paid"
    FAILED = "failed"
    REFUNDED = "refunded"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """A provider's statement about one payment, normalised across providers."""

    kind: EventKind
    provider: ProviderName
    event_type: str
    provider_order_id: str | None = None
    provider_payment_id: str | None = None
    amount: int | None = None
    currency: str | None = None
    refunded_amount: int | None = None  # cumulative, for refunds


class PaymentProvider(Protocol):
    name: ProviderName

    async def create_checkout(self, order: NewOrder) -> Checkout: ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent: ...

    async def close(self) -> None: ...


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _currency(value: object) -> str | None:
    text = _str(value)
    return text.upper() if text else None


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise InvalidSignature("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise InvalidSignature("the body is not a JSON object")
    return data


class TestCheckoutProvider:
    """Checkout pages served by this API; paying one needs no account. Never in production."""

    name = ProviderName.TEST

    def __init__(self, public_base_url: str) -> None:
        self.public_base_url = public_base_url

    async def create_checkout(self, order: NewOrder) -> Checkout:
        url = f"{self.public_base_url}{API_PREFIX}/payments/test/{order.order_id}"
        return Checkout(provider_order_id=f"test_{order.order_id.hex}", checkout={"url": url})

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        raise InvalidSignature("the test checkout has no webhook")

    def payment_event(self, *, provider_order_id: str, amount: int, currency: str) -> PaymentEvent:
        """What the Pay button reports: one payment per order, so a second click is a repeat."""
        return PaymentEvent(
            kind=EventKind.PAID,
            provider=self.name,
            event_type="test.paid",
            provider_order_id=provider_order_id,
            provider_payment_id="testpay_" + provider_order_id.removeprefix("test_"),
            amount=amount,
            currency=currency,
        )

    async def close(self) -> None:
        return None


class RazorpayProvider:
    """Razorpay Orders for Checkout.js; the official SDK is synchronous, so it runs in a thread."""

    name = ProviderName.RAZORPAY

    def __init__(self, *, key_id: str, key_secret: str, webhook_secret: str, base_url: str) -> None:
        self.key_id = key_id
        self._key_secret = key_secret
        self._webhook_secret = webhook_secret
        self.base_url = base_url.rstrip("/")
        self._client: razorpay.Client | None = None

    def client(self) -> razorpay.Client:
        if self._client is None:
            import razorpay

            self._client = razorpay.Client(
                auth=(self.key_id, self._key_secret), base_url=self.base_url
            )
        return self._client

    async def _call(self, what: str, function: Any, *args: Any) -> dict[str, Any]:
        import razorpay.errors
        import requests

        def run() -> dict[str, Any]:
            result: dict[str, Any] = function(*args, timeout=PROVIDER_TIMEOUT_SECONDS)
            return result

        try:
            return await anyio.to_thread.run_sync(run)
        except razorpay.errors.BadRequestError as exc:
            raise PaymentProviderError(f"Razorpay refused {what}: {exc}", retryable=False) from exc
        except (razorpay.errors.ServerError, razorpay.errors.GatewayError) as exc:
            raise PaymentProviderError(f"Razorpay failed {what}: {exc}", retryable=True) from exc
        except (requests.RequestException, ValueError) as exc:
            raise PaymentProviderError(
                f"Razorpay is unreachable for {what}: {type(exc).__name__}", retryable=True
            ) from exc

    async def create_checkout(self, order: NewOrder) -> Checkout:
        package = order.package
        created = await self._call(
            "the order",
            self.client().order.create,
            {
                "amount": package.amount,
                "currency": package.currency,
                "receipt": str(order.order_id),
                "notes": {"order_id": str(order.order_id), "package": package.id},
            },
        )
        razorpay_order_id = _str(created.get("id"))
        if razorpay_order_id is None:
            raise PaymentProviderError("Razorpay answered without an order id", retryable=True)
        return Checkout(
            provider_order_id=razorpay_order_id,
            checkout={"key_id": self.key_id, "razorpay_order_id": razorpay_order_id},
        )

    def verify_checkout_signature(
        self, *, razorpay_order_id: str, razorpay_payment_id: str, signature: str
    ) -> None:
        """The handler's signature: HMAC-SHA256 of `order_id|payment_id` with the key secret."""
        import razorpay.errors

        try:
            self.client().utility.verify_payment_signature(
                {
                    "razorpay_order_id": razorpay_order_id,
                    "razorpay_payment_id": razorpay_payment_id,
                    "razorpay_signature": signature,
                }
            )
        except razorpay.errors.SignatureVerificationError as exc:
            raise InvalidSignature("the checkout signature does not match") from exc

    async def fetch_payment(self, payment_id: str) -> PaymentEvent:
        """Ask Razorpay itself: a checkout signature alone does not prove the money was captured."""
        payment = await self._call("the payment", self.client().payment.fetch, payment_id)
        captured = payment.get("status") == "captured"
        return PaymentEvent(
            kind=EventKind.PAID if captured else EventKind.IGNORED,
            provider=self.name,
            event_type=f"payment.fetch:{payment.get('status')}",
            provider_order_id=_str(payment.get("order_id")),
            provider_payment_id=_str(payment.get("id")),
            amount=_int(payment.get("amount")),
            currency=_currency(payment.get("currency")),
        )

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        import razorpay.errors

        signature = headers.get("x-razorpay-signature", "")
        if not signature:
            raise InvalidSignature("X-Razorpay-Signature is missing")
        if not self._webhook_secret:
            # An empty key would let anyone sign; no secret means no webhook is trusted.
            raise InvalidSignature("RAZORPAY_WEBHOOK_SECRET is not set")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidSignature("the body is not UTF-8") from exc
        try:
            self.client().utility.verify_webhook_signature(text, signature, self._webhook_secret)
        except razorpay.errors.SignatureVerificationError as exc:
            raise InvalidSignature("the webhook signature does not match") from exc
        data = _json_body(body)
        event_type = _str(data.get("event")) or ""
        payload = _object(data.get("payload"))
        payment = _object(_object(payload.get("payment")).get("entity"))
        event = PaymentEvent(
            kind=EventKind.IGNORED,
            provider=self.name,
            event_type=event_type,
            provider_order_id=_str(payment.get("order_id")),
            provider_payment_id=_str(payment.get("id")),
            amount=_int(payment.get("amount")),
            currency=_currency(payment.get("currency")),
        )
        if event_type in ("payment.captured", "order.paid"):
            return replace(event, kind=EventKind.PAID)
        if event_type == "payment.failed":
            return replace(event, kind=EventKind.FAILED)
        if event_type == "refund.processed":
            refund = _object(_object(payload.get("refund")).get("entity"))
            refunded = _int(payment.get("amount_refunded"))
            if refunded is None:  # a payload without the payment: this refund alone
                refunded = _int(refund.get("amount"))
            return replace(
                event,
                kind=EventKind.REFUNDED,
                provider_payment_id=_str(refund.get("payment_id")) or event.provider_payment_id,
                refunded_amount=refunded,
            )
        return event

    async def close(self) -> None:
        if self._client is not None:
            self._client.session.close()


class StripeProvider:
    """Stripe Checkout Sessions through `StripeClient`, on its async httpx transport."""

    name = ProviderName.STRIPE

    def __init__(
        self,
        *,
        secret_key: str,
        webhook_secret: str,
        api_base: str,
        success_url: str,
        cancel_url: str,
    ) -> None:
        self._secret_key = secret_key
        self._webhook_secret = webhook_secret
        self.api_base = api_base.rstrip("/")
        self.success_url = success_url
        self.cancel_url = cancel_url
        self._client: stripe.StripeClient | None = None
        self._http: stripe.HTTPXClient | None = None

    def client(self) -> stripe.StripeClient:
        if self._client is None:
            import stripe

            self._http = stripe.HTTPXClient(timeout=PROVIDER_TIMEOUT_SECONDS)
            self._client = stripe.StripeClient(
                self._secret_key,
                base_addresses={"api": self.api_base},
                http_client=self._http,
                max_network_retries=1,
            )
        return self._client

    async def create_checkout(self, order: NewOrder) -> Checkout:
        import stripe

        package = order.package
        order_id = str(order.order_id)
        try:
            session = await self.client().v1.checkout.sessions.create_async(
                {
                    "mode": "payment",
                    "client_reference_id": order_id,
                    "customer_email": order.customer_email,
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": package.currency.lower(),
                                "unit_amount": package.amount,
                                "product_data": {
                                    "name": f"{package.name}: {package.credits} credits"
                                },
                            },
                        }
                    ],
                    "metadata": {"order_id": order_id, "package": package.id},
                    "payment_intent_data": {"metadata": {"order_id": order_id}},
                    "success_url": self.success_url.replace("{order_id}", order_id),
                    "cancel_url": self.cancel_url.replace("{order_id}", order_id),
                },
                # A retry of this very order can never open a second session.
                {"idempotency_key": f"checkout-{order_id}"},
            )
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as exc:
            raise PaymentProviderError(
                f"Stripe is unavailable: {type(exc).__name__}", retryable=True
            ) from exc
        except stripe.StripeError as exc:
            # Only the class and code: Stripe's messages may quote part of the key.
            raise PaymentProviderError(
                f"Stripe refused the session: {type(exc).__name__} {exc.http_status} {exc.code}",
                retryable=False,
            ) from exc
        if not session.id or not session.url:
            raise PaymentProviderError("Stripe answered without a session URL", retryable=True)
        return Checkout(provider_order_id=session.id, checkout={"url": session.url})

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        import stripe

        signature = headers.get("stripe-signature", "")
        if not signature:
            raise InvalidSignature("Stripe-Signature is missing")
        try:
            # Checks the v1 signature and that the timestamp is within five minutes.
            self.client().construct_event(body, signature, self._webhook_secret)
        except stripe.SignatureVerificationError as exc:
            raise InvalidSignature("the webhook signature does not verify") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidSignature("the body is not a Stripe event") from exc
        data = _json_body(body)
        event_type = _str(data.get("type")) or ""
        obj = _object(_object(data.get("data")).get("object"))
        if event_type in (
            "checkout.session.completed",
            "checkout.session.async_payment_succeeded",
            "checkout.session.async_payment_failed",
            "checkout.session.expired",
        ):
            event = PaymentEvent(
                kind=EventKind.IGNORED,
                provider=self.name,
                event_type=event_type,
                provider_order_id=_str(obj.get("id")),
                provider_payment_id=_str(obj.get("payment_intent")),
                amount=_int(obj.get("amount_total")),
                currency=_currency(obj.get("currency")),
            )
            if event_type.endswith(("failed", "expired")):
                return replace(event, kind=EventKind.FAILED)
            # A completed session may still wait for a delayed method (bank debit, voucher).
            if obj.get("payment_status") == "paid":
                return replace(event, kind=EventKind.PAID)
            return event
        if event_type == "charge.refunded":
            return PaymentEvent(
                kind=EventKind.REFUNDED,
                provider=self.name,
                event_type=event_type,
                provider_payment_id=_str(obj.get("payment_intent")),
                amount=_int(obj.get("amount")),
                currency=_currency(obj.get("currency")),
                refunded_amount=_int(obj.get("amount_refunded")),
            )
        return PaymentEvent(kind=EventKind.IGNORED, provider=self.name, event_type=event_type)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close_async()


class ProviderNotConfigured(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class PaymentProviders:
    """The providers this deployment has keys for, built on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._built: dict[ProviderName, PaymentProvider] = {}

    def configured(self) -> list[ProviderName]:
        settings = self.settings
        names = []
        if settings.razorpay_key_id and settings.razorpay_key_secret is not None:
            names.append(ProviderName.RAZORPAY)
        if settings.stripe_secret_key is not None:
            names.append(ProviderName.STRIPE)
        if settings.uses_test_checkout:
            names.append(ProviderName.TEST)
        return names

    def default(self) -> ProviderName | None:
        configured = self.configured()
        wanted = self.settings.payment_provider
        if wanted:
            return ProviderName(wanted) if ProviderName(wanted) in configured else None
        return configured[0] if configured else None

    def get(self, name: ProviderName) -> PaymentProvider:
        if name not in self.configured():
            raise ProviderNotConfigured(name.value)
        if name not in self._built:
            self._built[name] = self._build(name)
        return self._built[name]

    def razorpay(self) -> RazorpayProvider:
        provider = self.get(ProviderName.RAZORPAY)
        assert isinstance(provider, RazorpayProvider)
        return provider

    def test_checkout(self) -> TestCheckoutProvider:
        provider = self.get(ProviderName.TEST)
        assert isinstance(provider, TestCheckoutProvider)
        return provider

    def _build(self, name: ProviderName) -> PaymentProvider:
        settings = self.settings
        if name is ProviderName.RAZORPAY:
            return RazorpayProvider(
                key_id=settings.razorpay_key_id,
                key_secret=secret_value(settings.razorpay_key_secret),
                webhook_secret=secret_value(settings.razorpay_webhook_secret),
                base_url=settings.razorpay_base_url,
            )
        if name is ProviderName.STRIPE:
            frontend = settings.frontend_url.rstrip("/")
            return StripeProvider(
                secret_key=secret_value(settings.stripe_secret_key),
                webhook_secret=secret_value(settings.stripe_webhook_secret),
                api_base=settings.stripe_api_base,
                success_url=settings.payment_success_url
                or f"{frontend}/credits?payment=success&order_id={{order_id}}",
                cancel_url=settings.payment_cancel_url
                or f"{frontend}/credits?payment=canceled&order_id={{order_id}}",
            )
        return TestCheckoutProvider(settings.public_base_url)

    async def close(self) -> None:
        for provider in self._built.values():
            try:
                await provider.close()
            except Exception:
                logger.warning("closing the %s payment client failed", provider.name)
        self._built.clear()
