// The console is an API client like any other: HTTP calls send X-API-Key, WebSockets offer the
// subprotocols "oee" and "oee.key.<key>" (a browser cannot set headers on a socket, and a key in the
// URL would end up in logs). The key lives in sessionStorage: it is gone when the tab closes.

const KEY_ITEM = "oee.apiKey";

export const STATUSES = ["pending", "routing", "building", "submitted", "confirmed", "failed"];
export const TERMINAL = new Set(["confirmed", "failed", "expired", "cancelled"]);

export function apiKey() {
  return sessionStorage.getItem(KEY_ITEM) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  else sessionStorage.removeItem(KEY_ITEM);
}

/** A refused call: the error envelope's body (`status`, `code`, `message`, `fields`). */
export class ApiError extends Error {
  constructor(error) {
    super(error.message || `HTTP ${error.status}`);
    this.status = error.status;
    this.code = error.code;
    this.fields = Array.isArray(error.fields) ? error.fields : [];
  }
}

async function call(method, path, body, headers = {}) {
  const init = { method, headers: { "X-API-Key": apiKey(), ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let answer;
  try {
    answer = await fetch(path, init);
  } catch (exc) {
    throw new ApiError({ status: 0, code: "unreachable", message: `the API did not answer (${exc.message})` });
  }
  const data = await answer.json().catch(() => null);
  if (!answer.ok) {
    throw new ApiError(data?.error ?? { status: answer.status, code: "http_error", message: answer.statusText });
  }
  return data;
}

/** Place an order (market unless its `type` says limit or sniper); an Idempotency-Key makes a double
 *  click place one order, not two. */
export function placeOrder(order, idempotencyKey) {
  return call("POST", "/api/orders/execute", { type: "market", ...order }, { "Idempotency-Key": idempotencyKey });
}

export const quote = (request) => call("POST", "/api/quotes", request);
export const order = (orderId) => call("GET", `/api/orders/${encodeURIComponent(orderId)}`);
/** Cancel a waiting order: the whole order, now `cancelled`; 409 `not_cancellable` once it fired or ended. */
export const cancelOrder = (orderId) => call("DELETE", `/api/orders/${encodeURIComponent(orderId)}`);
export const health = () => fetch("/health").then((r) => r.json());

export function recent(status, limit = 25) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (status) query.set("status", status);
  return call("GET", `/api/orders/recent?${query}`);
}

/**
 * Follow an order's stream: `onMessage` gets the snapshot, each event and any error frame; `onClose`
 * gets the close code (1000 after the terminal event). `after` replays only events past that seq.
 */
export function follow(orderId, { after = 0, onMessage, onClose }) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = `${scheme}//${location.host}/ws/orders/${encodeURIComponent(orderId)}?after=${after}`;
  const socket = new WebSocket(url, ["oee", `oee.key.${apiKey()}`]);
  socket.addEventListener("message", (message) => {
    try {
      onMessage(JSON.parse(message.data));
    } catch (exc) {
      console.error("unreadable stream message", exc);
    }
  });
  socket.addEventListener("close", (event) => onClose?.(event.code, event.reason));
  return socket;
}
