// Credits: the balance, its ledger, packages for sale, checkout and past orders.

import { get, idempotencyKey, itemsOf, post, setUser, currentUser } from "../api.js";
import { h, money, replace, when } from "../dom.js";
import { errorBox, page, section, showError } from "./ui.js";

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
  const user = currentUser();
  if (user) setUser({ ...user, credits: balance.credits });

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
    h("p", { class: "balance" }, "Balance: ", h("strong", { "data-testid": "balance" }, `${balance.credits} credits`)),
    section("Buy credits", buyBox, shop),
    section("History", ledgerBox, table("Credit ledger", [["When"], ["What"], ["Change", "num"], ["Balance", "num"]], ledger), more),
    section("Orders", table("Payment orders", [["When"], ["Package"], ["Credits", "num"], ["Amount"], ["Status"]], orders)));
  await Promise.all([loadLedger(), loadOrders()]);
}
