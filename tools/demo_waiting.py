"""The demo's second act: a limit order waits then fills, a sniper fires when its pool opens, one is cancelled,
and an OCO (a take-profit and a stop on one amount) fires once, on the side the market moves to.

The simulated market is steered as a test steers it, through its shared feed: once the four orders wait,
the demo cancels one, launches the NEWT/USDC pool (opening two seconds later) and lifts SOL 1% above the
limit. The SOL price it set is forgotten at the end, so the market drifts on as before.
"""

from __future__ import annotations

import asyncio
import time
from decimal import ROUND_UP, Decimal

import httpx
import redis.asyncio as aioredis
from rich.console import Console
from rich.live import Live
from rich.text import Text

from adapters.simulated import market_feed, simulated_tokens
from kernel.settings import Settings
from tools.demo_view import Row, order_table

PACE_S = 1.5  # how long the demo lets the orders visibly wait before moving the market
SNIPE_USDC = "25"
LAUNCH_PRICE = Decimal("0.05")  # USDC per NEWT
OPENS_IN_S = 2


async def _limit_price(client: httpx.AsyncClient) -> Decimal:
    """A limit just above what 1 SOL fetches now: it cannot fill until the market rises."""
    r = await client.post("/api/quotes", json={"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"})
    r.raise_for_status()
    return (Decimal(r.json()["route"]["amountOut"]) * Decimal("1.004")).quantize(Decimal("0.01"), ROUND_UP)


async def _direct(client: httpx.AsyncClient, feed_redis: aioredis.Redis, settings: Settings, rows: list[Row],
                  limit: Decimal) -> None:  # fmt: skip
    """Once every order waits: cancel the third, launch the sniper's pool, lift SOL past the limit."""
    deadline = time.monotonic() + 30
    while not all(r.status == "waiting" for r in rows) and time.monotonic() < deadline:  # noqa: ASYNC110 - rows change as their streams run
        await asyncio.sleep(0.05)
    await asyncio.sleep(PACE_S)
    await client.delete(f"/api/orders/{rows[2].order_id}")
    launch = {"base": "NEWT", "quote": "USDC", "price": str(LAUNCH_PRICE), "opensInS": OPENS_IN_S}
    (await client.post("/api/pools/launch", json=launch)).raise_for_status()
    rows[1].problem = f"pool launched, opens in {OPENS_IN_S} s"
    await asyncio.sleep(PACE_S)
    await market_feed(settings, feed_redis).set_prices({"SOL": limit * Decimal("1.01"), "USDC": Decimal(1)})


async def waiting_act(base: str, key: str, settings: Settings, console: Console) -> list[Row]:
    """Run the act and return its four rows (limit, sniper, cancelled, OCO)."""
    from tools.demo_orders import submit_and_follow

    headers = {"X-API-Key": key}
    ws_base = "ws" + base[len("http") :]
    feed_redis = aioredis.Redis.from_url(str(settings.redis_url))
    feed = market_feed(settings, feed_redis)
    tokens = simulated_tokens(settings)
    newt, usdc = tokens.resolve("NEWT"), tokens.resolve("USDC")
    assert newt is not None and usdc is not None
    await feed.forget_launch(newt, usdc)  # a pool an earlier demo launched: the sniper waits for a new one
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as client:
        limit = await _limit_price(client)
        stop = (limit * Decimal("0.9")).quantize(Decimal("0.01"))
        sol = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1", "expiresInS": 120}
        snipe = {"tokenIn": "USDC", "tokenOut": "NEWT", "amountIn": SNIPE_USDC, "expiresInS": 120}
        orders: list[tuple[dict[str, object], str]] = [
            ({**sol, "type": "limit", "limitPrice": str(limit)}, f"limit: fills at >= {limit} USDC"),
            ({**snipe, "type": "sniper", "limitPrice": "16", "slippageBps": 100}, "sniper: waits for a NEWT pool"),
            ({**sol, "type": "limit", "limitPrice": str(limit * 2)}, "limit: to be cancelled"),
            (
                {**sol, "type": "oco", "limitPrice": str(limit), "stopPrice": str(stop)},
                f"oco: take-profit at {limit} or stop at {stop}",
            ),
        ]
        rows = [Row(str(b["tokenIn"]), str(b["tokenOut"]), str(b["amountIn"])) for b, _ in orders]
        for row, (_, note) in zip(rows, orders, strict=True):
            row.problem = note
        console.print(f"\nwaiting orders: a limit at {limit} USDC per SOL, a sniper for a pool not launched yet, "
                      "one that is cancelled, and an OCO\n")  # fmt: skip
        started = time.monotonic()
        try:
            with Live(get_renderable=lambda: order_table(rows, console.width, started), console=console,
                      refresh_per_second=8):  # fmt: skip
                await asyncio.gather(
                    *(submit_and_follow(base, ws_base, key, row, body) for row, (body, _) in zip(rows, orders,
                                                                                                 strict=True)),
                    _direct(client, feed_redis, settings, rows, limit),
                )  # fmt: skip
        finally:
            await market_feed(settings, feed_redis).forget_prices(["SOL", "USDC"])
            await feed_redis.aclose()
    return rows


def waiting_summary(rows: list[Row], console: Console) -> bool:
    """One line per order of the act; True when each ended as the act means it to."""
    limit, sniper, cancelled, oco = rows
    console.print()
    console.print(Text(f"limit order: {limit.status}" + (f", {limit.amount_out} USDC" if limit.amount_out else "")))
    console.print(Text(f"sniper order: {sniper.status}" + (f", {sniper.amount_out} NEWT" if sniper.amount_out else "")))
    console.print(Text(f"cancelled order: {cancelled.status}"))
    console.print(Text(f"oco order: {oco.status}" + (f", {oco.amount_out} USDC" if oco.amount_out else "")))
    return (limit.status, sniper.status, cancelled.status, oco.status) == ("confirmed", "confirmed", "cancelled",
                                                                           "confirmed")  # fmt: skip
