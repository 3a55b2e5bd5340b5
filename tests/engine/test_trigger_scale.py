"""1,000 stops, take-profits, OCOs and trailing stops over 3 pairs through the whole engine, on a market moved
up and down in steps: after each step exactly the orders an oracle market says have met their condition have
fired, none before, each once, an OCO on one side only; then every one is confirmed.

Levels sit in bands between the steps' prices (as a share of each token's starting price), well clear of
every step's quote, so a fill that moves a pool a little never moves an order across its level.
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
PATH = (Decimal("1.06"), Decimal("0.97"), Decimal("0.92"), Decimal("1.10"))  # each a share of the starting price
ORDERS = 1000
# Bands of levels, each met at one step of PATH and at none before it.
STOP_BANDS = (
    (Decimal("0.975"), Decimal("0.985")),
    (Decimal("0.93"), Decimal("0.95")),
    (Decimal("0.86"), Decimal("0.88")),
)
TAKE_BANDS = (
    (Decimal("1.02"), Decimal("1.04")),
    (Decimal("1.07"), Decimal("1.09")),
    (Decimal("1.13"), Decimal("1.15")),
)
TRAIL_BANDS = ((400, 600), (1000, 1100), (2500, 2600))  # basis points below the best quote seen


@pytest.fixture(scope="module")
def deployment(servers: tuple[str, str]) -> Iterator[Deployment]:
    with migrated_database(servers[0], prefix="oee_trigs") as url:
        yield Deployment.make(url, servers[1])


@pytest.fixture(scope="module")
def engine(deployment: Deployment) -> Iterator[EngineProcesses]:
    engine = EngineProcesses(deployment.env).start(watcher=False)  # the test runs the watcher in-process
    try:
        engine.wait_healthy()
        yield engine
    finally:
        engine.stop()


def _pick(rng: random.Random, band: tuple[Decimal, Decimal]) -> Decimal:
    return band[0] + (band[1] - band[0]) * Decimal(rng.randrange(1000)) / 1000


def _bodies(rng: random.Random) -> list[dict[str, object]]:
    bodies: list[dict[str, object]] = []
    for n in range(ORDERS):
        symbol, quote, (low, high) = PAIRS[n % len(PAIRS)]
        base = BASE_USD[symbol]
        common = {"tokenIn": symbol, "tokenOut": quote, "amountIn": str(Decimal(rng.randrange(low, high)) / 10),
                  "expiresInS": 3600, "slippageBps": 100}  # fmt: skip

        def price(band: tuple[Decimal, Decimal], base: Decimal = base) -> str:
            return str((base * _pick(rng, band)).quantize(Decimal("0.000001")))

        kind = (n // len(PAIRS)) % 4
        if kind == 0:
            terms: dict[str, object] = {"type": "stop", "stopPrice": price(rng.choice(STOP_BANDS))}
        elif kind == 1:
            terms = {"type": "takeProfit", "limitPrice": price(rng.choice(TAKE_BANDS))}
        elif kind == 2:
            terms = {
                "type": "oco",
                "limitPrice": price(rng.choice(TAKE_BANDS)),
                "stopPrice": price(rng.choice(STOP_BANDS)),
            }
        else:
            low_bps, high_bps = rng.choice(TRAIL_BANDS)
            terms = {"type": "trailingStop", "trailBps": rng.randrange(low_bps, high_bps)}
        bodies.append({**common, **terms})
    return bodies


async def test_a_thousand_trigger_orders_over_three_pairs(
    deployment: Deployment, engine: EngineProcesses, conn_pool: asyncpg.Pool, redis: aioredis.Redis
) -> None:
    settings = deployment.settings
    feed = feed_of(settings, redis)
    await feed.set_prices(BASE_USD, steady=True)
    async with watching(settings, conn_pool, redis) as watcher, engine.client() as client:
        ids = await place(client, _bodies(random.Random(19)))
        await eventually(lambda: _held(watcher), lambda n: n == ORDERS, within=60)
        stored = await rows(conn_pool, ids)
        assert {r["status"] for r in stored.values()} == {"waiting"}
        fired: dict[str, str] = {}  # order -> the side the oracle says met
        peaks: dict[str, int] = {}
        for step, factor in enumerate((Decimal(1), *PATH)):
            await feed.set_prices({s: p * factor for s, p in BASE_USD.items() if s != "USDC"}, steady=True)
            version = (await feed.refresh(force=True)).version
            await eventually(lambda: _acted_on(watcher), lambda v, at=version: v >= at, within=30)
            market = await oracle(settings, redis)
            for order_id, r in stored.items():
                if order_id in fired:
                    continue
                out = best_out(market, token(settings, r["token_in_symbol"]), token(settings, r["token_out_symbol"]),
                               int(r["amount_in"]))  # fmt: skip
                if r["trail_bps"] is not None:
                    peak = peaks[order_id] = max(peaks.get(order_id, 0), out)
                    if out <= peak * (10_000 - int(r["trail_bps"])) // 10_000:
                        fired[order_id] = "trailingStop"
                elif r["trigger_min_out"] is not None and out >= int(r["trigger_min_out"]):
                    fired[order_id] = "takeProfit" if r["order_type"] == "oco" else "price"
                elif r["trigger_max_out"] is not None and out <= int(r["trigger_max_out"]):
                    fired[order_id] = "stop"
            now = await rows(conn_pool, ids)
            left = {i for i, r in now.items() if r["status"] != "waiting"}
            odd = {i: (stored[i]["order_type"], fired.get(i), now[i]["status"]) for i in left ^ set(fired)}
            assert left == set(fired), f"step {step}: fired {len(left)}, the oracle says {len(fired)}: {odd}"
            assert step > 0 or not left, "nothing meets its level at the starting prices"
            # The market moves on only once what fired has executed: an order that fired on a rise and found the
            # price fallen back by the time a worker routed it would wait again (price_moved_back), rightly.
            await eventually(lambda: rows(conn_pool, list(fired)), lambda r: _all_final(r), within=180,
                             describe=lambda r: sorted({x["status"] for x in r.values()}))  # fmt: skip
        assert len(fired) > 0.6 * ORDERS, len(fired)  # the path reaches most bands (the last of each, never)
        assert len(watcher.stats) == len(PAIRS)
        for stats in watcher.stats.values():
            assert stats.reads == 2 * stats.updates  # one loop per pair, one read per venue per update

    finished = await eventually(lambda: rows(conn_pool, list(fired)), lambda r: _all_final(r), within=180,
                                describe=lambda r: sorted({x["status"] for x in r.values()}))  # fmt: skip
    logs = await events(conn_pool, list(fired))
    for order_id, row in finished.items():
        assert status_path(logs[order_id]) == ["waiting", "pending", "routing", "building", "submitted", "confirmed"], (
            order_id, row["failure_reason"])  # fmt: skip
        pending = orjson.loads(next(e for e in logs[order_id] if e["status"] == "pending")["data"])
        assert pending["firedOn"] == fired[order_id], order_id  # the side the oracle says, and only that one
    waiting_now = {i for i, r in (await rows(conn_pool, ids)).items() if r["status"] == "waiting"}
    assert waiting_now == set(ids) - set(fired)


async def _held(watcher: WaitingWatcher) -> int:
    return watcher.held


async def _acted_on(watcher: WaitingWatcher) -> int:
    versions = [v for stats in watcher.stats.values() for v in stats.feed_versions.values()]
    return min(versions) if len(versions) == 2 * len(PAIRS) else -1


def _all_final(found: dict[str, asyncpg.Record]) -> bool:
    return all(r["status"] in ("confirmed", "failed") for r in found.values())
