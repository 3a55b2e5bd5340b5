// A limit or sniper order's part of its page: its terms, how far the market is from its trigger, and its
// Cancel button. There is no price feed: while the order waits, the page asks POST /api/quotes for the
// order's own pair and size every few seconds and sets the best venue's amount out against triggerMinOut,
// the floor the watcher fires the order at (it prices each venue's quote for the whole size, as this does).

import { ApiError, cancelOrder, quote } from "./api.js";
import { amount, clock, el, fill, raw, sig, until, when } from "./dom.js";

export const MARKET_EVERY_MS = 3000;

/** The order's terms: its type, its limit or cap, the amount out it fires at, its expiry, its reference. */
export function terms(doc) {
  const [sold, bought] = [doc.tokenIn.symbol, doc.tokenOut.symbol];
  const waits = doc.type !== "market";
  const rows = [["type", "type", doc.type]];
  if (doc.limitPrice) rows.push(["limitPrice", "limit price", `${amount(doc.limitPrice)} ${bought}/${sold}`]);
  if (doc.stopPrice) rows.push(["stopPrice", "stop price", `${amount(doc.stopPrice)} ${bought}/${sold}`]);
  if (doc.trailBps) rows.push(["trailBps", "trail", `${doc.trailBps} bps below the best quote`]);
  if (doc.peakAmountOut) rows.push(["peakAmountOut", "best quote so far", `${amount(doc.peakAmountOut)} ${bought}`]);
  if (waits && doc.triggerMaxOut) rows.push(["triggerMaxOut", "stops at", `≤ ${amount(doc.triggerMaxOut)} ${bought}`]);
  if (waits && doc.triggerMinOut) rows.push(["triggerMinOut", "fires at", `≥ ${amount(doc.triggerMinOut)} ${bought}`]);
  if (doc.expiresAt) {
    const left = doc.status === "waiting" ? el("span", { class: "dim" }, ` (${until(doc.expiresAt)})`) : null;
    rows.push(["expiresAt", doc.status === "expired" ? "expired" : "expires", when(doc.expiresAt), left]);
  }
  if (doc.children) rows.push(["children", "children", `${doc.childrenPlaced ?? 0} of ${doc.children} placed, every ${doc.intervalS} s`]);
  if (doc.bandMin || doc.bandMax) rows.push(["band", "band", `${doc.bandMin ? amount(doc.bandMin) : "…"} to ${doc.bandMax ? amount(doc.bandMax) : "…"} ${bought}/${sold}`]);
  if (doc.parentId) rows.push(["parentId", "placed by", el("a", { href: `#/orders/${doc.parentId}` }, doc.parentId.slice(0, 8))]);
  if (doc.triggeredAt) rows.push(["triggeredAt", "fired", when(doc.triggeredAt)]);
  if (doc.clientRef) rows.push(["clientRef", "client ref", el("code", {}, doc.clientRef)]);
  return el("dl", { class: "terms", id: "terms" }, rows.map(([key, label, ...value]) =>
    el("div", { class: "term", "data-term": key }, el("dt", {}, label), el("dd", {}, value))));
}

function bestQuote(quotes) {
  let best = null;
  for (const q of quotes ?? []) {
    if (q.error || q.amountOut == null) continue;
    if (!best || Number(q.amountOut) > Number(best.amountOut)) best = q;
  }
  return best;
}

function percent(part, whole) {
  const pct = (Number(part) / Number(whole)) * 100;
  return pct < 0.01 ? "< 0.01" : sig(pct, 3);
}

/** "market pays 148.2 USDC; fires at 150 USDC (1.21 % away)", from the latest quote of the order's size. */
export function distance(doc, market) {
  const out = doc.tokenOut;
  if (doc.type === "dca") {
    return el("p", { id: "trigger-distance", class: "distance" }, `placing ${doc.children} market orders of about `,
      el("strong", {}, `${amount(String(Number(doc.amountIn) / doc.children))} ${doc.tokenIn.symbol}`),
      `, one every ${doc.intervalS} s; ${doc.childrenPlaced ?? 0} placed so far`);
  }
  const target = `${amount(doc.triggerMinOut)} ${out.symbol}`;
  const goal = doc.triggerMinOut ? target : doc.triggerMaxOut ? `≤ ${amount(doc.triggerMaxOut)} ${out.symbol}`
    : doc.trailBps ? `${doc.trailBps} bps below the best quote` : "the first executable quote";
  const line = (attrs, ...children) => el("p", { id: "trigger-distance", class: "distance", ...attrs }, children);
  if (!market) return line({ class: "distance dim" }, `fires at ${goal}; asking the market…`);
  const asOf = el("span", { class: "dim small" }, ` · as of ${clock(market.at)}`);
  const best = market.answer ? bestQuote(market.answer.quotes) : null;
  if (!best) {
    const why = !market.error ? "no venue quoted it" : market.error.code === "unsupported_pair" ? "no pool trades it" : market.error.message;
    return line({ "data-reached": "false", title: market.error?.message }, `no quote for ${doc.tokenIn.symbol} → ${out.symbol} yet; fires at ${goal}`,
      el("span", { class: "dim small" }, ` (${why})`), asOf);
  }
  const pays = [`market pays `, el("strong", {}, `${amount(best.amountOut)} ${out.symbol}`), el("span", { class: "dim" }, ` on ${best.dex}`)];
  const stop = stopLevel(doc);
  if (stop !== null && (!doc.triggerMinOut || doc.type === "oco")) {
    // A stop (or trailing stop, or an OCO's stop side) fires on a fall to its level.
    const have = raw(best.amountOut, out.decimals);
    const level = `${amount(formatRaw(stop, out.decimals))} ${out.symbol}`;
    const attrs = { "data-market-out": best.amountOut, "data-stop-out": formatRaw(stop, out.decimals), "data-reached": String(have <= stop) };
    const rise = doc.type === "oco" ? `, or rises to ${target}` : "";
    if (have <= stop) return line(attrs, pays, `; stops at ≤ ${level}${rise} (trigger reached: it fires at the watcher's next look)`, asOf);
    return line(attrs, pays, `; stops at ≤ ${level}${rise} (`, el("strong", { class: "away" }, `${percent(have - stop, have)} % away`), ")", asOf);
  }
  if (!doc.triggerMinOut) return line({ "data-reached": "true" }, pays, "; it fires once the watcher sees the trailing peak", asOf);
  const [have, need] = [raw(best.amountOut, out.decimals), raw(doc.triggerMinOut, out.decimals)];
  const attrs = { "data-market-out": best.amountOut, "data-trigger-min-out": doc.triggerMinOut, "data-reached": String(have >= need) };
  if (have >= need) return line(attrs, pays, `; fires at ${target} (trigger reached: it fires at the watcher's next look)`, asOf);
  return line(attrs, pays, `; fires at ${target} (`, el("strong", { class: "away" }, `${percent(need - have, have)} % away`), ")", asOf);
}

/** The raw amount out at or below which a stop-like order fires now, or null (a trailing stop before its peak). */
function stopLevel(doc) {
  const decimals = doc.tokenOut.decimals;
  if (doc.triggerMaxOut) return raw(doc.triggerMaxOut, decimals);
  if (doc.trailBps && doc.peakAmountOut) return (raw(doc.peakAmountOut, decimals) * BigInt(10000 - doc.trailBps)) / 10000n;
  return null;
}

function formatRaw(value, decimals) {
  const text = value.toString().padStart(decimals + 1, "0");
  const whole = text.slice(0, text.length - decimals);
  const frac = decimals ? text.slice(text.length - decimals).replace(/0+$/, "") : "";
  return frac ? `${whole}.${frac}` : whole;
}

/**
 * Quote the order's pair and size every few seconds while the page shows it; `onMarket` gets
 * `{answer, at}` or `{error, at}`. Returns the function that stops it.
 */
export function watchMarket(doc, onMarket) {
  const request = { tokenIn: doc.tokenIn.mint, tokenOut: doc.tokenOut.mint, amountIn: doc.amountIn, slippageBps: doc.slippageBps };
  let stopped = false;
  let timer = null;
  async function tick() {
    if (stopped) return;
    if (!document.hidden) {
      let market;
      try {
        market = { answer: await quote(request), at: new Date().toISOString() };
      } catch (exc) {
        if (!(exc instanceof ApiError)) throw exc;
        market = { error: exc, at: new Date().toISOString() }; // a sniper's pair has no pool yet: said, not fatal
      }
      if (stopped) return;
      onMarket(market);
    }
    timer = setTimeout(tick, MARKET_EVERY_MS);
  }
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** The Cancel button: `onCancelled(doc)` with the order now cancelled, or `onRefused(error)` (409 once it fired). */
export function cancelButton(orderId, { onCancelled, onRefused }) {
  const button = el("button", { type: "button", id: "cancel-button", class: "danger" }, "Cancel order");
  button.addEventListener("click", async () => {
    button.disabled = true;
    fill(button, "Cancelling…");
    try {
      onCancelled(await cancelOrder(orderId));
    } catch (exc) {
      if (!(exc instanceof ApiError)) throw exc;
      onRefused(exc);
    }
  });
  return button;
}
