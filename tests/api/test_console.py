"""The web console in a real browser: headless Chromium driven by Playwright, against a real API and worker.

Playwright cannot download its own browser here, so the tests drive Debian's Chromium (``make test``
installs it when missing, as root). ``OEE_CONSOLE_SCREENSHOT=docs/console.png`` saves the page with its
confirmed order there, for the README; ``OEE_CONSOLE_WAITING_SCREENSHOT=/tmp/console-waiting.png`` saves a
waiting limit order's page.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from decimal import Decimal
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, ConsoleMessage, Page, WebSocketRoute, async_playwright, expect

from engine.api.edge import PAGE_CSP, same_origin
from tests.support import ROOT, EngineProcesses, base_env, eventually, migrated_database

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
# The machine is offline: without the background-networking flags Chromium's own connections are refused.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VENUES = ("raydium", "meteora")
LIFECYCLE = ("pending", "routing", "building", "submitted", "confirmed")
WAIT_MS = 30_000
# What would turn text from the server into markup; the console builds every node through the DOM.
MARKUP_SINKS = re.compile(r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML\(|document\.write\(")


@pytest.fixture(scope="module")
def engine(servers: tuple[str, str]) -> Iterator[EngineProcesses]:
    """An API and a worker with a little simulated latency, so the page has a lifecycle to show; a deployment
    of its own, so a pool another test launched never changes what the page is shown."""
    with migrated_database(servers[0], prefix="oee_console") as url:
        env = base_env(
            url, servers[1], QUEUE_NAME=f"oee:console:{uuid.uuid4().hex[:6]}",
            SIMULATED_QUOTE_LATENCY_MS="20-60", SIMULATED_EXECUTION_LATENCY_MS="300",
        )  # fmt: skip
        with EngineProcesses.running(env) as processes:
            yield processes


@pytest_asyncio.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip(f"{CHROMIUM} is missing: make test installs it (as root)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture
async def page(browser: Browser, engine: EngineProcesses) -> AsyncIterator[Page]:
    """The console with the engine's key pasted in; fails the test on any script error or CSP refusal."""
    context = await browser.new_context(viewport={"width": 1440, "height": 960})
    console = await context.new_page()
    problems: list[str] = []
    console.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    def on_console(message: ConsoleMessage) -> None:
        # A refused call is logged by the browser as a failed load; refusals are what some tests check.
        if message.type == "error" and not message.text.startswith("Failed to load resource: the server responded"):
            problems.append(f"console error: {message.text}")

    console.on("console", on_console)
    await console.goto(f"{engine.base_url}/console")
    await console.fill("#api-key", engine.api_key)
    await console.click("#use-key")
    await expect(console.locator("#key-state")).to_have_text(f"key …{engine.api_key[-4:]}")
    try:
        yield console
    finally:
        await context.close()
    assert not problems, problems


async def fill_ticket(page: Page, token_in: str, token_out: str, amount_in: str, slippage_bps: str = "50") -> None:
    await page.fill("#ticket [name=tokenIn]", token_in)
    await page.fill("#ticket [name=tokenOut]", token_out)
    await page.fill("#ticket [name=amountIn]", amount_in)
    await page.fill("#ticket [name=slippageBps]", slippage_bps)


async def test_the_page_and_its_assets_come_from_this_origin_under_a_strict_policy(engine: EngineProcesses) -> None:
    async with engine.client(timeout=10) as client:
        page = await client.get("/console")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == PAGE_CSP.decode()
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # no inline script
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(a.startswith("/console/assets/") for a in assets), assets
        scripts = set(assets)
        for asset in list(scripts):
            body = (await client.get(asset)).text
            scripts.update(f"/console/assets/{name}" for name in re.findall(r'from "\./([\w.]+)"', body))
        for asset in scripts:
            r = await client.get(asset)
            assert r.status_code == 200 and r.content, asset
            assert not MARKUP_SINKS.search(r.text), asset


def test_every_console_file_ships_in_the_package() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = setuptools["package-data"]["engine.api.console"]
    static = ROOT / "engine" / "api" / "console" / "static"
    shipped = [f.relative_to(static.parent).as_posix() for f in static.iterdir()]
    assert "static/index.html" in shipped
    assert [f for f in shipped if not any(fnmatch(f, g) for g in globs)] == []


def test_a_socket_from_a_page_of_this_api_is_same_origin_and_any_other_page_is_not() -> None:
    assert same_origin("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert same_origin("https://Engine.example", "engine.example")
    assert not same_origin("http://127.0.0.1:8001", "127.0.0.1:8000")
    assert not same_origin("https://evil.example", "127.0.0.1:8000")
    assert not same_origin("null", "127.0.0.1:8000")  # a sandboxed or file: page
    assert not same_origin("http://127.0.0.1:8000", None)


async def test_an_order_placed_from_the_page_is_followed_live_until_confirmed(
    page: Page, engine: EngineProcesses
) -> None:
    await fill_ticket(page, "SOL", "USDC", "1.5")
    await page.click("#place-button")
    await expect(page.locator("#order-status [data-status]")).to_have_attribute(
        "data-status", "confirmed", timeout=WAIT_MS
    )
    order_id = (await page.locator("#order-id").inner_text()).strip()
    async with engine.client(timeout=10) as client:
        doc = (await client.get(f"/api/orders/{order_id}")).json()
    assert doc["status"] == "confirmed"
    # Every stage, in order, as the stream delivered it.
    shown = [await s.get_attribute("data-status") for s in await page.locator("#events [data-status]").all()]
    assert tuple(shown) == LIFECYCLE
    for step in LIFECYCLE:
        await expect(page.locator(f'#lifecycle [data-step="{step}"]')).to_have_class(
            re.compile(r"\b(done|confirmed)\b")
        )
    # The routing decision: every venue's quote, the winner, and why.
    rows = page.locator("#routing-table tbody tr")
    assert sorted([await r.get_attribute("data-dex") for r in await rows.all()]) == sorted(VENUES)
    await expect(page.locator("#routing-table tr.best")).to_have_attribute("data-dex", doc["route"]["dex"])
    await expect(page.locator("#routing-reason")).to_have_text(doc["route"]["reason"])
    # The transaction: no explorer for the simulated ledger, so its signature and settlement kind.
    await expect(page.locator("#tx-signature")).to_have_text(doc["txHash"])
    assert doc["explorerUrl"] is None and doc["settlement"]["kind"] == "simulated"
    await expect(page.locator("#order .facts")).to_contain_text("simulated ledger")
    await expect(page.locator("#attempts tbody tr")).to_have_count(len(doc["attempts"]))
    # The recent orders list shows it, and its status filter keeps it under "confirmed" only.
    row = page.locator(f'#recent tr[data-order="{order_id}"]')
    await expect(row.locator("[data-status]")).to_have_attribute("data-status", "confirmed", timeout=WAIT_MS)
    if target := os.environ.get("OEE_CONSOLE_SCREENSHOT"):
        await save_screenshot(page, engine, target)
    await page.select_option("#recent-status", "failed")
    await expect(row).to_have_count(0)
    await page.select_option("#recent-status", "confirmed")
    await expect(row).to_have_count(1)
    # Every price pair answers from the venues.
    for pair in await page.locator("#prices tbody tr").all():
        await expect(pair.locator("td").nth(2)).to_have_text(re.compile("|".join(VENUES)), timeout=WAIT_MS)


async def save_screenshot(page: Page, engine: EngineProcesses, target: str) -> None:
    """The console as a desk sees it: a few more orders in the list, a quote beside the confirmed order."""
    others = [("SOL", "USDT", "2"), ("JUP", "USDC", "250"), ("USDC", "SOL", "100"), ("RAY", "USDC", "40")]
    async with engine.client(timeout=10) as client:
        for token_in, token_out, amount_in in others:
            order = {"tokenIn": token_in, "tokenOut": token_out, "amountIn": amount_in, "slippageBps": 50}
            assert (await client.post("/api/orders/execute", json=order)).status_code == 202
    await page.select_option("#recent-status", "")
    confirmed = page.locator('#recent [data-status="confirmed"]')
    await expect(confirmed).to_have_count(len(others) + 1, timeout=WAIT_MS)
    await page.click("#quote-button")
    await expect(page.locator("#quote-table tbody tr")).to_have_count(len(VENUES), timeout=WAIT_MS)
    await page.screenshot(path=target, full_page=True)


async def test_a_quote_shows_every_venue_and_the_best_route(page: Page) -> None:
    await fill_ticket(page, "JUP", "USDC", "250")
    await page.click("#quote-button")
    rows = page.locator("#quote-table tbody tr")
    await expect(rows).to_have_count(len(VENUES), timeout=WAIT_MS)
    assert sorted([await r.get_attribute("data-dex") for r in await rows.all()]) == sorted(VENUES)
    best = await page.locator("#quote-table tr.best").get_attribute("data-dex")
    assert best in VENUES
    await expect(page.locator("#quote .reason")).to_contain_text(best)


async def test_a_refused_order_shows_the_reason_beside_each_field_and_places_nothing(
    page: Page, engine: EngineProcesses
) -> None:
    markup = '<b id="injected">SOL</b>'
    refused = {"type": "market", "tokenIn": "SOL", "tokenOut": markup, "amountIn": "1.0000000001", "slippageBps": 0}
    async with engine.client(timeout=10) as client:
        before = (await client.get("/api/orders/recent", params={"limit": 500})).json()["count"]
        answer = await client.post("/api/orders/execute", json=refused)
    assert answer.status_code == 422
    reasons = {f["field"]: f["reason"] for f in answer.json()["error"]["fields"]}
    assert reasons.keys() == {"tokenOut", "amountIn", "slippageBps"}, reasons
    await fill_ticket(page, "SOL", markup, refused["amountIn"], "0")
    await page.click("#place-button")
    for field, reason in reasons.items():
        await expect(page.locator(f'.field-error[data-field="{field}"]')).to_have_text(reason)
    await expect(page.locator("#ticket-message")).to_contain_text("422")
    # What the server repeated of the input is text on the page, never markup.
    assert await page.locator("#injected").count() == 0
    async with engine.client(timeout=10) as client:
        assert (await client.get("/api/orders/recent", params={"limit": 500})).json()["count"] == before


def grouped(text: str) -> str:
    """An amount as the console writes it: thousands separated, its digits untouched."""
    return f"{Decimal(text):,}"


async def read_order(engine: EngineProcesses, order_id: str) -> dict[str, Any]:
    async with engine.client(timeout=10) as client:
        answer = await client.get(f"/api/orders/{order_id}")
    assert answer.status_code == 200, answer.text
    doc: dict[str, Any] = answer.json()
    return doc


async def orders_stored(engine: EngineProcesses) -> int:
    async with engine.client(timeout=10) as client:
        count: int = (await client.get("/api/orders/recent", params={"limit": 500})).json()["count"]
    return count


async def test_a_limit_order_waits_with_its_terms_and_distance_and_is_cancelled_from_its_page(
    page: Page, engine: EngineProcesses
) -> None:
    await page.check("#type-limit")
    await fill_ticket(page, "SOL", "USDC", "2")
    # Far above the market (SOL is about 150 USDC): it waits.
    await page.fill("#ticket [name=limitPrice]", "1000")
    await page.fill("#ticket [name=expiresInS]", "900")
    await page.fill("#ticket [name=clientRef]", "desk-7/limit")
    await expect(page.locator("#place-button")).to_have_text("Place limit order")
    await page.click("#place-button")
    status = page.locator("#order-status [data-status]")
    await expect(status).to_have_attribute("data-status", "waiting", timeout=WAIT_MS)
    order_id = (await page.locator("#order-id").inner_text()).strip()
    doc = await read_order(engine, order_id)
    assert (doc["type"], doc["status"], doc["clientRef"]) == ("limit", "waiting", "desk-7/limit")
    assert Decimal(doc["limitPrice"]) == 1000 and Decimal(doc["triggerMinOut"]) == 2000
    # Its terms.
    terms = page.locator("#terms")
    await expect(terms.locator('[data-term="type"] dd')).to_have_text("limit")
    await expect(terms.locator('[data-term="limitPrice"] dd')).to_have_text(f"{grouped(doc['limitPrice'])} USDC/SOL")
    trigger = grouped(doc["triggerMinOut"])
    await expect(terms.locator('[data-term="triggerMinOut"] dd')).to_have_text(f"≥ {trigger} USDC")
    await expect(terms.locator('[data-term="expiresAt"] dd')).to_contain_text(re.compile(r"\(in \d+ min\)"))
    await expect(terms.locator('[data-term="clientRef"] dd')).to_have_text("desk-7/limit")
    # How far the market is from its trigger: the best venue's quote for its size, against the floor.
    distance = page.locator("#trigger-distance")
    venue = "|".join(VENUES)
    pattern = rf"^market pays [\d,.]+ USDC on ({venue}); fires at {re.escape(trigger)} USDC \([\d,.]+ % away\)"
    await expect(distance).to_have_text(re.compile(pattern), timeout=WAIT_MS)
    await expect(distance).to_have_attribute("data-reached", "false")
    market_out = Decimal(str(await distance.get_attribute("data-market-out")))
    assert 0 < market_out < Decimal(doc["triggerMinOut"])
    await expect(page.locator('#lifecycle [data-step="waiting"]')).to_have_class(re.compile(r"\bcurrent\b"))
    row = page.locator(f'#recent tr[data-order="{order_id}"]')
    await expect(row.locator("[data-type]")).to_have_text("limit", timeout=WAIT_MS)
    await expect(row.locator("[data-status]")).to_have_attribute("data-status", "waiting")
    if target := os.environ.get("OEE_CONSOLE_WAITING_SCREENSHOT"):
        await page.screenshot(path=target, full_page=True)

    await page.click("#cancel-button")
    await expect(status).to_have_attribute("data-status", "cancelled", timeout=WAIT_MS)
    await expect(page.locator("#cancel-button")).to_have_count(0)
    await expect(page.locator("#trigger")).to_have_count(0)
    await expect(page.locator('#lifecycle [data-step="cancelled"]')).to_have_class(re.compile(r"\bcancelled\b"))
    await expect(page.locator('#events [data-status="cancelled"]')).to_have_count(1)
    # The stream delivered the cancel too: it closed after that terminal event.
    await expect(page.locator("#order-stream-state")).to_have_text("final: stream closed", timeout=WAIT_MS)
    assert (await read_order(engine, order_id))["status"] == "cancelled"
    await expect(row.locator("[data-status]")).to_have_attribute("data-status", "cancelled", timeout=WAIT_MS)
    await page.select_option("#recent-status", "cancelled")
    await expect(row).to_have_count(1)


async def test_an_oco_from_its_ticket_shows_both_levels_and_how_far_the_stop_is(
    page: Page, engine: EngineProcesses
) -> None:
    await page.check("#type-oco")
    await fill_ticket(page, "SOL", "USDC", "2")
    # SOL is about 150 USDC: a take-profit far above and a stop below, so it waits.
    await page.fill("#ticket [name=limitPrice]", "1000")
    await page.fill("#ticket [name=stopPrice]", "20")
    await expect(page.locator("#ticket [name=trailBps]")).to_be_hidden()  # a trailing stop's term only
    await expect(page.locator("#place-button")).to_have_text("Place oco order")
    await page.click("#place-button")
    status = page.locator("#order-status [data-status]")
    await expect(status).to_have_attribute("data-status", "waiting", timeout=WAIT_MS)
    order_id = (await page.locator("#order-id").inner_text()).strip()
    doc = await read_order(engine, order_id)
    assert (doc["type"], Decimal(doc["triggerMinOut"]), Decimal(doc["triggerMaxOut"])) == ("oco", 2000, 40)
    terms = page.locator("#terms")
    await expect(terms.locator('[data-term="limitPrice"] dd')).to_have_text("1,000 USDC/SOL")
    await expect(terms.locator('[data-term="stopPrice"] dd')).to_have_text("20 USDC/SOL")
    await expect(terms.locator('[data-term="triggerMaxOut"] dd')).to_have_text("≤ 40 USDC")
    distance = page.locator("#trigger-distance")
    venue = "|".join(VENUES)
    pattern = rf"^market pays [\d,.]+ USDC on ({venue}); stops at ≤ 40 USDC, or rises to 2,000 USDC \([\d,.]+ % away\)"
    await expect(distance).to_have_text(re.compile(pattern), timeout=WAIT_MS)
    await expect(distance).to_have_attribute("data-reached", "false")
    await page.click("#cancel-button")
    await expect(status).to_have_attribute("data-status", "cancelled", timeout=WAIT_MS)


async def test_a_dca_from_its_ticket_shows_its_children_as_they_are_placed(page: Page, engine: EngineProcesses) -> None:
    await page.check("#type-dca")
    await fill_ticket(page, "SOL", "USDC", "0.3")
    await page.fill("#ticket [name=children]", "3")
    await page.fill("#ticket [name=intervalS]", "1")
    await expect(page.locator("#ticket [name=expiresInS]")).to_be_hidden()  # a DCA ends with its last child
    await page.click("#place-button")
    order_id = (await page.locator("#order-id").inner_text(timeout=WAIT_MS)).strip()
    # The page follows the DCA's events: each child placed shows in its table, then the schedule ends.
    await expect(page.locator("#children tbody tr")).to_have_count(3, timeout=WAIT_MS)
    await expect(page.locator("#order-status [data-status]")).to_have_attribute("data-status", "confirmed",
                                                                                timeout=WAIT_MS)  # fmt: skip
    doc = await read_order(engine, order_id)
    assert (doc["type"], doc["childrenPlaced"]) == ("dca", 3)
    await expect(page.locator('#terms [data-term="children"] dd')).to_have_text("3 of 3 placed, every 1 s")
    first = doc["childOrders"][0]["orderId"]
    await page.click(f'#children tr[data-order="{first}"] a')
    await expect(page.locator("#order-id")).to_have_text(first, timeout=WAIT_MS)
    await expect(page.locator('#terms [data-term="parentId"] dd a')).to_have_text(order_id[:8])


async def test_a_stop_missing_its_price_is_told_by_the_field_and_places_nothing(
    page: Page, engine: EngineProcesses
) -> None:
    before = await orders_stored(engine)
    await page.check("#type-stop")
    await fill_ticket(page, "SOL", "USDC", "1")
    await page.fill("#ticket [name=stopPrice]", "")
    await page.click("#place-button")
    reason = page.locator('.field-error[data-field="stopPrice"]')
    await expect(reason).to_have_text("is required for stop orders (units of tokenOut per tokenIn)")
    await page.check("#type-trailingStop")
    await page.fill("#ticket [name=trailBps]", "0")
    await page.click("#place-button")
    await expect(page.locator('.field-error[data-field="trailBps"]')).to_contain_text("basis points from 1 to 5000")
    assert await orders_stored(engine) == before


async def test_a_sniper_order_from_its_ticket_is_accepted_and_waits_for_a_pool(
    page: Page, engine: EngineProcesses
) -> None:
    await page.check("#type-sniper")
    await fill_ticket(page, "USDC", "NEWT", "25", "100")
    await page.fill("#ticket [name=limitPrice]", "20")
    # The expiry as a time: the browser's local time, sent with its zone.
    local, expected = await page.evaluate(
        """() => {
          const at = new Date(Date.now() + 10 * 60 * 1000);
          at.setMilliseconds(0);
          const pad = (n) => String(n).padStart(2, "0");
          const local = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T` +
            `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
          return [local, at.toISOString()];
        }"""
    )
    await page.fill("#ticket [name=expiresAt]", local)
    await expect(page.locator("#ticket [name=expiresInS]")).to_have_value("")  # one expiry, never both
    await page.click("#place-button")
    await expect(page.locator("#ticket-message")).to_contain_text("Accepted, waiting")
    status = page.locator("#order-status [data-status]")
    await expect(status).to_have_attribute("data-status", "waiting", timeout=WAIT_MS)
    order_id = (await page.locator("#order-id").inner_text()).strip()
    doc = await read_order(engine, order_id)
    assert (doc["type"], doc["status"], doc["clientRef"]) == ("sniper", "waiting", None)
    assert datetime.fromisoformat(doc["expiresAt"]) == datetime.fromisoformat(expected.replace("Z", "+00:00"))
    terms = page.locator("#terms")
    await expect(terms.locator('[data-term="type"] dd')).to_have_text("sniper")
    await expect(terms.locator('[data-term="limitPrice"] dd')).to_have_text("20 NEWT/USDC")
    floor = grouped(doc["triggerMinOut"])
    await expect(terms.locator('[data-term="triggerMinOut"] dd')).to_have_text(f"≥ {floor} NEWT")
    await expect(terms.locator('[data-term="clientRef"]')).to_have_count(0)
    # NEWT has no pool until one is launched: the page says so instead of a distance.
    await expect(page.locator("#trigger-distance")).to_contain_text("no quote for USDC → NEWT yet", timeout=WAIT_MS)
    await expect(page.locator("#cancel-button")).to_be_visible()


async def test_a_waiting_order_missing_its_terms_shows_each_reason_by_its_field_and_places_nothing(
    page: Page, engine: EngineProcesses
) -> None:
    before = await orders_stored(engine)
    await page.check("#type-limit")
    await fill_ticket(page, "SOL", "USDC", "1")
    await page.fill("#ticket [name=limitPrice]", "")
    await page.click("#place-button")
    reason = page.locator('.field-error[data-field="limitPrice"]')
    await expect(reason).to_have_text("is required for limit orders (units of tokenOut per tokenIn)")
    await expect(page.locator("#ticket [name=limitPrice]")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#ticket-message")).to_contain_text("422")
    # A sniper gives its floor one way, not both; the limit's reason is gone.
    await page.check("#type-sniper")
    await page.fill("#ticket [name=limitPrice]", "200")
    await page.fill("#ticket [name=minAmountOut]", "0.004")
    await page.click("#place-button")
    both = page.locator('.field-error[data-field="minAmountOut"]')
    await expect(both).to_have_text("give limitPrice or minAmountOut, not both")
    await expect(reason).to_have_text("")
    assert await orders_stored(engine) == before


async def test_a_cancel_after_the_order_fired_says_why_and_shows_where_it_is(
    page: Page, engine: EngineProcesses
) -> None:
    """The page still shows the order waiting when it fires (its stream is held back after the snapshot): the
    Cancel is refused with 409, which the page says, and it shows the order as the API has it now."""

    async def hold_all_but_the_snapshot(socket: WebSocketRoute) -> None:
        server = socket.connect_to_server()

        def snapshot_only(message: str | bytes) -> None:
            if json.loads(message)["type"] == "snapshot":
                socket.send(message)

        server.on_message(snapshot_only)
        server.on_close(lambda code, reason: None)

    await page.route_web_socket(re.compile(r"/ws/orders/"), hold_all_but_the_snapshot)
    sniper = {"type": "sniper", "tokenIn": "USDC", "tokenOut": "PUMP", "amountIn": "10", "limitPrice": "1",
              "slippageBps": 500, "expiresInS": 600}  # fmt: skip
    async with engine.client(timeout=10) as client:
        placed = await client.post("/api/orders/execute", json=sniper)
        assert placed.status_code == 202, placed.text
        order_id = placed.json()["orderId"]
        await page.evaluate("orderId => { location.hash = `#/orders/${orderId}`; }", order_id)
        await expect(page.locator("#cancel-button")).to_be_visible(timeout=WAIT_MS)
        # Its pool opens: the sniper fires and fills, while the page, hearing nothing more, still shows it waiting.
        launch = {"base": "PUMP", "quote": "USDC", "price": "0.05", "opensInS": 0}
        assert (await client.post("/api/pools/launch", json=launch)).status_code == 200
        doc = await eventually(lambda: read_order(engine, order_id), lambda d: d["status"] in ("confirmed", "failed"))
    await expect(page.locator("#order-status [data-status]")).to_have_attribute("data-status", "waiting")
    await page.click("#cancel-button")
    await expect(page.locator("#cancel-message")).to_contain_text("409 not_cancellable")
    await expect(page.locator("#order-status [data-status]")).to_have_attribute("data-status", doc["status"])
    await expect(page.locator("#cancel-button")).to_have_count(0)
