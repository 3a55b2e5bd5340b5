// An order's page: its terms, its lifecycle live over the WebSocket, the routing decision (every quote,
// the winner and why), the transaction, the attempts and every event; while a limit or sniper order
// waits, how far the market is from its trigger and its Cancel button. The stream's snapshot and events
// are the source; once the order is final, the whole document is read again for what only it holds.

import { ApiError, STATUSES, TERMINAL, follow, order as readOrder } from "./api.js";
import { amount, badge, bestVenue, byId, clock, el, fill, planLine, safeLink, short, sig, since } from "./dom.js";
import { cancelButton, distance, terms, watchMarket } from "./trigger.js";

const RECONNECT_MS = 1000;
// { orderId, doc, events: Map(seq -> event), socket, closed, market, stopMarket, notice }
let current = null;

function latest(events, test) {
  let found = null;
  for (const event of events.values()) if (test(event) && (!found || event.seq > found.seq)) found = event;
  return found;
}

/** The steps this order goes through: a waiting one starts `waiting`, and may end there, expired or cancelled. */
function steps(doc) {
  const unfired = doc.status === "expired" || doc.status === "cancelled";
  if (unfired) return ["waiting", doc.status];
  const first = doc.type === "market" ? [] : ["waiting"];
  return [...first, ...STATUSES.slice(0, 4), doc.status === "failed" ? "failed" : "confirmed"];
}

function lifecycle(doc, events) {
  const firstAt = {};
  for (const event of [...events.values()].sort((a, b) => a.seq - b.seq)) {
    if (event.kind === "status" && !(event.status in firstAt)) firstAt[event.status] = event.at;
  }
  const names = steps(doc);
  const reached = names.indexOf(doc.status);
  // Back to waiting (the price moved back before the worker quoted): later steps are to come again.
  const seen = (status) => doc.status !== "waiting" && firstAt[status];
  const time = (status) => {
    const at = firstAt[status];
    if (!at || !firstAt[names[0]]) return "";
    return status === "waiting" || status === "pending" ? clock(at) : since(firstAt.pending ?? firstAt[names[0]], at);
  };
  return el("ol", { class: "lifecycle", id: "lifecycle" }, names.map((status, i) => {
    const state = status === doc.status ? (TERMINAL.has(status) ? status : "current") : seen(status) || i < reached ? "done" : "todo";
    return el("li", { class: `step ${state}`, "data-step": status },
      el("span", { class: "bullet" }), el("span", { class: "step-name" }, status),
      el("span", { class: "step-time" }, time(status)));
  }));
}

function routing(doc, events) {
  const building = latest(events, (e) => e.kind === "status" && e.status === "building");
  const data = building?.data ?? {};
  const attempt = data.attempt ?? doc.route?.attempt ?? null;
  const stored = doc.quotes.filter((q) => attempt === null || q.attempt === attempt);
  const quotes = stored.length ? stored : data.quotes ?? [];
  const chosen = data.dex ?? doc.route?.dex;
  const winner = bestVenue(quotes, chosen); // a split or a hop wins under its own name: mark the best pool
  const tag = winner === chosen ? "winner" : "best pool";
  const reason = data.reason ?? doc.route?.reason;
  if (!quotes.length) {
    const unfired = doc.status === "waiting" || doc.status === "expired" || doc.status === "cancelled";
    return el("p", { class: "dim" }, unfired ? "Not routed: it is routed once its trigger fires." : "Waiting for quotes…");
  }
  const sym = doc.tokenOut.symbol;
  return [
    el("table", { class: "grid-table", id: "routing-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "venue"), el("th", { class: "num" }, `amount out (${sym})`),
        el("th", { class: "num" }, "impact"), el("th", { class: "num" }, "latency"))),
      el("tbody", {}, quotes.map((q) => el("tr", { class: q.dex === winner ? "best" : q.error ? "failed-row" : null, "data-dex": q.dex },
        el("td", {}, q.dex, q.dex === winner ? el("span", { class: "tag" }, tag) : null),
        el("td", { class: "num" }, q.error ? el("span", { class: "error-text" }, q.error) : amount(q.amountOut)),
        el("td", { class: "num" }, q.priceImpactPct == null ? "—" : `${sig(q.priceImpactPct, 3)} %`),
        el("td", { class: "num" }, q.latencyMs == null ? "—" : `${q.latencyMs} ms`))))),
    planLine(data.routePlan ?? doc.routePlan),
    reason ? el("p", { class: "reason", id: "routing-reason" }, reason) : null,
  ];
}

function transaction(doc, events) {
  const sent = latest(events, (e) => e.data && e.data.txHash)?.data ?? {};
  const txHash = doc.txHash ?? sent.txHash;
  const explorer = doc.explorerUrl ?? sent.explorerUrl;
  const kind = doc.settlement?.kind ?? sent.settlement;
  const note = doc.settlement?.note ?? sent.note;
  const rows = [
    ["amount in", `${amount(doc.amountIn)} ${doc.tokenIn.symbol}`],
    ["min amount out", doc.minAmountOut ? `${amount(doc.minAmountOut)} ${doc.tokenOut.symbol}` : "—"],
    ["amount out", doc.amountOut ? `${amount(doc.amountOut)} ${doc.tokenOut.symbol}` : "—"],
    ["executed price", doc.executedPrice ? `${sig(doc.executedPrice, 8)} ${doc.tokenOut.symbol}/${doc.tokenIn.symbol}` : "—"],
    ["signature", txHash ? el("code", { class: "wrap", id: "tx-signature" }, txHash) : "—"],
    ["settlement", kind ? (kind === "simulated" ? "simulated ledger" : `on chain (${kind})`) : "—"],
  ];
  if (explorer) rows.push(["explorer", safeLink(explorer, "View on Solana Explorer ↗")]);
  if (note) rows.push(["note", note]);
  if (doc.failureReason && (doc.status === "cancelled" || doc.status === "expired")) {
    rows.push(["reason", el("span", { id: "failure-reason" }, doc.failureReason)]); // it ended unfired: no failure
  } else if (doc.failureReason) {
    rows.push(["failure", el("span", { class: "error-text", id: "failure-reason" }, `${doc.failureCode ?? ""} ${doc.failureReason}`)]);
  }
  return el("dl", { class: "facts" }, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function describe(event) {
  const d = event.data ?? {};
  if (event.kind === "retrying") return `attempt ${d.attempt} failed (${d.code}): ${d.reason}; attempt ${d.nextAttempt} in ${d.delayMs} ms`;
  if (event.kind === "settlement") return d.expired ? `transaction ${short(d.txHash)} expired unseen` : JSON.stringify(d);
  switch (event.status) {
    case "waiting":
      if (d.code) return `back to waiting (${d.code}): ${d.reason}`;
      return `waiting: fires at ${amount(d.triggerMinOut)} out, expires ${clock(d.expiresAt)}`;
    case "pending":
      return d.trigger ? `fired on ${d.dex}: quoted ${amount(d.quotedAmountOut)} out, at least ${amount(d.triggerMinOut)} asked` : "accepted";
    case "expired":
    case "cancelled":
      return d.reason ?? event.status;
    case "routing": return `attempt ${d.attempt}: asking ${(d.dexes ?? []).join(", ")}`;
    case "building": return `${d.dex} chosen: ${amount(d.amountOut)} out, at least ${amount(d.minAmountOut)}`;
    case "submitted": return `sent ${short(d.txHash)} (${d.settlement})`;
    case "confirmed": return `filled ${amount(d.amountOut)} at ${sig(d.executedPrice, 8)}`;
    case "failed": return `${d.code}: ${d.reason}`;
    default: return "accepted";
  }
}

function attemptsTable(doc) {
  if (!doc.attempts.length) return null;
  return [el("h3", {}, "Attempts"), el("table", { class: "grid-table", id: "attempts" },
    el("thead", {}, el("tr", {}, ["#", "started", "finished", "outcome", "error"].map((h) => el("th", {}, h)))),
    el("tbody", {}, doc.attempts.map((a) => el("tr", {}, el("td", {}, a.attempt), el("td", {}, clock(a.startedAt)),
      el("td", {}, clock(a.finishedAt)), el("td", {}, a.outcome ?? "running"),
      el("td", { class: "error-text" }, a.error ? `${a.errorCode}: ${a.error}` : "")))))];
}

/** While the order waits: how far the market is from its trigger, and the Cancel button. */
function waitingBox(state) {
  const { doc } = state;
  if (doc.status !== "waiting") return null;
  return el("div", { class: "trigger", id: "trigger" },
    distance(doc, state.market),
    cancelButton(doc.orderId, {
      onCancelled: (answer) => {
        if (current !== state) return;
        adopt(state, answer);
        render();
      },
      onRefused: (exc) => {
        if (current !== state) return;
        state.notice = `${exc.status} ${exc.code}: ${exc.message}`;
        refresh(state); // what it is now, if it fired meanwhile
      },
    }));
}

/** A DCA's children: each a market order of its own, linked to its page. */
function childrenTable(doc) {
  if (!doc.childOrders?.length) return null;
  return [el("h3", {}, `Children (${doc.childOrders.length} of ${doc.children})`),
    el("table", { class: "grid-table", id: "children" },
      el("thead", {}, el("tr", {}, ["order", "placed", "amount in", "amount out", "status"].map((h) => el("th", {}, h)))),
      el("tbody", {}, doc.childOrders.map((c) => el("tr", { "data-order": c.orderId },
        el("td", {}, el("a", { href: `#/orders/${c.orderId}` }, el("code", {}, c.orderId.slice(0, 8)))),
        el("td", { class: "dim" }, clock(c.createdAt)), el("td", { class: "num" }, amount(c.amountIn)),
        el("td", { class: "num" }, c.amountOut ? amount(c.amountOut) : ""), el("td", {}, badge(c.status))))))];
}

function render() {
  const state = current;
  const { doc, events } = state;
  if (!doc) return;
  const sorted = [...events.values()].sort((a, b) => a.seq - b.seq);
  fill(byId("order"),
    el("div", { class: "order-head" },
      el("div", {}, el("div", { class: "dim small" }, "order"), el("code", { id: "order-id" }, doc.orderId)),
      el("div", { class: "pair-line" }, el("strong", {}, `${amount(doc.amountIn)} ${doc.tokenIn.symbol}`), " → ",
        el("strong", {}, doc.amountOut ? `${amount(doc.amountOut)} ${doc.tokenOut.symbol}` : doc.tokenOut.symbol),
        el("span", { class: "dim" }, ` · ${doc.slippageBps} bps`)),
      el("span", { id: "order-status" }, badge(doc.status))),
    terms(doc),
    waitingBox(state),
    state.notice ? el("p", { class: "message error", id: "cancel-message", role: "status" }, state.notice) : null,
    lifecycle(doc, events),
    el("div", { class: "split" },
      el("div", {}, el("h3", {}, "Routing decision"), routing(doc, events)),
      el("div", {}, el("h3", {}, "Transaction"), transaction(doc, events))),
    attemptsTable(doc),
    childrenTable(doc),
    el("h3", {}, "Events"),
    el("table", { class: "grid-table events", id: "events" },
      el("tbody", {}, sorted.map((e) => el("tr", { "data-seq": e.seq },
        el("td", { class: "dim num" }, e.seq), el("td", { class: "dim" }, clock(e.at)),
        el("td", {}, e.kind === "status" ? badge(e.status) : el("span", { class: "badge kind" }, e.kind)),
        el("td", {}, describe(e)))))));
  watchWhileWaiting(state);
}

/** Quote the order's size while it waits, and stop once it does not (or another order is shown). */
function watchWhileWaiting(state) {
  const waiting = current === state && !state.closed && state.doc?.status === "waiting";
  if (waiting && !state.stopMarket) {
    state.stopMarket = watchMarket(state.doc, (market) => {
      if (current !== state) return;
      state.market = market;
      byId("trigger-distance")?.replaceWith(distance(state.doc, market)); // the button stays put under the pointer
    });
  } else if (!waiting && state.stopMarket) {
    state.stopMarket();
    state.stopMarket = null;
  }
}

function streamState(text) {
  const node = fill(byId("order-stream-state"), text);
  node.classList.toggle("live", text === "live");
}

// What a status event tells before the whole document is read again.
function live(event) {
  const d = event.data ?? {};
  if (event.status === "building") return { minAmountOut: d.minAmountOut };
  if (event.status === "confirmed") return { amountOut: d.amountOut, executedPrice: d.executedPrice };
  if (event.status === "failed") return { failureCode: d.code, failureReason: d.reason };
  return {};
}

/** Take a whole order (a snapshot, a read, a cancel's answer) as the page's. */
function adopt(state, doc) {
  state.doc = doc;
  for (const e of doc.events) state.events.set(e.seq, e);
}

function apply(message) {
  if (message.type === "snapshot") {
    adopt(current, message.order);
  } else if (message.type === "event") {
    current.events.set(message.seq, message);
    if (message.kind === "status") current.doc = { ...current.doc, status: message.status, ...live(message) };
    if (message.kind === "dca") {
      refresh(current); // a child placed: the page reads the DCA whole, its children with it
      return;
    }
  } else if (message.type === "error") {
    fill(byId("order"), el("p", { class: "error-text" }, `${message.error.code}: ${message.error.message}`));
    return;
  }
  render();
}

async function refresh(state) {
  try {
    adopt(state, await readOrder(state.orderId));
  } catch (exc) {
    if (!(exc instanceof ApiError)) throw exc;
    fill(byId("order"), el("p", { class: "error-text" }, exc.message));
    return;
  }
  if (current === state) render();
}

function connect(state) {
  const after = Math.max(0, ...state.events.keys());
  streamState("live");
  state.socket = follow(state.orderId, {
    after,
    onMessage: (message) => current === state && apply(message),
    onClose: (code) => {
      if (current !== state || state.closed) return;
      if (code === 1000) {
        streamState("final: stream closed");
        refresh(state); // attempts and stored quotes, whole
      } else if (code === 4404 || code === 4401) {
        streamState(code === 4404 ? "not found" : "needs a valid key");
      } else {
        streamState("reconnecting…");
        setTimeout(() => current === state && !state.closed && connect(state), RECONNECT_MS);
      }
    },
  });
}

/** Show and follow one order (closing the stream of the order shown before). */
export function showOrder(orderId) {
  if (current) {
    current.closed = true;
    current.socket?.close(1000);
    current.stopMarket?.();
  }
  current = { orderId, doc: null, events: new Map(), socket: null, closed: false, market: null, stopMarket: null, notice: null };
  fill(byId("order"), el("p", { class: "dim" }, `Loading ${orderId}…`));
  connect(current);
}
