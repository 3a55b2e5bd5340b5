// Building the page from data. Everything the server sends becomes text nodes or attribute values set
// through the DOM, never markup: no innerHTML anywhere, so no answer can inject a script or a tag.

/** An element: `el("td", {class: "num"}, "1.5", child)`. Strings and numbers become text nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace what `node` holds with `children`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function byId(id) {
  return document.getElementById(id);
}

/** A link only to http(s) addresses: a `javascript:` URL from an answer would otherwise run on click. */
export function safeLink(url, text) {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === "https:" || parsed.protocol === "http:") {
      return el("a", { href: parsed.href, target: "_blank", rel: "noopener noreferrer" }, text);
    }
  } catch {
    // not a URL: shown as text below
  }
  return el("span", {}, String(url));
}

/** A long identifier shortened for tables (`5Kx9…a3Fq`), whole in its tooltip. */
export function short(id, keep = 6) {
  const text = String(id ?? "");
  return text.length <= keep * 2 + 1 ? text : `${text.slice(0, keep)}…${text.slice(-keep)}`;
}

/** A decimal string with thousands separators, digits untouched (amounts stay exact strings). */
export function amount(text) {
  if (text === null || text === undefined) return "—";
  const [whole, frac] = String(text).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return frac === undefined ? grouped : `${grouped}.${frac}`;
}

/** A price-like decimal string cut to `digits` significant digits for display. */
export function sig(text, digits = 6) {
  if (text === null || text === undefined) return "—";
  const value = Number(text);
  if (!Number.isFinite(value)) return String(text);
  return value.toLocaleString("en-US", { maximumSignificantDigits: digits });
}

export function clock(iso) {
  if (!iso) return "";
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? String(iso) : when.toLocaleTimeString("en-GB", { hour12: false });
}

/** A time as the clock shows it, with its date when it is not today. */
export function when(iso) {
  if (!iso) return "—";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return String(iso);
  if (at.toDateString() === new Date().toDateString()) return clock(iso);
  return `${at.toLocaleDateString("en-CA")} ${clock(iso)}`;
}

/** How long until an ISO time: "in 42 s", "in 59 min", "in 3 h 5 min", "in 2 d 4 h"; "past" once it is. */
export function until(iso, now = Date.now()) {
  const s = Math.floor((new Date(iso).getTime() - now) / 1000);
  if (!Number.isFinite(s)) return "";
  if (s <= 0) return "past";
  if (s < 120) return `in ${s} s`;
  const m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
  if (h < 2) return `in ${m} min`;
  if (d < 2) return `in ${h} h${m % 60 ? ` ${m % 60} min` : ""}`;
  return `in ${d} d${h % 24 ? ` ${h % 24} h` : ""}`;
}

/** A decimal amount in raw units (a BigInt) at `decimals`, so two amounts compare exactly, never as floats. */
export function raw(text, decimals) {
  const [whole, frac = ""] = String(text).split(".");
  return BigInt(whole + frac.padEnd(decimals, "0").slice(0, decimals));
}

/** Milliseconds between two ISO times, as "+240 ms" or "+2.4 s". */
export function since(fromIso, toIso) {
  const ms = new Date(toIso).getTime() - new Date(fromIso).getTime();
  if (!Number.isFinite(ms)) return "";
  return ms < 1000 ? `+${ms} ms` : `+${(ms / 1000).toFixed(1)} s`;
}

export function badge(status) {
  return el("span", { class: `badge status-${status}`, "data-status": status }, status);
}

/** A route plan of several legs in one line ("split: raydium 80 % · meteora 20 %, +0.06 % over the best
 *  pool"); null for a single pool, which the venue table already shows. */
export function planLine(plan) {
  if (!plan || plan.kind === "single") return null;
  // Two pools of one DEX are told apart by their addresses.
  const repeated = new Set(plan.legs.map((leg) => leg.dex)).size < plan.legs.length;
  const venue = (leg) => (repeated ? `${leg.dex} ${short(leg.pool, 4)}` : leg.dex);
  const legs = plan.legs.map((leg) =>
    plan.kind === "split" ? `${venue(leg)} ${leg.sharePct} %` : `${leg.inputSymbol}→${leg.outputSymbol} on ${leg.dex}`);
  const singles = (plan.candidates ?? []).some((c) => c.kind === "single");
  const gain = singles ? `, +${(plan.gainBps / 100).toFixed(2)} % over the best pool` : ", no pool trades the pair directly";
  return el("p", { class: "plan", id: "route-plan" }, `${plan.kind}: ${legs.join(" · ")}${gain}`);
}

/** The venue named `chosen` when one quote is its, else the one paying most alone. */
export function bestVenue(quotes, chosen) {
  if (quotes.some((q) => q.dex === chosen && !q.error)) return chosen;
  const priced = quotes.filter((q) => !q.error && q.amountOut != null);
  priced.sort((a, b) => Number(b.amountOut) - Number(a.amountOut));
  return priced[0]?.dex ?? null;
}
