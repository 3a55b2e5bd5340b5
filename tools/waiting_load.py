"""Load for the waiting-order benchmarks: orders far from or near the market, placed and cancelled through the
API, and what the watcher spent on them (CPU, venue reads, sizes priced)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis

from kernel.settings import Settings
from tools.bench_engine import Engine

PAIRS = (("SOL", "USDC", "1.5", "100000"), ("JUP", "USDC", "400", "1000"), ("RAY", "SOL", "90", "50"))
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def client(engine: Engine) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{engine.port}", headers={"X-API-Key": engine.api_key}, timeout=30
    )


async def near_market_orders(engine: Engine, n: int) -> list[dict[str, object]]:
    """SOL -> USDC orders the walk must price on every update: large sizes whose limit sits below what a small
    size fetches (so within the walk's bound) but above what their own size fetches (so they never fire)."""
    async with client(engine) as http:
        r = await http.post("/api/quotes", json={"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"})
        r.raise_for_status()
    # The best single pool's quote, which the watcher prices each order on: the route may pay more (a split or
    # a hop), and limits set from it would sit above the walk's bound, so the walk would stop at the first.
    spot = max(Decimal(q["amountOut"]) for q in r.json()["quotes"] if q.get("amountOut") is not None)
    # One small order far above the market sets the walk's bound (what the smallest size fetches) high.
    small = {"type": "limit", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.01", "limitPrice": "100000",
             "expiresInS": 3600}  # fmt: skip
    return [small] + [{"type": "limit", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": str(20_000 + i),
             "limitPrice": str((spot * Decimal("0.98")).quantize(Decimal("0.0001"))), "expiresInS": 3600}
            for i in range(n - 1)]  # fmt: skip


def far_orders(n: int) -> list[dict[str, object]]:
    """Orders over three pairs with limits far above the market: the walk stops at the first of each pair."""
    bodies = []
    for i in range(n):
        token_in, token_out, amount, limit = PAIRS[i % len(PAIRS)]
        bodies.append({"type": "limit", "tokenIn": token_in, "tokenOut": token_out, "amountIn": amount,
                       "limitPrice": limit, "expiresInS": 3600})  # fmt: skip
    return bodies


def far_triggers(n: int) -> list[dict[str, object]]:
    """Stops, take-profits, OCOs and trailing stops over the same pairs, every level far from the market: the
    walks stop at once, and only the trailing stops (a quarter) are priced at every update."""
    bodies: list[dict[str, object]] = []
    for i in range(n):
        token_in, token_out, amount, limit = PAIRS[i % len(PAIRS)]
        stop = str(Decimal(limit) / 10**9)  # a billionth of a limit far above the market: far below it
        common = {"tokenIn": token_in, "tokenOut": token_out, "amountIn": amount, "expiresInS": 3600}
        kind = (i // len(PAIRS)) % 4
        terms: dict[str, object] = (
            {"type": "stop", "stopPrice": stop} if kind == 0
            else {"type": "takeProfit", "limitPrice": limit} if kind == 1
            else {"type": "oco", "limitPrice": limit, "stopPrice": stop} if kind == 2
            else {"type": "trailingStop", "trailBps": 5000}
        )  # fmt: skip
        bodies.append({**common, **terms})
    return bodies


async def place(engine: Engine, bodies: list[dict[str, object]], ids: list[str]) -> None:
    gate = asyncio.Semaphore(32)
    async with client(engine) as http:

        async def one(body: dict[str, object]) -> None:
            async with gate:
                r = await http.post("/api/orders/execute", json=body)
                r.raise_for_status()
                ids.append(r.json()["orderId"])

        await asyncio.gather(*(one(b) for b in bodies))


async def cancel(engine: Engine, ids: list[str]) -> None:
    """Cancel what the bench placed, so a later run (or ``oee up``) does not find it waiting."""
    gate = asyncio.Semaphore(32)
    async with client(engine) as http:

        async def one(order_id: str) -> None:
            async with gate:
                await http.delete(f"/api/orders/{order_id}")

        await asyncio.gather(*(one(i) for i in ids))


async def report(redis: aioredis.Redis, settings: Settings, env: Mapping[str, str]) -> dict[str, Any]:
    namespace = env.get("OEE_NAMESPACE") or settings.namespace
    raw = await redis.hgetall(f"{namespace}:watcher-stats")  # type: ignore[misc]
    reports = [orjson.loads(v) for v in raw.values()]
    return reports[0] if reports else {}


async def measure(
    engine: Engine,
    watcher_pid: int,
    settings: Settings,
    bodies: list[dict[str, object]] | None,
    seconds: float,
    ids: list[str],
    probe: Callable[[], Awaitable[Any]] | None = None,
) -> dict[str, Any]:
    """Place the orders (``None``: near-market ones, as many as were placed so far), wait until the watcher
    holds every order placed, then measure for ``seconds``. ``probe``, if given, is read as the window opens
    and as it closes (``tally``: the two readings)."""
    redis = aioredis.Redis.from_url(str(settings.redis_url))
    try:
        if bodies is None:
            await cancel(engine, ids)
            bodies = await near_market_orders(engine, len(ids))
            ids.clear()
        n = len(bodies)
        await place(engine, bodies, ids)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            held = sum(p["waiting"] for p in (await report(redis, settings, engine.env)).get("pairs", {}).values())
            if held >= len(ids):
                break
            await asyncio.sleep(0.5)
        opened = await probe() if probe is not None else None
        before, cpu_before, t0 = await report(redis, settings, engine.env), cpu_seconds(watcher_pid), time.monotonic()
        await asyncio.sleep(seconds)
        after, cpu_after, t1 = await report(redis, settings, engine.env), cpu_seconds(watcher_pid), time.monotonic()
        closed = await probe() if probe is not None else None
    finally:
        await redis.aclose()
    span = t1 - t0
    pairs = {
        name: {k: (stats[k] - before["pairs"].get(name, {}).get(k, 0)) / span for k in ("reads", "updates", "priced")}
        | {"waiting": stats["waiting"], "name": stats.get("name", "")}
        for name, stats in after["pairs"].items()
    }
    io = {name: (calls - before["ioCalls"].get(name, 0)) / span for name, calls in after["ioCalls"].items()}
    return {"cpu": (cpu_after - cpu_before) / span, "pairs": pairs, "io": io, "orders": n, "span": span,
            "tally": (opened, closed)}  # fmt: skip
