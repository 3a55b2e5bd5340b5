"""A worker process whose dependencies go away (Redis or PostgreSQL killed and restarted mid-batch), and a
worker stopped with SIGTERM: every order ends exactly once, and the worker stays up."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from engine.db.urls import asyncpg_dsn
from engine.queue import OrderQueue, lease_keys
from engine.runtime import run_migrations
from kernel.settings import Settings
from tests.e2e.test_e2e import ledger_signatures
from tests.engine.test_execution import new_order
from tests.support import EngineProcesses, base_env, eventually
from tools.fault_servers import PostgresServer, RedisServer

TERMINAL = ("confirmed", "failed")


@pytest.fixture
def private(tmp_path: Path) -> Iterator[tuple[PostgresServer, RedisServer]]:
    """PostgreSQL and Redis of this test alone, which it may kill."""
    pg = PostgresServer(tmp_path / "pg").start()
    redis = RedisServer(tmp_path / "redis").start()
    try:
        run_migrations(Settings(_env_file=None, database_url=pg.url, redis_url=redis.url))  # type: ignore[call-arg]
        yield pg, redis
    finally:
        redis.stop()
        pg.stop()


async def submit(database_url: str, redis_url: str, queue: str, n: int) -> list[str]:
    """``n`` accepted orders, committed and queued as the API would."""
    pool = await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=1, max_size=2)
    assert pool is not None
    client = aioredis.Redis.from_url(redis_url)
    try:
        # Wide slippage: an order resumed after an outage fills at the market of then, which may have drifted
        # past 50 bps (it then fails as slippage exceeded, rightly); this test is about running exactly once.
        ids = [await new_order(pool, slippage_bps=1000) for _ in range(n)]
        await OrderQueue(client, queue).enqueue(ids)
    finally:
        await client.aclose()
        await pool.close()
    return ids


async def statuses(database_url: str, ids: list[str]) -> dict[str, str]:
    try:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
    except OSError:
        return {}  # the database is down right now
    try:
        rows = await conn.fetch("SELECT id, status FROM orders WHERE id = ANY($1)", [uuid.UUID(i) for i in ids])
    finally:
        await conn.close()
    return {str(r["id"]): r["status"] for r in rows}


async def tx_hashes(database_url: str, ids: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Each confirmed order's transaction, and why each other order is not confirmed."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch(
            "SELECT id, status, tx_signature, failure_reason FROM orders WHERE id = ANY($1)",
            [uuid.UUID(i) for i in ids],
        )
    finally:
        await conn.close()
    confirmed = {str(r["id"]): r["tx_signature"] for r in rows if r["status"] == "confirmed"}
    others = {str(r["id"]): f"{r['status']}: {r['failure_reason']}" for r in rows if r["status"] != "confirmed"}
    return confirmed, others


async def assert_each_executed_once(database_url: str, redis_url: str, ids: list[str]) -> None:
    hashes, failures = await tx_hashes(database_url, ids)
    assert failures == {}
    settings = Settings(_env_file=None, database_url=database_url, redis_url=redis_url)  # type: ignore[call-arg]
    assert await ledger_signatures(settings, redis_url, ids) == {i: [hashes[i]] for i in ids}


async def batch_through_an_outage(
    pg: PostgresServer, redis: RedisServer, log_dir: Path, outage: Callable[[], None]
) -> list[str]:
    """40 orders on one worker; ``outage`` strikes while some are in flight. Returns once all are terminal."""
    queue = f"oee:outage:{uuid.uuid4().hex[:6]}"
    env = base_env(
        pg.url, redis.url, QUEUE_NAME=queue, SIMULATED_EXECUTION_LATENCY_MS="300-700", WORKER_CONCURRENCY="10",
        REDIS_TIMEOUT_S="1", DB_TIMEOUT_S="2",
    )  # fmt: skip
    engine = EngineProcesses(env, log_dir=log_dir)
    worker = engine.start_worker()
    try:
        ids = await submit(pg.url, redis.url, queue, 40)
        await eventually(
            lambda: statuses(pg.url, ids),
            lambda s: sum(v in TERMINAL for v in s.values()) >= 5 and sum(v == "submitted" for v in s.values()) >= 1,
        )
        outage()
        await eventually(
            lambda: statuses(pg.url, ids), lambda s: len(s) == 40 and all(v in TERMINAL for v in s.values()),
            within=120, describe=lambda s: sorted(s.values()),
        )  # fmt: skip
        assert worker.poll() is None, "the worker exited"
        return ids
    finally:
        engine.stop()


def outage_for(seconds: float, kill: Callable[[], None], restart: Callable[[], None]) -> Callable[[], None]:
    def outage() -> None:
        kill()
        time.sleep(seconds)  # the length of the outage, not a wait for a condition
        restart()

    return outage


@pytest.mark.parametrize("server", ["redis", "postgres"])
async def test_a_worker_rides_out_a_server_restart_and_executes_each_order_once(
    private: tuple[PostgresServer, RedisServer], tmp_path: Path, server: str
) -> None:
    pg, redis = private
    outage = outage_for(2.0, redis.kill, redis.start) if server == "redis" else outage_for(2.0, pg.kill, pg.restart)
    ids = await batch_through_an_outage(pg, redis, tmp_path, outage)
    await assert_each_executed_once(pg.url, redis.url, ids)


async def held_by(redis_url: str, queue: str, pid: int) -> list[str]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        owners = await client.hgetall(lease_keys(queue)[1])
    finally:
        await client.aclose()
    return [k.decode() for k, v in owners.items() if int(v.decode().split(":")[1]) == pid]


@pytest.mark.parametrize("grace_s", [0, 30], ids=["hands-back", "finishes"])
async def test_sigterm_lets_running_orders_finish_within_the_grace_then_hands_the_rest_back(
    database_url: str, redis_url: str, tmp_path: Path, grace_s: int
) -> None:
    queue = f"oee:shutdown:{uuid.uuid4().hex[:6]}"
    env = base_env(
        database_url, redis_url, QUEUE_NAME=queue, SIMULATED_EXECUTION_LATENCY_MS="1500-2000",
        WORKER_CONCURRENCY="5", WORKER_SHUTDOWN_GRACE_S=str(grace_s),
    )  # fmt: skip
    engine = EngineProcesses(env, log_dir=tmp_path)
    try:
        first = engine.start_worker()
        ids = await submit(database_url, redis_url, queue, 10)
        held = await eventually(lambda: held_by(redis_url, queue, first.pid), lambda h: len(h) == 5)
        first.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(first.wait, 60) == 0
        engine.workers.remove(first)
        at_exit = await statuses(database_url, held)
        assert await held_by(redis_url, queue, first.pid) == []  # nothing left leased to the stopped worker
        client = aioredis.Redis.from_url(redis_url)
        try:
            ready = {i for i in ids if await client.zscore(queue, i) is not None}
        finally:
            await client.aclose()
        unfinished = {i for i, s in at_exit.items() if s not in TERMINAL}
        if grace_s:
            assert unfinished == set()  # every order it ran finished before it exited
        else:
            assert unfinished and unfinished <= ready  # handed back to the queue, ready for any worker now
        engine.start_worker()
        await eventually(
            lambda: statuses(database_url, ids), lambda s: all(v in TERMINAL for v in s.values()), within=120
        )
    finally:
        engine.stop()
    await assert_each_executed_once(database_url, redis_url, ids)
