"""Stops, take-profits, trailing stops and OCOs through the whole engine: placed over HTTP, fired by the pair
watcher on a steered market, executed by a worker; each ends once, an OCO on one side only."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis

from tests.support import EngineProcesses, eventually, migrated_database
from tests.waiting_support import BASE_USD, Deployment, events, feed_of, place, rows, status_path, watching

SOL_USDC = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1", "slippageBps": 100, "expiresInS": 600}
FINAL = ("confirmed", "failed", "cancelled", "expired")


@pytest.fixture(scope="module")
def deployment(servers: tuple[str, str]) -> Iterator[Deployment]:
    with migrated_database(servers[0], prefix="oee_trig") as url:
        yield Deployment.make(url, servers[1])


@pytest.fixture(scope="module")
def engine(deployment: Deployment) -> Iterator[EngineProcesses]:
    engine = EngineProcesses(deployment.env).start(watcher=False)  # the test runs the watcher in-process
    try:
        engine.wait_healthy()
        yield engine
    finally:
        engine.stop()


async def _settled(pool: asyncpg.Pool, ids: list[str]) -> dict[str, asyncpg.Record]:
    return await eventually(lambda: rows(pool, ids), lambda r: all(x["status"] in FINAL for x in r.values()),
                            within=60, describe=lambda r: {i: x["status"] for i, x in r.items()})  # fmt: skip


async def _fired_on(pool: asyncpg.Pool, order_id: str) -> str:
    pending = next(e for e in (await events(pool, [order_id]))[order_id] if e["status"] == "pending")
    return str(orjson.loads(pending["data"])["firedOn"])


async def test_stops_and_take_profits_fire_on_their_side_of_the_market(
    deployment: Deployment, engine: EngineProcesses, conn_pool: asyncpg.Pool, redis: aioredis.Redis
) -> None:
    feed = feed_of(deployment.settings, redis)
    await feed.set_prices(BASE_USD, steady=True)  # SOL at 100 USDC, both DEXes alike

    async def steer(sol_usd: str) -> None:
        await feed.set_prices({**BASE_USD, "SOL": Decimal(sol_usd)}, steady=True)

    async with watching(deployment.settings, conn_pool, redis), engine.client() as client:
        stop, take, oco_low, oco_high, trailing, far = await place(client, [
            {**SOL_USDC, "type": "stop", "stopPrice": "92"},
            {**SOL_USDC, "type": "takeProfit", "limitPrice": "108"},
            {**SOL_USDC, "type": "oco", "limitPrice": "130", "stopPrice": "92"},  # its stop is met first
            {**SOL_USDC, "type": "oco", "limitPrice": "103", "stopPrice": "70"},  # its take-profit is met first
            {**SOL_USDC, "type": "trailingStop", "trailBps": 500},
            {**SOL_USDC, "type": "stop", "stopPrice": "50"},  # never reached: cancelled at the end
        ])  # fmt: skip
        ids = [stop, take, oco_low, oco_high, trailing, far]
        placed = await client.get(f"/api/orders/{trailing}")
        assert placed.json()["trailBps"] == 500 and placed.json()["type"] == "trailingStop"

        # Up first: the take-profit and the high OCO fire; the trailing stop's peak follows the rise.
        await steer("110")
        done = await _settled(conn_pool, [take, oco_high])
        assert {r["status"] for r in done.values()} == {"confirmed"}
        peaked = await eventually(lambda: rows(conn_pool, [trailing]),
                                  lambda r: r[trailing]["trail_peak_out"] is not None and
                                  int(r[trailing]["trail_peak_out"]) > 105_000_000)  # fmt: skip
        peak = int(peaked[trailing]["trail_peak_out"])
        assert (await rows(conn_pool, [stop, oco_low, trailing]))[stop]["status"] == "waiting"

        # Down to 104: more than 5 % below the trailing peak (about 109.6 after fees), above every stop.
        await steer("104")
        [trail_row] = (await _settled(conn_pool, [trailing])).values()
        assert trail_row["status"] == "confirmed"
        assert (await rows(conn_pool, [stop]))[stop]["status"] == "waiting"

        # Down to 90: the stop and the low OCO's stop side fire.
        await steer("90")
        done = await _settled(conn_pool, [stop, oco_low])
        assert {r["status"] for r in done.values()} == {"confirmed"}
        assert (await client.delete(f"/api/orders/{far}")).json()["status"] == "cancelled"

    assert await _fired_on(conn_pool, stop) == "stop"
    assert await _fired_on(conn_pool, take) == "price"
    assert await _fired_on(conn_pool, oco_low) == "stop"
    assert await _fired_on(conn_pool, oco_high) == "takeProfit"
    assert await _fired_on(conn_pool, trailing) == "trailingStop"
    logs = await events(conn_pool, ids)
    for order_id in ids[:-1]:  # each fired once and ran the whole path
        assert status_path(logs[order_id]) == ["waiting", "pending", "routing", "building", "submitted", "confirmed"]
    assert status_path(logs[far]) == ["waiting", "cancelled"]
    final = await rows(conn_pool, ids)
    # A stop sells from the quote it fired on, within its slippage; a take-profit never below its price.
    assert int(final[take]["amount_out"]) >= int(final[take]["trigger_min_out"]) == 108_000_000
    assert int(final[stop]["amount_out"]) <= int(final[stop]["trigger_max_out"]) == 92_000_000
    assert int(final[trailing]["amount_out"]) <= peak * 9_500 // 10_000
