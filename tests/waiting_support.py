"""What the tests of waiting orders share: a deployment of their own, a controlled market, an in-process watcher.

Each deployment gets its own database and namespace, so a price set in its market's feed reaches its own
processes only. The market is the simulated one, steered through its shared feed (prices set by hand,
both DEXes at the same price, pools launched): a fake of the market, not of our infrastructure.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import redis.asyncio as aioredis

from adapters.registry import build_watchers, tokens_for
from adapters.simulated import MarketFeed, SimulatedConfig, SimulatedMarket, market_feed, simulated_tokens
from engine.db.urls import asyncpg_dsn
from engine.watcher.service import WaitingWatcher
from kernel.errors import EngineError
from kernel.settings import Settings
from kernel.tokens import Token
from tests.support import base_env

BASE_USD = {"SOL": Decimal(100), "USDC": Decimal(1), "JUP": Decimal("0.8"), "RAY": Decimal(2)}


@dataclass
class Deployment:
    """One database and namespace: in-process settings and the environment of its processes."""

    settings: Settings
    env: dict[str, str]

    @classmethod
    def make(cls, database_url: str, redis_url: str, **env: str) -> Deployment:
        namespace = f"oee:wait:{uuid.uuid4().hex[:6]}"
        fast = {"SIMULATED_FEED_REFRESH_MS": "0", "SIMULATED_WATCH_POLL_MS": "20", "WATCH_LEASE_S": "1",
                "WATCH_RESYNC_S": "2", "WORKER_CONCURRENCY": "50", **env}  # fmt: skip
        values: dict[str, Any] = {k.lower(): v for k, v in fast.items()}
        values.update(simulated_quote_latency_ms="0", simulated_execution_latency_ms="0")
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=database_url,
            redis_url=redis_url,
            oee_namespace=namespace,
            log_level="WARNING",
            **values,
        )
        return cls(settings, base_env(database_url, redis_url, OEE_NAMESPACE=namespace, **fast))


async def pool_of(settings: Settings) -> asyncpg.Pool:
    assert settings.database_url
    pool = await asyncpg.create_pool(asyncpg_dsn(settings.database_url), min_size=1, max_size=8)
    assert pool is not None
    return pool


def feed_of(settings: Settings, redis: aioredis.Redis) -> MarketFeed:
    return market_feed(settings, redis)


def token(settings: Settings, symbol: str) -> Token:
    found = tokens_for(settings).resolve(symbol)
    assert found is not None
    return found


@asynccontextmanager
async def watching(settings: Settings, pool: asyncpg.Pool, redis: aioredis.Redis) -> AsyncIterator[WaitingWatcher]:
    """A started in-process watcher over the simulated DEXes, stopped after."""
    watcher = WaitingWatcher(settings, pool, redis, build_watchers(settings, redis), tokens_for(settings))
    await watcher.start()
    try:
        yield watcher
    finally:
        await watcher.stop()


async def oracle(settings: Settings, redis: aioredis.Redis) -> SimulatedMarket:
    """A market of its own reading the same feed: what the test believes each size is quoted."""
    market = SimulatedMarket(simulated_tokens(settings), SimulatedConfig.from_settings(settings),
                             feed=market_feed(settings, redis))  # fmt: skip
    await market.feed.refresh(force=True)
    return market


def best_out(market: SimulatedMarket, token_in: Token, token_out: Token, amount_in: int) -> int:
    outs = []
    for dex in market.dexes:
        try:
            outs.append(market.quote(dex, token_in, token_out, amount_in).amount_out)
        except EngineError:  # a venue that cannot fill this size pays nothing
            outs.append(0)
    return max(outs)


async def place(client: httpx.AsyncClient, bodies: Sequence[dict[str, Any]], *, at_once: int = 40) -> list[str]:
    """Submit every body; returns the order IDs in the same order."""
    import asyncio

    gate = asyncio.Semaphore(at_once)

    async def one(body: dict[str, Any]) -> str:
        async with gate:
            r = await client.post("/api/orders/execute", json=body)
            assert r.status_code == 202, r.text
            return str(r.json()["orderId"])

    return list(await asyncio.gather(*(one(b) for b in bodies)))


async def rows(pool: asyncpg.Pool, ids: Sequence[str]) -> dict[str, asyncpg.Record]:
    found = await pool.fetch("SELECT * FROM orders WHERE id = ANY($1::uuid[])", [uuid.UUID(i) for i in ids])
    return {str(r["id"]): r for r in found}


async def events(pool: asyncpg.Pool, ids: Sequence[str]) -> dict[str, list[asyncpg.Record]]:
    found = await pool.fetch(
        "SELECT order_id, seq, status, kind, data, created_at FROM order_events WHERE order_id = ANY($1::uuid[]) "
        "ORDER BY order_id, seq",
        [uuid.UUID(i) for i in ids],
    )
    grouped: dict[str, list[asyncpg.Record]] = {i: [] for i in ids}
    for r in found:
        grouped[str(r["order_id"])].append(r)
    return grouped


def status_path(order_events: Sequence[asyncpg.Record]) -> list[str]:
    return [e["status"] for e in order_events if e["kind"] == "status"]
