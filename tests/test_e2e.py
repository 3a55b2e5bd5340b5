"""Whole-system behaviour with real processes: load, restarts, a worker killed mid-batch, retries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
import websockets

from adapters.registry import build_venues
from kernel.settings import Settings
from tests.support import EngineProcesses, base_env, eventually

ORDER = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1.5", "slippageBps": 50}
STATUS_PATH = ["pending", "routing", "building", "submitted", "confirmed"]


@pytest.fixture
def engine_env(database_url: str, redis_url: str) -> dict[str, str]:
    return base_env(database_url, redis_url, QUEUE_NAME=f"oee:e2e:{uuid.uuid4().hex[:6]}")


@pytest.fixture
def engine(engine_env: dict[str, str]) -> Iterator[EngineProcesses]:
    procs = EngineProcesses(engine_env)
    yield procs
    procs.stop()


async def stream_statuses(ws_base: str, order_id: str) -> list[str]:
    seen: list[str] = []
    async with websockets.connect(f"{ws_base}/ws/orders/{order_id}", open_timeout=30) as ws:
        try:
            async for raw in ws:
                message = orjson.loads(raw)
                if message["type"] == "event" and message["kind"] == "status":
                    seen.append(message["status"])
        except websockets.ConnectionClosed:
            pass
    return seen


async def fetch_orders(base_url: str, ids: list[str]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        responses = await asyncio.gather(*(client.get(f"/api/orders/{i}") for i in ids))
    return [r.json() for r in responses]


async def ledger_signatures(settings: Settings, redis_url: str, ids: list[str]) -> dict[str, list[str]]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        ledger: Any = build_venues(settings, client).settlement
        return {i: list(await ledger.landed_signatures(i)) for i in ids}
    finally:
        await client.aclose()


async def test_200_orders_at_once_all_confirm_and_survive_restart(engine: EngineProcesses) -> None:
    engine.start()
    engine.wait_healthy()
    async with httpx.AsyncClient(base_url=engine.base_url, timeout=60,
                                 limits=httpx.Limits(max_connections=50)) as client:  # fmt: skip
        responses = await asyncio.gather(*(client.post("/api/orders/execute", json=ORDER) for _ in range(200)))
    assert [r.status_code for r in responses] == [202] * 200
    ids = [r.json()["orderId"] for r in responses]
    streams = await asyncio.gather(*(stream_statuses(engine.ws_url, i) for i in ids))
    assert all(s == STATUS_PATH for s in streams), [s for s in streams if s != STATUS_PATH][:3]

    engine.stop()
    engine.start()
    engine.wait_healthy()
    orders = await fetch_orders(engine.base_url, ids)
    assert [o["status"] for o in orders] == ["confirmed"] * 200
    assert len({o["txHash"] for o in orders}) == 200


async def test_worker_killed_mid_batch_every_order_finishes_exactly_once(
    engine: EngineProcesses, settings: Settings, redis_url: str
) -> None:
    slow = {"SIMULATED_EXECUTION_LATENCY_MS": "300-600", "WORKER_CONCURRENCY": "10", "JOB_TIMEOUT_S": "3"}
    engine.env.update(slow)
    engine.start()
    engine.wait_healthy()
    async with httpx.AsyncClient(base_url=engine.base_url, timeout=60) as client:
        responses = await asyncio.gather(*(client.post("/api/orders/execute", json=ORDER) for _ in range(60)))
        ids = [r.json()["orderId"] for r in responses]

        async def progress() -> dict[str, int]:
            counts: dict[str, int] = {}
            for o in await fetch_orders(engine.base_url, ids):
                counts[o["status"]] = counts.get(o["status"], 0) + 1
            return counts

        # Kill the worker while some orders are confirmed and others are on their way.
        await eventually(progress, lambda c: c.get("confirmed", 0) >= 10 and c.get("submitted", 0) >= 1, within=60)
    engine.kill_workers()
    engine.start_worker(**slow)

    async def finished() -> list[dict[str, Any]]:
        return await fetch_orders(engine.base_url, ids)

    orders = await eventually(
        finished,
        lambda os: all(o["status"] in ("confirmed", "failed") for o in os),
        within=120,
        describe=lambda os: [(o["orderId"], o["status"]) for o in os if o["status"] not in ("confirmed", "failed")],
    )
    assert [o["status"] for o in orders] == ["confirmed"] * 60, [o["failureReason"] for o in orders]
    landed = await ledger_signatures(settings, redis_url, ids)
    for order in orders:
        assert landed[order["orderId"]] == [order["txHash"]], order["orderId"]


async def test_injected_failures_are_retried_then_streamed_as_failed(engine: EngineProcesses) -> None:
    engine.env.update(SIMULATED_FAILURE_RATE="1", ORDER_RETRY_BASE_MS="50")
    engine.start()
    engine.wait_healthy()
    async with httpx.AsyncClient(base_url=engine.base_url, timeout=30) as client:
        order_id = (await client.post("/api/orders/execute", json=ORDER)).json()["orderId"]
    messages: list[dict[str, Any]] = []
    async with websockets.connect(f"{engine.ws_url}/ws/orders/{order_id}") as ws:
        try:
            async for raw in ws:
                messages.append(orjson.loads(raw))
        except websockets.ConnectionClosed:
            pass
    retries = [m["data"] for m in messages if m.get("kind") == "retrying"]
    assert [(r["attempt"], r["delayMs"]) for r in retries] == [(1, 50), (2, 100)]
    final = messages[-1]
    assert final["status"] == "failed"
    assert "gave up after 3 attempts" in final["data"]["reason"]
    order = (await fetch_orders(engine.base_url, [order_id]))[0]
    assert order["failureReason"] == final["data"]["reason"]
    assert [a["outcome"] for a in order["attempts"]] == ["retry", "retry", "failed"]
