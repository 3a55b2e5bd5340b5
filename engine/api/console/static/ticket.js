// The order ticket: place a market, limit or sniper order, or ask for a quote. The server is the only judge
// of the input: a refused request shows the error envelope's reason beside each field it names.

import { ApiError, placeOrder, quote } from "./api.js";
import { amount, bestVenue, byId, el, fill, planLine, sig } from "./dom.js";

// The terms each order type adds, as the API names them; the ticket sends only the chosen type's.
const EXPIRY = ["expiresInS", "expiresAt"];
const TERMS = {
  market: [],
  limit: ["limitPrice", ...EXPIRY],
  takeProfit: ["limitPrice", ...EXPIRY],
  sniper: ["limitPrice", "minAmountOut", ...EXPIRY],
  stop: ["stopPrice", ...EXPIRY],
  trailingStop: ["trailBps", ...EXPIRY],
  oco: ["limitPrice", "stopPrice", ...EXPIRY],
  dca: ["children", "intervalS", "bandMin", "bandMax"],
};
const WHOLE = /^\d+$/;

const form = () => byId("ticket");

function orderType() {
  return String(new FormData(form()).get("type") ?? "market");
}

/** What a quote asks: the pair, the size and the slippage, as typed. */
function quoteRequest() {
  const data = new FormData(form());
  const text = (name) => String(data.get(name) ?? "").trim();
  const slippage = text("slippageBps");
  // Sent as typed: the API parses the amount exactly and names what is wrong with any field.
  return {
    tokenIn: text("tokenIn"),
    tokenOut: text("tokenOut"),
    amountIn: text("amountIn"),
    slippageBps: WHOLE.test(slippage) ? Number(slippage) : slippage,
  };
}

/** The order: the quote's fields, the type, the terms of that type that were filled in, and the reference. */
function orderRequest() {
  const data = new FormData(form());
  const text = (name) => String(data.get(name) ?? "").trim();
  const type = orderType();
  const order = { type, ...quoteRequest() };
  for (const name of TERMS[type]) {
    const value = text(name);
    if (!value) continue; // left out, so a missing term is named by the API ("limitPrice: is required ...")
    if (["expiresInS", "trailBps", "children", "intervalS"].includes(name)) order[name] = WHOLE.test(value) ? Number(value) : value;
    else if (name === "expiresAt") order.expiresAt = isoWithZone(value);
    else order[name] = value;
  }
  const ref = text("clientRef");
  if (ref) order.clientRef = ref;
  return order;
}

/** A datetime-local value is the browser's local time without a zone; the API wants the zone. */
function isoWithZone(local) {
  const when = new Date(local);
  return Number.isNaN(when.getTime()) ? local : when.toISOString();
}

/** Show the chosen type's fields, and name each price's units after the pair typed. */
function showType() {
  const type = orderType();
  for (const node of form().querySelectorAll("[data-for]")) node.hidden = !node.dataset.for.split(" ").includes(type);
  for (const label of form().querySelectorAll(".order-type label")) {
    label.classList.toggle("chosen", label.querySelector("input").checked);
  }
  fill(byId("place-button"), `Place ${type} order`);
  showUnits();
}

function showUnits() {
  const { tokenIn, tokenOut } = quoteRequest();
  const [sold, bought] = [tokenIn || "tokenIn", tokenOut || "tokenOut"];
  const units = { "out-per-in": `${bought} per ${sold}`, out: bought };
  for (const node of form().querySelectorAll("[data-unit]")) fill(node, `(${units[node.dataset.unit]})`);
}

function clearErrors() {
  for (const node of form().querySelectorAll(".field-error")) fill(node);
  for (const node of form().querySelectorAll("input")) node.removeAttribute("aria-invalid");
  fill(byId("ticket-message")).className = "message";
}

function showError(exc) {
  const message = byId("ticket-message");
  message.className = "message error";
  const unplaced = [];
  for (const { field, reason } of exc.fields ?? []) {
    const slot = form().querySelector(`.field-error[data-field="${CSS.escape(field)}"]`);
    if (slot && !slot.closest("[hidden]")) {
      fill(slot, reason);
      form().elements.namedItem(field)?.setAttribute("aria-invalid", "true");
    } else {
      unplaced.push(`${field}: ${reason}`);
    }
  }
  const title = exc.status ? `${exc.status} ${exc.code}` : exc.code;
  fill(message, el("strong", {}, title), " ", exc.fields?.length ? unplaced.join("; ") || "see the fields above" : exc.message);
}

function busy(on) {
  for (const id of ["quote-button", "place-button"]) byId(id).disabled = on;
}

async function run(action) {
  clearErrors();
  busy(true);
  try {
    await action();
  } catch (exc) {
    if (!(exc instanceof ApiError)) throw exc;
    showError(exc);
  } finally {
    busy(false);
  }
}

/** Every venue's quote, the winner marked, and why it won. */
export function renderQuote(answer) {
  const best = answer.route;
  // When a split or a hop wins, the venue that pays most alone is still marked, as the best single pool.
  const winner = bestVenue(answer.quotes, best.dex);
  const tag = winner === best.dex ? "best" : "best pool";
  const rows = answer.quotes.map((q) =>
    el(
      "tr",
      { class: q.dex === winner ? "best" : q.error ? "failed-row" : null, "data-dex": q.dex },
      el("td", {}, q.dex, q.dex === winner ? el("span", { class: "tag" }, tag) : null),
      q.error
        ? el("td", { class: "error-text", colspan: 3 }, q.error)
        : [el("td", { class: "num" }, amount(q.amountOut)), el("td", { class: "num" }, sig(q.price)),
           el("td", { class: "num" }, `${sig(q.priceImpactPct, 2)} %`)],
      el("td", { class: "num" }, `${q.latencyMs} ms`),
    ),
  );
  fill(
    byId("quote"),
    el("p", { class: "quote-head" },
      el("strong", {}, `${amount(answer.amountIn)} ${answer.tokenIn.symbol}`), " → ",
      el("strong", {}, `${amount(best.amountOut)} ${answer.tokenOut.symbol}`),
      el("span", { class: "dim" }, ` · min ${amount(answer.minAmountOut)} at ${answer.slippageBps} bps`)),
    el("table", { class: "grid-table", id: "quote-table" },
      el("thead", {}, el("tr", {}, ["venue", `out (${answer.tokenOut.symbol})`, "price", "impact", "latency"].map((h, i) =>
        el("th", { class: i > 0 ? "num" : null }, h)))),
      el("tbody", {}, rows)),
    planLine(answer.routePlan),
    el("p", { class: "reason" }, best.reason),
  );
}

/** Wire the ticket; `onPlaced(orderId)` follows a new order. */
export function setupTicket({ onPlaced }) {
  let pending = null; // one Idempotency-Key per order until it is accepted: a retry after a lost answer places it once
  form().addEventListener("change", (event) => event.target.name === "type" && showType());
  form().addEventListener("input", (event) => {
    const name = event.target.name;
    if (name === "tokenIn" || name === "tokenOut") showUnits();
    // An expiry is a duration or a time, never both: typing one clears the other.
    const other = { expiresInS: "expiresAt", expiresAt: "expiresInS" }[name];
    if (other && event.target.value) form().elements.namedItem(other).value = "";
  });
  showType();
  form().addEventListener("submit", (event) => {
    event.preventDefault();
    const order = orderRequest();
    const signature = JSON.stringify(order);
    if (pending?.signature !== signature) pending = { signature, key: crypto.randomUUID() };
    run(async () => {
      const accepted = await placeOrder(order, pending.key);
      pending = null;
      const message = byId("ticket-message");
      message.className = "message ok";
      fill(message, accepted.status === "waiting" ? "Accepted, waiting: " : "Accepted: ", el("code", {}, accepted.orderId));
      onPlaced(accepted.orderId);
    });
  });
  byId("quote-button").addEventListener("click", () => run(async () => renderQuote(await quote(quoteRequest()))));
}
