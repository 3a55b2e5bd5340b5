"""Waiting orders end one way only: fired and executed, expired on time, or cancelled; never two of them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from decimal import Decimal

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis

from engine.db import waiting
from engine.db.waiting import Move
from engine.watcher.service import WaitingWatcher
from kernel.domain import OrderStatus
from tests.support import EngineProcesses, create_api_key, eventually, migrated_database
from tests.waiting_support import BASE_USD, Deployment, events, feed_of, place, rows, status_path, watching

FINISHED = ("confirmed", "failed", "expired", "cancelled")


@pytest.fixture(scope="module")
def deployment(servers: tuple[str, str]) -> Iterator[Deployment]:
    with migrated_database(servers[0], prefix="oee_wait") as url:
        yield Deployment.make(url, servers[1])


@pytest.fixture(scope="module")
def engine(deployment: Deployment) -> Iterator[EngineProcesses]:
    engine = EngineProcesses(deployment.env).start(watcher=False)  # these tests run watchers in-process
    try:
        engine.wait_healthy()
        yield engine
    finally:
        engine.stop()


@pytest.fixture(autouse=True)
async def steady_market(deployment: Deployment, redis: aioredis.Redis) -> None:
    await feed_of(deployment.settings, redis).set_prices(BASE_USD, steady=True)


def limit(price: str, *, amount: str = "1", expires_in_s: int = 600) -> dict[str, object]:
    """A SOL -> USDC limit order at ``price`` USDC per SOL (SOL trades at 100 in these tests)."""
    return {"type": "limit", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": amount, "limitPrice": price,
            "expiresInS": expires_in_s}  # fmt: skip


async def statuses(pool: asyncpg.Pool, ids: list[str]) -> dict[str, str]:
    return {i: r["status"] for i, r in (await rows(pool, ids)).items()}


async def test_cancel_answers_the_order_and_refuses_what_already_runs(
    deployment: Deployment, engine: EngineProcesses, conn_pool: asyncpg.Pool
) -> None:
    async with engine.client() as client:
        [order_id] = await place(client, [limit("1000")])
        r = await client.delete(f"/api/orders/{order_id}")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "cancelled" and r.json()["events"][-1]["status"] == "cancelled"
        again = await client.delete(f"/api/orders/{order_id}")
        assert again.status_code == 200 and again.json()["status"] == "cancelled"
        assert (await client.delete(f"/api/orders/{uuid.uuid4()}")).status_code == 404
        other = create_api_key(deployment.env["DATABASE_URL"], rate_per_s=1e6, burst=10**6)
        theirs = await client.delete(f"/api/orders/{order_id}", headers={"X-API-Key": other})
        assert theirs.status_code == 404  # another key's order is "not found"
        assert (await client.delete(f"/api/orders/{order_id}", headers={"X-API-Key": ""})).status_code == 401

        market = await client.post("/api/orders/execute", json={"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"})
        market_id = market.json()["orderId"]
        refused = await client.delete(f"/api/orders/{market_id}")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "not_cancellable"
    assert (await statuses(conn_pool, [order_id]))[order_id] == "cancelled"


async def test_expired_and_cancelled_orders_never_execute(
    deployment: Deployment, engine: EngineProcesses, conn_pool: asyncpg.Pool, redis: aioredis.Redis
) -> None:
    settings = deployment.settings
    async with engine.client() as client, watching(settings, conn_pool, redis):
        soon, cancelled, kept = await place(client, [limit("105", expires_in_s=1), limit("105"), limit("105")])
        assert (await client.delete(f"/api/orders/{cancelled}")).status_code == 200
        found = await eventually(lambda: rows(conn_pool, [soon]), lambda r: r[soon]["status"] == "expired", within=10)
        # On time: expired within the watcher's update (20 ms here) and a commit of its due time.
        late = (found[soon]["finished_at"] - found[soon]["expires_at"]).total_seconds()
        assert 0 <= late < 1.0, late
        # The market rises past every limit: only the one still waiting fires.
        await feed_of(settings, redis).set_prices({"SOL": Decimal(110)}, steady=True)
        done = await eventually(lambda: statuses(conn_pool, [kept]), lambda s: s[kept] in FINISHED, within=30)
        assert done[kept] == "confirmed"
    logs = await events(conn_pool, [soon, cancelled])
    assert status_path(logs[soon]) == ["waiting", "expired"]
    assert status_path(logs[cancelled]) == ["waiting", "cancelled"]
    for order_id in (soon, cancelled):
        row = (await rows(conn_pool, [order_id]))[order_id]
        assert row["tx_signature"] is None and row["amount_out"] is None and row["attempts"] == 0


async def test_a_watcher_picks_up_where_it_was_across_a_restart(
    deployment: Deployment, engine: EngineProcesses, conn_pool: asyncpg.Pool, redis: aioredis.Redis
) -> None:
    settings = deployment.settings
    async with engine.client() as client:
        # No watcher runs: one order falls due meanwhile, another becomes executable.
        due, executable = await place(client, [limit("105", expires_in_s=1), limit("95")])
        await eventually(lambda: _now_past(conn_pool, due), lambda past: past, within=10)
        assert await statuses(conn_pool, [due, executable]) == {due: "waiting", executable: "waiting"}
        async with watching(settings, conn_pool, redis) as watcher:
            assert (await statuses(conn_pool, [due]))[due] == "expired"  # expired on start, before any loop ran
            done = await eventually(lambda: statuses(conn_pool, [executable]), lambda s: s[executable] in FINISHED)
            assert done[executable] == "confirmed"
            assert len(watcher.stats) == 1


async def _now_past(pool: asyncpg.Pool, order_id: str) -> bool:
    return bool(await pool.fetchval("SELECT expires_at < now() FROM orders WHERE id = $1", uuid.UUID(order_id)))


async def test_cancel_racing_the_trigger_ends_one_way_only(
    deployment: Deployment, engine: EngineProcesses, conn_pool: asyncpg.Pool, redis: aioredis.Redis
) -> None:
    settings = deployment.settings
    feed = feed_of(settings, redis)
    await feed.set_prices({"SOL": Decimal(100)}, steady=True)
    async with engine.client() as client, watching(settings, conn_pool, redis) as watcher:
        ids = await place(client, [limit("101", amount="0.5") for _ in range(60)])
        await eventually(lambda: _held(watcher), lambda n: n == len(ids))
        # The price crosses every limit while every order is being cancelled.
        rise = asyncio.create_task(feed.set_prices({"SOL": Decimal(104)}, steady=True))
        answers = await asyncio.gather(*(client.delete(f"/api/orders/{i}") for i in ids))
        await rise
        final = await eventually(lambda: statuses(conn_pool, ids), lambda s: all(v in FINISHED for v in s.values()))
    logs = await events(conn_pool, ids)
    for order_id, answer in zip(ids, answers, strict=True):
        path = status_path(logs[order_id])
        assert ("cancelled" in path) != ("pending" in path), path  # exactly one of them, never both
        if answer.status_code == 200:
            assert path == ["waiting", "cancelled"] and final[order_id] == "cancelled"
        else:
            assert answer.status_code == 409, answer.text
            assert path[:2] == ["waiting", "pending"] and final[order_id] == "confirmed"


async def _held(watcher: WaitingWatcher) -> int:
    return watcher.held


async def test_the_same_compare_and_set_settles_every_race_in_postgresql(
    engine: EngineProcesses, conn_pool: asyncpg.Pool
) -> None:
    async with engine.client() as client:
        ids = [uuid.UUID(i) for i in await place(client, [limit("1000") for _ in range(50)])]

    async def race(order_id: uuid.UUID) -> tuple[int, int]:
        async def one(to: OrderStatus) -> int:
            async with conn_pool.acquire() as conn, conn.transaction():
                return len(await waiting.move(conn, [Move(order_id, {"race": to.value})], to))

        fired, cancelled = await asyncio.gather(one(OrderStatus.PENDING), one(OrderStatus.CANCELLED))
        return fired, cancelled

    outcomes = await asyncio.gather(*(race(i) for i in ids))
    assert all(fired + cancelled == 1 for fired, cancelled in outcomes)
    logs = await events(conn_pool, [str(i) for i in ids])
    for (fired, _), order_id in zip(outcomes, ids, strict=True):
        path = status_path(logs[str(order_id)])
        assert path == ["waiting", "pending" if fired else "cancelled"]
        assert orjson.loads(logs[str(order_id)][-1]["data"])["race"] == path[-1]


async def test_a_standby_watcher_takes_over_a_dead_ones_pair(
    deployment: Deployment, engine: EngineProcesses, conn_pool: asyncpg.Pool, redis: aioredis.Redis
) -> None:
    settings = deployment.settings
    async with engine.client() as client:
        [order_id] = await place(client, [limit("102")])
        async with watching(settings, conn_pool, redis) as first, watching(settings, conn_pool, redis) as second:
            holders = await eventually(
                lambda: _holders(first, second), lambda h: len(h) == 1 and sum(map(len, h.values())) == 1
            )
            [holder] = holders
            standby = second if holder == first.owner else first
            dying = first if standby is second else second
            await _die(dying)  # its lease is never released: it lapses
            await eventually(lambda: _holders(standby), lambda h: standby.owner in h, within=10)
            await feed_of(settings, redis).set_prices({"SOL": Decimal(104)}, steady=True)
            done = await eventually(lambda: statuses(conn_pool, [order_id]), lambda s: s[order_id] in FINISHED)
    assert done[order_id] == "confirmed"
    assert status_path((await events(conn_pool, [order_id]))[order_id]).count("pending") == 1


async def _holders(*watchers: object) -> dict[str, list[tuple[str, str]]]:
    return {w.owner: w.watching for w in watchers if w.watching}  # type: ignore[attr-defined]


async def _die(watcher: object) -> None:
    """Stop a watcher as a killed process stops: every task gone, no lease released."""
    tasks = [*watcher._tasks, *(w.task for w in watcher._watched.values())]  # type: ignore[attr-defined]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    watcher._tasks, watcher._watched = [], {}  # type: ignore[attr-defined]


async def test_a_limit_whose_price_fell_back_before_execution_waits_again(
    deployment: Deployment, conn_pool: asyncpg.Pool, redis: aioredis.Redis
) -> None:
    # A deployment of its own (its own queue and market), whose worker starts only once the price fell back.
    assert deployment.settings.database_url and deployment.settings.redis_url
    mine = Deployment.make(deployment.settings.database_url, deployment.settings.redis_url)
    feed = feed_of(mine.settings, redis)
    await feed.set_prices(BASE_USD, steady=True)
    engine = EngineProcesses(mine.env)
    engine.start_api()
    try:
        engine.wait_answering()
        async with engine.client() as client, watching(mine.settings, conn_pool, redis):
            [order_id] = await place(client, [limit("102")])
            await feed.set_prices({"SOL": Decimal(104)}, steady=True)
            await eventually(lambda: statuses(conn_pool, [order_id]), lambda s: s[order_id] == "pending")
            await feed.set_prices({"SOL": Decimal(100)}, steady=True)  # before any worker quoted it
            engine.start_worker()
            await eventually(lambda: _path(conn_pool, order_id), lambda p: p[-1] == "waiting" and len(p) > 2)
            await feed.set_prices({"SOL": Decimal(104)}, steady=True)
            await eventually(lambda: statuses(conn_pool, [order_id]), lambda s: s[order_id] in FINISHED, within=30)
        path = await _path(conn_pool, order_id)
        assert path == ["waiting", "pending", "routing", "waiting", "pending", "routing", "building", "submitted",
                        "confirmed"]  # fmt: skip
        row = (await rows(conn_pool, [order_id]))[order_id]
        assert row["tx_signature"] is not None and int(row["amount_out"]) >= int(row["trigger_min_out"])
    finally:
        engine.stop()


async def _path(pool: asyncpg.Pool, order_id: str) -> list[str]:
    return status_path((await events(pool, [order_id]))[order_id])
