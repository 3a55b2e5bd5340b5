"""1,000 limit orders over 3 pairs: 3 price loops, each order fired once, never early and never a price late.

The market is steered through the simulated feed in steps. After each step the test waits until the watcher
has acted on a snapshot of that step for every pair, then compares what fired with what an oracle market
quotes each order's whole size at that step: exactly the executable ones, and no other.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis

from engine.watcher.service import WaitingWatcher
from tests.support import EngineProcesses, eventually, migrated_database
from tests.waiting_support import (
    BASE_USD,
    Deployment,
    best_out,
    events,
    feed_of,
    oracle,
    place,
    rows,
    status_path,
    token,
    watching,
)

PAIRS = (("SOL", "USDC", (1, 30)), ("JUP", "USDC", (100, 10_000)), ("RAY", "USDC", (50, 5_000)))
STEPS = (Decimal("1.03"), Decimal("1.06"), Decimal("1.10"))
# Limit prices sit in bands between the steps' prices (as a share of each token's starting price), well clear
# of every step's quote, so a fill that moves a pool a little never pushes an order below its floor.
BANDS = ((Decimal("1.005"), Decimal("1.02")), (Decimal("1.035"), Decimal("1.05")), (Decimal("1.065"), Decimal("1.09")))
ORDERS = 1000


@pytest.fixture(scope="module")
def deployment(servers: tuple[str, str]) -> Iterator[Deployment]:
    with migrated_database(servers[0], prefix="oee_wait") as url:
        yield Deployment.make(url, servers[1])


@pytest.fixture(scope="module")
def engine(deployment: Deployment) -> Iterator[EngineProcesses]:
    engine = EngineProcesses(deployment.env).start(watcher=False)  # the test runs the watcher in-process
    try:
        engine.wait_healthy()
        yield engine
    finally:
        engine.stop()


def _bodies(rng: random.Random) -> list[dict[str, object]]:
    bodies = []
    for n in range(ORDERS):
        symbol, quote, (low, high) = PAIRS[n % len(PAIRS)]
        band = BANDS[rng.randrange(len(BANDS))]
        share = band[0] + (band[1] - band[0]) * Decimal(rng.randrange(1000)) / 1000
        limit = (BASE_USD[symbol] * share).quantize(Decimal("0.000001"))
        amount = Decimal(rng.randrange(low, high)) / 10  # at most about $1,000 an order
        bodies.append({"type": "limit", "tokenIn": symbol, "tokenOut": quote, "amountIn": str(amount),
                       "limitPrice": str(limit), "expiresInS": 3600, "slippageBps": 50})  # fmt: skip
    return bodies


async def test_a_thousand_limit_orders_over_three_pairs(
    deployment: Deployment, engine: EngineProcesses, conn_pool: asyncpg.Pool, redis: aioredis.Redis
) -> None:
    settings = deployment.settings
    feed = feed_of(settings, redis)
    await feed.set_prices(BASE_USD, steady=True)
    async with watching(settings, conn_pool, redis) as watcher, engine.client() as client:
        ids = await place(client, _bodies(random.Random(11)))
        # New orders reach the watcher by notification (and its re-reads of PostgreSQL).
        await eventually(lambda: _held(watcher), lambda n: n == ORDERS, within=60)
        stored = await rows(conn_pool, ids)
        assert {r["status"] for r in stored.values()} == {"waiting"}
        fired: set[str] = set()
        for step, factor in enumerate((Decimal(1), *STEPS)):
            await feed.set_prices({s: p * factor for s, p in BASE_USD.items() if s != "USDC"}, steady=True)
            version = (await feed.refresh(force=True)).version
            await eventually(lambda: _acted_on(watcher), lambda v, at=version: v >= at, within=30)
            market = await oracle(settings, redis)
            executable = {
                i for i, r in stored.items()
                if best_out(market, token(settings, r["token_in_symbol"]), token(settings, r["token_out_symbol"]),
                            int(r["amount_in"])) >= int(r["trigger_min_out"])
            }  # fmt: skip
            now = await rows(conn_pool, ids)
            left = {i for i, r in now.items() if r["status"] != "waiting"}
            assert executable >= fired, "an order once executable stays so as prices only rise here"
            assert left == executable, f"step {step}: fired {len(left)}, executable {len(executable)}"
            assert step > 0 or not left, "nothing is executable at the starting prices"
            fired = left
        assert len(fired) == ORDERS

        # One loop per pair, reading each venue once per update, however many orders wait on it.
        assert len(watcher.stats) == len(PAIRS)
        for pair, stats in watcher.stats.items():
            assert stats.reads == 2 * stats.updates
            assert stats.fired == sum(1 for r in stored.values() if (r["token_in"], r["token_out"]) == pair)
        assert sum(s.fired for s in watcher.stats.values()) == ORDERS

    finished = await eventually(lambda: rows(conn_pool, ids), lambda r: _all_finished(r), within=180,
                                describe=lambda r: sorted({x["status"] for x in r.values()}))  # fmt: skip
    logs = await events(conn_pool, ids)
    for order_id, row in finished.items():
        path = status_path(logs[order_id])
        expected = ["waiting", "pending", "routing", "building", "submitted", "confirmed"]
        assert path == expected, (order_id, path, row["failure_reason"])
        trigger = orjson.loads(next(e for e in logs[order_id] if e["status"] == "pending")["data"])
        # Fired on a quote that paid the floor: never before the price was executable.
        assert Decimal(trigger["quotedAmountOut"]) >= Decimal(trigger["triggerMinOut"])
        # The fill is never worse than the limit: the limit floor was the order's minimum out.
        assert int(row["min_amount_out"]) == int(row["trigger_min_out"]) == int(row["execute_min_out"])
        assert int(row["amount_out"]) >= int(row["trigger_min_out"])


async def _held(watcher: WaitingWatcher) -> int:
    return watcher.held


async def _acted_on(watcher: WaitingWatcher) -> int:
    """The oldest feed version any pair's loop has acted on (fired what it priced)."""
    versions = [v for stats in watcher.stats.values() for v in stats.feed_versions.values()]
    return min(versions) if len(versions) == 2 * len(PAIRS) else -1


def _all_finished(found: dict[str, asyncpg.Record]) -> bool:
    return all(r["status"] in ("confirmed", "failed") for r in found.values())
