"""A stalled dependency never holds a request: Redis paused (SIGSTOP), PostgreSQL blocked by a lock.

Each test runs its own processes over a database of its own; the Redis is a private server on a unix
socket that the test pauses. The HTTP client's own timeout (3 s) is the bound: a request that hung
for the stall would fail the test. What is asserted is the outcome: status codes, that health
answered and what it named, and what was stored.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
import websockets

from engine.db.urls import asyncpg_dsn
from tests.support import EngineProcesses, base_env, eventually, migrated_database
from tools.fault_servers import RedisServer

CLIENT_TIMEOUT_S = 3.0
ORDER = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.25", "slippageBps": 50}


@pytest.fixture
def paused_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private Redis the test pauses: never the shared server the rest of the suite uses."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def own_database(database_url: str) -> Iterator[str]:
    with migrated_database(database_url, "oee_stall") as url:
        yield url


async def orders_with_key(database_url: str, key: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM orders WHERE idempotency_key = $1", key))
    finally:
        await conn.close()


async def test_redis_paused_submissions_answer_and_health_names_redis(
    own_database: str, paused_redis: RedisServer
) -> None:
    engine = EngineProcesses(base_env(own_database, paused_redis.url, RECOVERY_INTERVAL_S="0.5")).start()
    try:
        engine.wait_healthy()
        keys = [f"stall-{uuid.uuid4().hex[:8]}" for _ in range(4)]
        async with engine.client(timeout=CLIENT_TIMEOUT_S) as client:
            paused_redis.pause()
            try:
                health = await client.get("/health")
                answers = await asyncio.gather(
                    *(client.post("/api/orders/execute", json=ORDER, headers={"Idempotency-Key": k}) for k in keys)
                )
            finally:
                paused_redis.resume()

            assert health.status_code == 503
            body = health.json()
            assert body["status"] == "degraded"
            assert body["checks"]["database"] == "ok" and body["checks"]["redis"] != "ok"
            assert any(reason.startswith("redis:") for reason in body["degraded"])

            # Each submission answered within the client's timeout: accepted (durable in PostgreSQL; an enqueue
            # that could not reach Redis is made up by the recovery sweep) or 503 (the key's rate limit lives in
            # Redis), which the same Idempotency-Key then places exactly once.
            accepted = []
            for key, answer in zip(keys, answers, strict=True):
                assert answer.status_code in (202, 503), answer.text
                if answer.status_code == 202:
                    accepted.append(answer.json()["orderId"])
                else:
                    assert answer.headers["retry-after"] and answer.json()["error"]["code"] == "unavailable"
                    again = await client.post("/api/orders/execute", json=ORDER, headers={"Idempotency-Key": key})
                    assert again.status_code in (200, 202)
                    accepted.append(again.json()["orderId"])
                assert await orders_with_key(own_database, key) == 1

            async def statuses() -> list[str]:
                return [(await client.get(f"/api/orders/{oid}")).json()["status"] for oid in accepted]

            await eventually(statuses, lambda s: set(s) == {"confirmed"}, within=60)

            async def health_status() -> int:
                return (await client.get("/health")).status_code

            await eventually(health_status, lambda code: code == 200, within=30)
    finally:
        engine.stop()


async def test_postgres_blocked_submission_and_reads_answer_503_with_retry_after(
    own_database: str, redis_url: str
) -> None:
    env = base_env(own_database, redis_url, REQUEST_DB_TIMEOUT_S="1", OEE_NAMESPACE=f"oee:stall:{uuid.uuid4().hex[:6]}")
    key = f"blocked-{uuid.uuid4().hex[:8]}"
    with EngineProcesses.api_only(env) as engine:
        async with engine.client(timeout=CLIENT_TIMEOUT_S) as client:
            # A lock nobody can get past stalls every read and write of the orders table, as a stuck
            # PostgreSQL would, while the server itself (and /health's ping) still answers.
            locker = await asyncpg.connect(asyncpg_dsn(own_database))
            try:
                async with locker.transaction():
                    await locker.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
                    submitted = await client.post("/api/orders/execute", json=ORDER, headers={"Idempotency-Key": key})
                    listed = await client.get("/api/orders/recent")
                    health = await client.get("/health")
                    streamed = await _stream_refusal(engine, f"/ws/orders/{uuid.uuid4()}")
            finally:
                await locker.close()

            for refused in (submitted, listed):
                assert refused.status_code == 503, refused.text
                assert int(refused.headers["retry-after"]) >= 1
                assert refused.json()["error"]["code"] == "unavailable"
            assert health.status_code in (200, 503) and health.json()["checks"]["database"] == "ok"
            # A stream whose read of the order timed out: the error frame, then 1013 (try again later).
            frames, code = streamed
            assert [f["type"] for f in frames] == ["error"] and frames[0]["error"]["code"] == "unavailable"
            assert code == 1013

            # The rule: a 503 submission was not accepted unless the same Idempotency-Key later shows it.
            # Retrying with the key answers the stored order (200) or places it now (202), never two.
            again = await client.post("/api/orders/execute", json=ORDER, headers={"Idempotency-Key": key})
            assert again.status_code in (200, 202)
            assert await orders_with_key(own_database, key) == 1


async def _stream_refusal(engine: EngineProcesses, path: str) -> tuple[list[dict[str, Any]], int | None]:
    """Every frame a stream sends until the server closes it, and the close code."""
    frames: list[dict[str, Any]] = []
    async with engine.connect(path) as ws:
        try:
            async for raw in ws:
                frames.append(orjson.loads(raw))
        except websockets.ConnectionClosed:
            pass
        return frames, ws.close_code
