"""``python -m tools.bench --only edge``: hostile input does not slow anyone else down.

While ordinary clients submit orders at a steady rate, other clients send the bodies that once froze
the API (an amount with a huge exponent, a slippage that is a huge number, deep nesting, a body over
the limit). The bench prints how fast each kind was refused and what the ordinary clients saw
meanwhile: how many were accepted and their acceptance latency, measured, never assumed.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from kernel.settings import Settings
from tools.bench_engine import Engine, drive, outcome, pct

BOMBS = {
    "amount 1E+999990": b'{"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1E+999990"}',
    "slippage 1e999999999": b'{"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1", "slippageBps": 1e999999999}',
    "amount 1E-999999999": b'{"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1E-999999999"}',
    "nesting 100,000 deep": b'{"tokenIn": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "body of 1 MiB": b'{"tokenIn": "' + b"x" * (1 << 20) + b'"}',
}


async def bombard(engine: Engine, rounds: int) -> dict[str, list[float]]:
    """Each bomb ``rounds`` times; the milliseconds each refusal took."""
    timings: dict[str, list[float]] = {name: [] for name in BOMBS}
    headers = {"X-API-Key": engine.api_key, "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.port}", headers=headers, timeout=60) as c:
        for _ in range(rounds):
            for name, body in BOMBS.items():
                started = time.perf_counter()
                try:
                    r = await c.post("/api/orders/execute", content=body)
                    assert 400 <= r.status_code < 500, f"{name}: {r.status_code}"
                except httpx.TransportError:
                    # A body over the limit is answered 413 from its Content-Length and the connection
                    # closed before the rest is read: the client sees the close while still sending.
                    pass
                timings[name].append((time.perf_counter() - started) * 1000)
    return timings


async def under_fire(engine: Engine, orders: int, rate: float, rounds: int) -> list[str]:
    normal = asyncio.create_task(drive(engine, orders, rate, connections=16))
    timings = await bombard(engine, rounds)
    accepted, rejected, seconds, ids = await normal
    print(
        f"   ordinary     {accepted} of {orders} accepted at {accepted / seconds:.0f}/s ({rejected} refused) meanwhile"
    )
    for name, ms in timings.items():
        print(f"   refused      {name:<22} p50 {pct(ms, 0.5):7.1f} ms, max {max(ms):7.1f} ms ({len(ms)} sent)")
    return ids


def hostile_input(settings: Settings, orders: int = 3000, rate: float = 1000, rounds: int = 10) -> None:
    print(f"\n== hostile input: bombs sent while ordinary clients submit {orders} orders at {rate:.0f}/s")
    engine = Engine(settings, 10, "0", "0")
    try:
        engine.start_api()
        ids = asyncio.run(under_fire(engine, orders, rate, rounds))
        engine.start_workers()  # drain them, so no later phase's recovery sweep inherits them
        asyncio.run(outcome(settings, ids))
    finally:
        engine.stop()
