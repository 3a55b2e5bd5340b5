// Recent orders (GET /api/orders/recent), newest first, with a status filter; a row opens the order.
// Limit and sniper orders show their type, and until they fill, the amount out they fire at.

import { ApiError, apiKey, recent } from "./api.js";
import { amount, badge, byId, clock, el, fill, short } from "./dom.js";

const EVERY_MS = 3000;
const COLUMNS = 8;

function out(o) {
  if (o.amountOut) return amount(o.amountOut);
  if (o.type !== "market" && o.triggerMinOut) return el("span", { class: "dim", title: "fires at" }, `≥ ${amount(o.triggerMinOut)}`);
  return "—";
}

function row(o) {
  const open = () => {
    location.hash = `#/orders/${o.orderId}`;
  };
  const selected = location.hash === `#/orders/${o.orderId}`;
  return el("tr", { "data-order": o.orderId, class: selected ? "selected" : null, tabindex: 0, onclick: open, onkeydown: (e) => e.key === "Enter" && open() },
    el("td", { class: "dim" }, clock(o.createdAt)),
    el("td", {}, el("code", { title: o.orderId }, short(o.orderId, 4))),
    el("td", { class: `type type-${o.type}`, "data-type": o.type }, o.type),
    el("td", {}, `${o.tokenIn.symbol} → ${o.tokenOut.symbol}`),
    el("td", { class: "num" }, amount(o.amountIn)),
    el("td", { class: "num" }, out(o)),
    el("td", {}, o.dex ?? "—"),
    el("td", {}, badge(o.status)));
}

export function setupRecent() {
  const filter = byId("recent-status");
  async function load() {
    const body = byId("recent").tBodies[0];
    if (!apiKey()) {
      fill(body, el("tr", {}, el("td", { colspan: COLUMNS, class: "dim" }, "Paste an API key to see your orders.")));
      return;
    }
    try {
      const page = await recent(filter.value);
      fill(body, page.orders.length ? page.orders.map(row)
        : el("tr", {}, el("td", { colspan: COLUMNS, class: "dim" }, filter.value ? `No ${filter.value} orders.` : "No orders yet.")));
    } catch (exc) {
      if (!(exc instanceof ApiError)) throw exc;
      fill(body, el("tr", {}, el("td", { colspan: COLUMNS, class: "error-text" }, exc.message)));
    }
  }
  filter.addEventListener("change", load);
  window.addEventListener("hashchange", load);
  setInterval(() => document.hidden || load(), EVERY_MS);
  load();
  return load;
}
