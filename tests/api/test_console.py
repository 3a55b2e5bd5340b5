"""The web console in a real browser: headless Chromium driven by Playwright, against a real API and worker.

Playwright cannot download its own browser here, so the tests drive Debian's Chromium (``make test``
installs it when missing, as root). ``OEE_CONSOLE_SCREENSHOT=docs/console.png`` saves the page with its
confirmed order there, for the README.
"""

from __future__ import annotations

import os
import re
import tomllib
import uuid
from collections.abc import AsyncIterator, Iterator
from fnmatch import fnmatch
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect

from engine.api.edge import PAGE_CSP, same_origin
from tests.support import ROOT, EngineProcesses, base_env

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
def engine(database_url: str, redis_url: str) -> Iterator[EngineProcesses]:
    """An API and a worker with a little simulated latency, so the page has a lifecycle to show."""
    env = base_env(
        database_url, redis_url, QUEUE_NAME=f"oee:console:{uuid.uuid4().hex[:6]}",
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


async def orders_stored(engine: EngineProcesses) -> int:
    async with engine.client(timeout=10) as client:
        count: int = (await client.get("/api/orders/recent", params={"limit": 500})).json()["count"]
    return count


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
    # A sniper gives its cap one way, not both; the limit's reason is gone.
    await page.check("#type-sniper")
    await page.fill("#ticket [name=maxPrice]", "200")
    await page.fill("#ticket [name=minAmountOut]", "0.004")
    await page.click("#place-button")
    both = page.locator('.field-error[data-field="minAmountOut"]')
    await expect(both).to_have_text("give maxPrice or minAmountOut, not both")
    await expect(reason).to_have_text("")
    assert await orders_stored(engine) == before
