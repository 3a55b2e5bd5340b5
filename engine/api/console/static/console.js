// The console's entry point: the API key, the API's health, and which order the page shows
// (`#/orders/<orderId>`, so an order's page can be bookmarked or shared with someone who holds the key).

import { apiKey, health, setApiKey } from "./api.js";
import { byId, fill } from "./dom.js";
import { showOrder } from "./order.js";
import { setupPrices } from "./prices.js";
import { setupRecent } from "./recent.js";
import { setupTicket } from "./ticket.js";

const HEALTH_EVERY_MS = 10000;

function showKeyState() {
  const key = apiKey();
  fill(byId("key-state"), key ? `key …${key.slice(-4)}` : "no key");
  byId("key-state").className = `key-state ${key ? "set" : "unset"}`;
}

async function checkHealth() {
  const node = byId("health");
  try {
    const answer = await health();
    const bad = Object.entries(answer.checks).filter(([, v]) => v !== "ok");
    node.className = `health ${bad.length ? "degraded" : "ok"}`;
    fill(node.querySelector(".label"), bad.length ? bad.map(([k, v]) => `${k}: ${v}`).join(" · ") : `healthy · v${answer.version}`);
  } catch {
    node.className = "health down";
    fill(node.querySelector(".label"), "API unreachable");
  }
}

function route() {
  const match = /^#\/orders\/([0-9a-fA-F-]{36})$/.exec(location.hash);
  if (match && apiKey()) showOrder(match[1]);
}

function start() {
  const refreshers = [setupPrices(), setupRecent()];
  const keyChanged = () => {
    showKeyState();
    for (const refresh of refreshers) refresh();
    route();
  };
  byId("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = byId("api-key");
    setApiKey(input.value.trim());
    input.value = "";
    keyChanged();
  });
  byId("forget-key").addEventListener("click", () => {
    setApiKey("");
    keyChanged();
  });
  setupTicket({
    onPlaced: (orderId) => {
      location.hash = `#/orders/${orderId}`; // shows it through the hashchange below
      refreshers[1]();
    },
  });
  window.addEventListener("hashchange", route);
  showKeyState();
  checkHealth();
  setInterval(checkHealth, HEALTH_EVERY_MS);
  route();
}

start();
