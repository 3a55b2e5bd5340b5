// An order's page: its lifecycle live over the WebSocket, the routing decision (every quote, the winner
// and why), the transaction, the attempts and every event. The stream's snapshot and events are the
// source; once the order is final, the whole document is read again for what only it holds.

import { ApiError, STATUSES, TERMINAL, follow, order as readOrder } from "./api.js";
import { amount, badge, bestVenue, byId, clock, el, fill, planLine, safeLink, short, sig, since } from "./dom.js";

const RECONNECT_MS = 1000;
let current = null; // { orderId, doc, events: Map(seq -> event), socket, closed }

function latest(events, test) {
  let found = null;
  for (const event of events.values()) if (test(event) && (!found || event.seq > found.seq)) found = event;
  return found;
}

function lifecycle(doc, events) {
  const firstAt = {};
  for (const event of [...events.values()].sort((a, b) => a.seq - b.seq)) {
    if (event.kind === "status" && !(event.status in firstAt)) firstAt[event.status] = event.at;
  }
  const failed = doc.status === "failed";
  const steps = [...STATUSES.slice(0, 4), failed ? "failed" : "confirmed"];
  const reached = STATUSES.indexOf(doc.status);
  return el("ol", { class: "lifecycle", id: "lifecycle" }, steps.map((status, i) => {
    const at = firstAt[status];
    const state = status === doc.status ? (TERMINAL.has(status) ? status : "current") : at || i < reached ? "done" : "todo";
    return el("li", { class: `step ${state}`, "data-step": status },
      el("span", { class: "bullet" }), el("span", { class: "step-name" }, status),
      el("span", { class: "step-time" }, at && firstAt.pending ? (status === "pending" ? clock(at) : since(firstAt.pending, at)) : ""));
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
  if (!quotes.length) return el("p", { class: "dim" }, "Waiting for quotes…");
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
  if (doc.failureReason) rows.push(["failure", el("span", { class: "error-text", id: "failure-reason" }, `${doc.failureCode ?? ""} ${doc.failureReason}`)]);
  return el("dl", { class: "facts" }, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function describe(event) {
  const d = event.data ?? {};
  if (event.kind === "retrying") return `attempt ${d.attempt} failed (${d.code}): ${d.reason}; attempt ${d.nextAttempt} in ${d.delayMs} ms`;
  if (event.kind === "settlement") return d.expired ? `transaction ${short(d.txHash)} expired unseen` : JSON.stringify(d);
  switch (event.status) {
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

function render() {
  const { doc, events } = current;
  if (!doc) return;
  const sorted = [...events.values()].sort((a, b) => a.seq - b.seq);
  fill(byId("order"),
    el("div", { class: "order-head" },
      el("div", {}, el("div", { class: "dim small" }, "order"), el("code", { id: "order-id" }, doc.orderId)),
      el("div", { class: "pair-line" }, el("strong", {}, `${amount(doc.amountIn)} ${doc.tokenIn.symbol}`), " → ",
        el("strong", {}, doc.amountOut ? `${amount(doc.amountOut)} ${doc.tokenOut.symbol}` : doc.tokenOut.symbol),
        el("span", { class: "dim" }, ` · ${doc.slippageBps} bps`)),
      el("span", { id: "order-status" }, badge(doc.status))),
    lifecycle(doc, events),
    el("div", { class: "split" },
      el("div", {}, el("h3", {}, "Routing decision"), routing(doc, events)),
      el("div", {}, el("h3", {}, "Transaction"), transaction(doc, events))),
    attemptsTable(doc),
    el("h3", {}, "Events"),
    el("table", { class: "grid-table events", id: "events" },
      el("tbody", {}, sorted.map((e) => el("tr", { "data-seq": e.seq },
        el("td", { class: "dim num" }, e.seq), el("td", { class: "dim" }, clock(e.at)),
        el("td", {}, e.kind === "status" ? badge(e.status) : el("span", { class: "badge kind" }, e.kind)),
        el("td", {}, describe(e)))))));
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

function apply(message) {
  if (message.type === "snapshot") {
    current.doc = message.order;
    for (const e of message.order.events) current.events.set(e.seq, e);
  } else if (message.type === "event") {
    current.events.set(message.seq, message);
    if (message.kind === "status") current.doc = { ...current.doc, status: message.status, ...live(message) };
  } else if (message.type === "error") {
    fill(byId("order"), el("p", { class: "error-text" }, `${message.error.code}: ${message.error.message}`));
    return;
  }
  render();
}

async function refresh(state) {
  try {
    state.doc = await readOrder(state.orderId);
    for (const e of state.doc.events) state.events.set(e.seq, e);
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
  }
  current = { orderId, doc: null, events: new Map(), socket: null, closed: false };
  fill(byId("order"), el("p", { class: "dim" }, `Loading ${orderId}…`));
  connect(current);
}
