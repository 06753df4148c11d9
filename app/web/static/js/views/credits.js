// Credits: the balance, its ledger, packages for sale, checkout and past orders.

import { get, idempotencyKey, itemsOf, post, setUser, currentUser } from "../api.js";
import { h, money, replace, when } from "../dom.js";
import { errorBox, notice, page, section, showError } from "./ui.js";

const RAZORPAY_CHECKOUT = "https://checkout.razorpay.com/v1/checkout.js";
let razorpayLoading = null;

// Razorpay's Checkout.js, fetched the first time a buyer needs it (the page's policy allows it
// only where this server pays through Razorpay). One <script>, however often it is asked for.
function loadRazorpay() {
  if (window.Razorpay) return Promise.resolve(window.Razorpay);
  if (!razorpayLoading) {
    razorpayLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = RAZORPAY_CHECKOUT;
      script.async = true;
      script.onload = () => (window.Razorpay ? resolve(window.Razorpay) : reject(new Error("Razorpay's checkout did not start.")));
      script.onerror = () => {
        razorpayLoading = null;
        script.remove();
        reject(new Error("Razorpay's checkout could not be loaded. Check your connection and try again."));
      };
      document.head.append(script);
    });
  }
  return razorpayLoading;
}

// Opens Razorpay's payment form for `order`; settles with the form's answer or its dismissal.
async function razorpayCheckout(order, pack) {
  const Razorpay = await loadRazorpay();
  const user = currentUser();
  return new Promise((resolve) => {
    const form = new Razorpay({
      key: order.checkout.key_id,
      order_id: order.checkout.razorpay_order_id,
      amount: order.amount,
      currency: order.currency,
      name: "MugShot Studio",
      description: `${pack.name}: ${order.credits} credits`,
      prefill: user && user.email ? { email: user.email } : {},
      handler: (response) => resolve({ paid: response }),
      modal: { ondismiss: () => resolve({ dismissed: true }) },
    });
    form.open();
  });
}

const REASONS = {
  signup_bonus: "Welcome credits",
  job_charge: "Render",
  job_refund: "Render refunded",
  purchase: "Purchase",
  purchase_refund: "Purchase refunded",
  admin_grant: "Granted",
};

export async function credits(main, _params, query) {
  const [balance, packages] = await Promise.all([get("credits/balance"), get("credits/packages")]);
  const shown = h("strong", { "data-testid": "balance" }, `${balance.credits} credits`);
  const showBalance = (credits) => {
    shown.textContent = `${credits} credits`;
    const user = currentUser();
    if (user) setUser({ ...user, credits });
  };
  showBalance(balance.credits);

  const ledger = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Show older entries");
  const ledgerBox = errorBox();
  let cursor = "";
  const loadLedger = async () => {
    const params = new URLSearchParams({ limit: "20" });
    if (cursor) params.set("cursor", cursor);
    const result = await get(`credits/transactions?${params}`);
    const rows = itemsOf(result);
    for (const row of rows) {
      ledger.append(h("tr", {},
        h("td", { class: "nowrap" }, when(row.created_at, { short: true })),
        h("td", {}, REASONS[row.reason] || row.reason),
        h("td", { class: row.delta < 0 ? "num minus" : "num plus" }, row.delta > 0 ? `+${row.delta}` : String(row.delta)),
        h("td", { class: "num" }, String(row.balance_after))));
    }
    cursor = (result && result.next_cursor) || "";
    more.hidden = !cursor;
  };
  more.addEventListener("click", () => loadLedger().catch((error) => showError(ledgerBox, error)));

  const buyBox = errorBox();
  const shop = h("ul", { class: "grid packages" }, packages.map((pack) =>
    h("li", { class: `card package${pack.popular ? " popular" : ""}` },
      h("h3", {}, pack.name, pack.popular ? h("span", { class: "badge" }, "Popular") : null),
      h("p", { class: "big" }, `${pack.credits} credits`),
      h("p", {}, money(pack.amount, pack.currency)),
      h("button", {
        type: "button",
        class: "primary",
        "aria-label": `Buy ${pack.name}: ${pack.credits} credits for ${money(pack.amount, pack.currency)}`,
        onclick: async (event) => {
          const button = event.currentTarget;
          button.disabled = true;
          try {
            const order = await post("credits/purchase", { package_id: pack.id }, { headers: { "Idempotency-Key": idempotencyKey() } });
            if (order.checkout && order.checkout.url) {
              window.location.assign(order.checkout.url);
              return;
            }
            if (order.provider === "razorpay" && order.checkout && order.checkout.razorpay_order_id) {
              const answer = await razorpayCheckout(order, pack);
              if (answer.dismissed) {
                showError(buyBox, `Checkout closed before paying. Order ${order.order_id} is still pending; nothing was charged to your credits.`);
                await loadOrders();
                return;
              }
              const result = await post("credits/verify", {
                order_id: order.order_id,
                razorpay_payment_id: answer.paid.razorpay_payment_id,
                razorpay_order_id: answer.paid.razorpay_order_id,
                razorpay_signature: answer.paid.razorpay_signature,
              });
              showBalance(result.balance);
              notice(buyBox, `Paid. ${result.credits_added} credits were added.`);
              cursor = "";
              replace(ledger);
              await Promise.all([loadLedger(), loadOrders()]);
              return;
            }
            showError(buyBox, `This server pays through ${order.provider}, whose checkout this page cannot open. Order ${order.order_id} is waiting.`);
          } catch (error) {
            showError(buyBox, error);
          } finally {
            button.disabled = false;
          }
        },
      }, "Buy"))));

  const orders = h("tbody");
  const loadOrders = async () => {
    const rows = itemsOf(await get("credits/orders?limit=10"));
    replace(orders, rows.map((order) => h("tr", {},
      h("td", { class: "nowrap" }, when(order.created_at, { short: true })),
      h("td", {}, order.package_id),
      h("td", { class: "num" }, String(order.credits)),
      h("td", {}, money(order.amount, order.currency)),
      h("td", {}, order.status))));
  };

  // Scrolls sideways on a narrow screen; focusable, so the keyboard can scroll it too.
  const table = (caption, heads, body) => h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption },
    h("table", {}, h("caption", { class: "sr-only" }, caption),
      h("thead", {}, h("tr", {}, heads.map(([label, cls]) => h("th", { scope: "col", class: cls }, label)))), body));

  page(main, "Credits",
    query.get("payment") === "success" ? h("p", { class: "ok" }, "Payment received: your credits are below.") : null,
    h("p", { class: "balance" }, "Balance: ", shown),
    section("Buy credits", buyBox, shop),
    section("History", ledgerBox, table("Credit ledger", [["When"], ["What"], ["Change", "num"], ["Balance", "num"]], ledger), more),
    section("Orders", table("Payment orders", [["When"], ["Package"], ["Credits", "num"], ["Amount"], ["Status"]], orders)));
  await Promise.all([loadLedger(), loadOrders()]);
}
