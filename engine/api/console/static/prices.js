// The live price panel. There is no price endpoint: the panel asks POST /api/quotes for a fixed size of
// each pair every few seconds, and shows the best venue's price and how far the venues are apart.

import { ApiError, apiKey, quote } from "./api.js";
import { byId, clock, el, fill, sig } from "./dom.js";

// A size per pair that trades a few hundred dollars, so the price is not all price impact or rounding.
export const PAIRS = [
  { tokenIn: "SOL", tokenOut: "USDC", amountIn: "1" },
  { tokenIn: "SOL", tokenOut: "USDT", amountIn: "1" },
  { tokenIn: "JUP", tokenOut: "USDC", amountIn: "100" },
  { tokenIn: "RAY", tokenOut: "USDC", amountIn: "100" },
  { tokenIn: "BONK", tokenOut: "USDC", amountIn: "10000000" },
];
const EVERY_MS = 4000;

function spread(quotes) {
  const outs = quotes.filter((q) => !q.error).map((q) => Number(q.amountOut));
  if (outs.length < 2) return "—";
  const [low, high] = [Math.min(...outs), Math.max(...outs)];
  return low > 0 ? `${(((high - low) / low) * 100).toFixed(2)} %` : "—";
}

function routePrice(answer) {
  const out = Number(answer.route.amountOut), input = Number(answer.amountIn);
  return input > 0 && out > 0 ? String(out / input) : null;
}

function row(pair, answer, previous) {
  const name = `${pair.tokenIn}/${pair.tokenOut}`;
  if (answer instanceof ApiError) {
    return el("tr", { "data-pair": name }, el("td", {}, name), el("td", { colspan: 3, class: "error-text" }, answer.message));
  }
  const best = answer.quotes.find((q) => q.dex === answer.route.dex && !q.error);
  // A split or a hop wins under its own name: its price is the whole route's.
  const price = best?.price ?? routePrice(answer);
  const move = previous === undefined || price === null ? "" : Number(price) > previous ? "up" : Number(price) < previous ? "down" : "";
  return el(
    "tr",
    { "data-pair": name },
    el("td", {}, el("strong", {}, pair.tokenIn), el("span", { class: "dim" }, `/${pair.tokenOut}`)),
    el("td", { class: `num price ${move}` }, sig(price, 7)),
    el("td", {}, answer.route.dex),
    el("td", { class: "num dim" }, spread(answer.quotes)),
  );
}

export function setupPrices() {
  const last = new Map();
  let running = false;
  async function tick() {
    if (running || document.hidden) return;
    const body = byId("prices").tBodies[0];
    if (!apiKey()) {
      fill(body, el("tr", {}, el("td", { colspan: 4, class: "dim" }, "Paste an API key to see prices.")));
      return;
    }
    running = true;
    try {
      const answers = await Promise.all(
        PAIRS.map((pair) => quote({ ...pair, slippageBps: 50 }).catch((exc) => {
          if (exc instanceof ApiError) return exc;
          throw exc;
        })),
      );
      fill(body, PAIRS.map((pair, i) => row(pair, answers[i], last.get(i))));
      answers.forEach((answer, i) => {
        if (answer instanceof ApiError) return;
        const best = answer.quotes.find((q) => q.dex === answer.route.dex);
        const price = best?.price ?? routePrice(answer);
        if (price) last.set(i, Number(price));
      });
      fill(byId("prices-updated"), `updated ${clock(new Date().toISOString())}`);
    } finally {
      running = false;
    }
  }
  tick();
  setInterval(tick, EVERY_MS);
  return tick;
}
