"""Buying credits through Razorpay's Checkout.js, in real Chromium against a live server.

The server creates and checks orders against the local Razorpay server (tests/support) with
the real SDK. Checkout.js itself comes from Razorpay's origin, which the tests cannot reach:
Playwright answers that URL with a stand-in that keeps the real one's boundary (it defines
`window.Razorpay`, opens its form in a frame from api.razorpay.com, and hands `handler` the
ids and the signature Razorpay would). The page's own policy still decides whether the
browser may load it, so a policy that forgot Razorpay fails these tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Route, expect

from app.config import Settings
from app.web.router import content_security_policy, pays_through_razorpay
from tests.conftest import make_settings
from tests.factories import API, TestUser, sign_up_through_api
from tests.support.live_app import LiveApp, live_site
from tests.support.razorpay_server import RazorpayServerHandle, razorpay_server
from tests.web.conftest import START_CREDITS
from tests.web.test_browser import sign_in

KEY_ID = "rzp_test_1DP5mmOlF5G5ag"
KEY_SECRET = "razorpay-key-secret-for-browser-tests"
WEBHOOK_SECRET = "razorpay-webhook-secret-for-browser-tests"
CHECKOUT_JS = "https://checkout.razorpay.com/v1/checkout.js"
CHECKOUT_FRAME = "https://api.razorpay.com/v1/checkout/public"
RAZORPAY_ORIGINS = ("https://checkout.razorpay.com", "https://api.razorpay.com")

# Checkout.js at its boundary: `new Razorpay(options)`, then `open()` shows the form in a frame
# and, once it has loaded, either pays (the handler gets Razorpay's three fields) or is closed
# (`modal.ondismiss`). PAID maps each Razorpay order id to the payment made for it.
STAND_IN = """
(() => {
  const PAID = __PAID__;
  const DISMISS = __DISMISS__;
  window.razorpayOptions = [];
  window.Razorpay = class Razorpay {
    constructor(options) {
      if (!options || !options.key || !options.order_id) throw new Error("key and order_id");
      this.options = options;
      window.razorpayOptions.push(JSON.parse(JSON.stringify(options)));
    }
    on() {}
    open() {
      const frame = document.createElement("iframe");
      frame.src = "__FRAME__";
      frame.title = "Razorpay Checkout";
      frame.addEventListener("load", () => {
        frame.remove();
        if (DISMISS) {
          this.options.modal.ondismiss();
          return;
        }
        const paid = PAID[this.options.order_id];
        this.options.handler({
          razorpay_payment_id: paid.payment_id,
          razorpay_order_id: this.options.order_id,
          razorpay_signature: paid.signature,
        });
      });
      document.body.append(frame);
    }
  };
})();
"""


def checkout_signature(order_id: str, payment_id: str) -> str:
    """As Razorpay signs a Checkout.js payment: hex HMAC-SHA256 of `order_id|payment_id`."""
    message = f"{order_id}|{payment_id}".encode()
    return hmac.new(KEY_SECRET.encode(), message, hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def razorpay() -> Iterator[RazorpayServerHandle]:
    with razorpay_server(KEY_ID, KEY_SECRET, WEBHOOK_SECRET) as handle:
        yield handle


def razorpay_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "payment_provider": "razorpay",
        "razorpay_key_id": KEY_ID,
        "razorpay_key_secret": KEY_SECRET,
        "razorpay_webhook_secret": WEBHOOK_SECRET,
    }
    values.update(overrides)
    return make_settings(**values)


@pytest.fixture(scope="module")
async def site(
    sqlite_database: str,
    tmp_path_factory: pytest.TempPathFactory,
    razorpay: RazorpayServerHandle,
) -> AsyncIterator[LiveApp]:
    """The app as a Razorpay deployment serves it (this module's own `site`)."""
    data_dir = tmp_path_factory.mktemp("razorpay-site")

    def settings_for(url: str) -> Settings:
        return razorpay_settings(
            database_url=sqlite_database,
            data_dir=data_dir,
            public_base_url=url,
            frontend_url="",
            allowed_origins=url,
            default_user_credits=START_CREDITS,
            razorpay_base_url=razorpay.url,
            log_level="ERROR",
        )

    async with live_site(settings_for) as live:
        yield live


class Checkout:
    """Answers Razorpay's origins for the page: the stand-in Checkout.js and its form."""

    def __init__(self, razorpay: RazorpayServerHandle, *, dismiss: bool = False) -> None:
        self.razorpay = razorpay
        self.dismiss = dismiss
        self.script_requests = 0
        self.frame_requests = 0
        self.paid: dict[str, dict[str, str]] = {}
        # Orders other tests left open are not this buyer's to pay.
        self.earlier = set(razorpay.orders)

    async def install(self, page: Page) -> None:
        await page.route(CHECKOUT_JS, self.script)
        await page.route(CHECKOUT_FRAME, self.frame)

    async def script(self, route: Route) -> None:
        self.script_requests += 1
        if not self.dismiss:
            # The buyer pays each open order on Razorpay's side; the server learns the payment.
            for order_id, order in list(self.razorpay.orders.items()):
                if order["status"] == "created" and order_id not in self.earlier | set(self.paid):
                    payment_id = self.razorpay.pay(order_id).razorpay_payment_id
                    self.paid[order_id] = {
                        "payment_id": payment_id,
                        "signature": checkout_signature(order_id, payment_id),
                    }
        body = (
            STAND_IN.replace("__PAID__", json.dumps(self.paid))
            .replace("__DISMISS__", json.dumps(self.dismiss))
            .replace("__FRAME__", CHECKOUT_FRAME)
        )
        await route.fulfill(status=200, content_type="application/javascript", body=body)

    async def frame(self, route: Route) -> None:
        self.frame_requests += 1
        await route.fulfill(
            status=200, content_type="text/html", body="<!doctype html><title>Pay</title>"
        )


async def api_get(http: httpx.AsyncClient, user: TestUser, path: str) -> httpx.Response:
    response = await http.get(f"{API}{path}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response


async def balance_and_ledger(
    http: httpx.AsyncClient, user: TestUser
) -> tuple[int, list[dict[str, Any]]]:
    credits = (await api_get(http, user, "/credits/balance")).json()["credits"]
    rows = (await api_get(http, user, "/credits/transactions?limit=100")).json()["items"]
    assert credits == sum(row["delta"] for row in rows)
    return credits, rows


class TestRazorpayCheckout:
    async def test_paying_in_checkout_js_adds_the_credits_once(
        self, page: Page, site: LiveApp, http: httpx.AsyncClient, razorpay: RazorpayServerHandle
    ):
        person = await sign_up_through_api(http, site.app)
        checkout = Checkout(razorpay)
        await checkout.install(page)
        await sign_in(page, person.email)
        await page.goto("/credits")
        await expect(page.get_by_test_id("balance")).to_have_text(f"{START_CREDITS} credits")
        # Nothing of Razorpay's is loaded until someone buys.
        assert checkout.script_requests == 0

        async with page.expect_response(re.compile(r"/credits/verify$")) as verified:
            await page.get_by_role("button", name=re.compile("^Buy Starter")).click()
        assert (await verified.value).status == 200
        await expect(page.get_by_text("Paid. 50 credits were added.")).to_be_visible()
        await expect(page.get_by_test_id("balance")).to_have_text(f"{START_CREDITS + 50} credits")
        await expect(page.get_by_role("cell", name="Purchase", exact=True)).to_have_count(1)
        await expect(page.get_by_role("cell", name="paid", exact=True)).to_have_count(1)

        # Checkout.js was asked for once, opened its form, and got what the API created.
        assert checkout.script_requests == 1
        assert checkout.frame_requests == 1
        assert await page.locator(f'script[src="{CHECKOUT_JS}"]').count() == 1
        [(order_id, paid)] = checkout.paid.items()
        [options] = await page.evaluate("() => window.razorpayOptions")
        assert options["key"] == KEY_ID
        assert options["order_id"] == order_id
        assert options["amount"] == razorpay.orders[order_id]["amount"] == 19900
        assert options["currency"] == "INR"
        assert options["name"]
        assert "Starter" in options["description"]
        assert options["prefill"] == {"email": person.email}
        assert ("GET", f"/v1/payments/{paid['payment_id']}") in razorpay.requests

        # The balance rose once and the ledger says why, also after a reload.
        credits, rows = await balance_and_ledger(http, person)
        assert credits == START_CREDITS + 50
        purchases = [row for row in rows if row["reason"] == "purchase"]
        assert [(row["delta"], row["reference"]) for row in purchases] == [
            (50, f"payment:razorpay:{paid['payment_id']}")
        ]
        await page.reload()
        await expect(page.get_by_test_id("balance")).to_have_text(f"{START_CREDITS + 50} credits")
        await expect(page.get_by_role("cell", name="Purchase", exact=True)).to_have_count(1)

    async def test_closing_checkout_leaves_the_order_pending(
        self, page: Page, site: LiveApp, http: httpx.AsyncClient, razorpay: RazorpayServerHandle
    ):
        person = await sign_up_through_api(http, site.app)
        checkout = Checkout(razorpay, dismiss=True)
        await checkout.install(page)
        await sign_in(page, person.email)
        await page.goto("/credits")

        await page.get_by_role("button", name=re.compile("^Buy Starter")).click()

        await expect(page.get_by_text(re.compile(r"Checkout closed before paying"))).to_be_visible()
        await expect(page.get_by_text(re.compile(r"still pending"))).to_be_visible()
        await expect(page.get_by_role("cell", name="created", exact=True)).to_have_count(1)
        await expect(page.get_by_test_id("balance")).to_have_text(f"{START_CREDITS} credits")
        orders = (await api_get(http, person, "/credits/orders")).json()["items"]
        assert [order["status"] for order in orders] == ["created"]
        credits, rows = await balance_and_ledger(http, person)
        assert credits == START_CREDITS
        assert [row["reason"] for row in rows] == ["signup_bonus"]

    async def test_a_refused_verify_shows_the_apis_message(
        self, page: Page, site: LiveApp, http: httpx.AsyncClient, razorpay: RazorpayServerHandle
    ):
        person = await sign_up_through_api(http, site.app)
        await sign_in(page, person.email)
        await page.goto("/credits")
        # A signature made with the wrong secret: the API refuses it and the page says so.
        await page.add_init_script(
            "window.Razorpay = class { constructor(o) { this.o = o; } open() {"
            " this.o.handler({razorpay_payment_id: 'pay_Forged0000000a',"
            " razorpay_order_id: this.o.order_id, razorpay_signature: '0'.repeat(64)}); } };"
        )
        await page.reload()

        async with page.expect_response(re.compile(r"/credits/verify$")) as verified:
            await page.get_by_role("button", name=re.compile("^Buy Starter")).click()
        answer = await verified.value
        assert answer.status == 400
        refusal = await answer.json()
        assert refusal["code"] == "invalid_signature"
        await expect(page.get_by_text(refusal["detail"], exact=True)).to_be_visible()
        await expect(page.get_by_test_id("balance")).to_have_text(f"{START_CREDITS} credits")
        credits, _ = await balance_and_ledger(http, person)
        assert credits == START_CREDITS


class TestPolicy:
    async def test_the_razorpay_page_allows_checkout_js_and_its_frames(
        self, http: httpx.AsyncClient
    ):
        policy = (await http.get("/credits")).headers["content-security-policy"]
        assert "script-src 'self' https://checkout.razorpay.com;" in policy
        assert "frame-src https://api.razorpay.com https://checkout.razorpay.com;" in policy
        assert "connect-src 'self';" in policy
        assert "frame-ancestors 'none'" in policy

    def test_only_a_razorpay_deployment_names_razorpay(self):
        assert pays_through_razorpay(razorpay_settings())
        # Razorpay's keys and nothing chosen: the first configured provider is Razorpay.
        assert pays_through_razorpay(razorpay_settings(payment_provider=""))
        assert not pays_through_razorpay(make_settings())
        assert not pays_through_razorpay(razorpay_settings(payment_provider="test"))
        # Asked for, but without keys, Razorpay is not what the page pays through.
        assert not pays_through_razorpay(make_settings(payment_provider="razorpay"))
        stripe = {"stripe_secret_key": "sk_test_1", "stripe_webhook_secret": "whsec_1"}
        assert not pays_through_razorpay(make_settings(payment_provider="stripe", **stripe))

        plain = content_security_policy("https://abc.supabase.co")
        assert not [origin for origin in RAZORPAY_ORIGINS if origin in plain]
        assert "frame-src" not in plain
        assert "script-src 'self';" in plain
        with_razorpay = content_security_policy("https://abc.supabase.co", razorpay=True)
        assert all(origin in with_razorpay for origin in RAZORPAY_ORIGINS)
        assert "img-src 'self' data: blob: https://abc.supabase.co;" in with_razorpay
