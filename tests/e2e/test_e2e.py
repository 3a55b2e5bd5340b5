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

from adapters.registry import build_worker_adapters
from engine.queue import lease_keys
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


async def stream_statuses(engine: EngineProcesses, order_id: str) -> list[str]:
    seen: list[str] = []
    async with engine.connect(f"/ws/orders/{order_id}", open_timeout=30) as ws:
        try:
            async for raw in ws:
                message = orjson.loads(raw)
                if message["type"] == "event" and message["kind"] == "status":
                    seen.append(message["status"])
        except websockets.ConnectionClosed:
            pass
    return seen


async def fetch_orders(engine: EngineProcesses, ids: list[str]) -> list[dict[str, Any]]:
    async with engine.client() as client:
        responses = await asyncio.gather(*(client.get(f"/api/orders/{i}") for i in ids))
    return [r.json() for r in responses]


async def ledger_signatures(settings: Settings, redis_url: str, ids: list[str]) -> dict[str, list[str]]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        ledger: Any = build_worker_adapters(settings, client).settlement
        return {i: list(await ledger.landed_signatures(i)) for i in ids}
    finally:
        await client.aclose()


async def test_200_orders_at_once_all_confirm_and_survive_restart(engine: EngineProcesses) -> None:
    engine.start()
    engine.wait_healthy()
    async with engine.client(timeout=60,
                                 limits=httpx.Limits(max_connections=50)) as client:  # fmt: skip
        responses = await asyncio.gather(*(client.post("/api/orders/execute", json=ORDER) for _ in range(200)))
    assert [r.status_code for r in responses] == [202] * 200
    ids = [r.json()["orderId"] for r in responses]
    streams = await asyncio.gather(*(stream_statuses(engine, i) for i in ids))
    assert all(s == STATUS_PATH for s in streams), [s for s in streams if s != STATUS_PATH][:3]

    engine.stop()
    engine.start()
    engine.wait_healthy()
    orders = await fetch_orders(engine, ids)
    assert [o["status"] for o in orders] == ["confirmed"] * 200
    assert len({o["txHash"] for o in orders}) == 200


async def lease_holders(redis_url: str, queue: str) -> dict[str, int]:
    """Order ID -> the pid of the worker process holding its lease."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        owners = await client.hgetall(lease_keys(queue)[1])
    finally:
        await client.aclose()
    return {k.decode(): int(v.decode().split(":")[1]) for k, v in owners.items()}


async def test_a_killed_workers_orders_move_to_the_live_worker_and_execute_once(
    engine: EngineProcesses, settings: Settings, redis_url: str
) -> None:
    # Executions outlast the default lease (3 s, renewed every 1 s): a healthy order is never taken over.
    engine.env.update(SIMULATED_EXECUTION_LATENCY_MS="2500-4000", WORKER_CONCURRENCY="10")
    engine.start()
    victim = engine.start_worker()
    engine.wait_healthy()
    queue = engine.env["QUEUE_NAME"]
    async with engine.client(timeout=60) as client:
        responses = await asyncio.gather(*(client.post("/api/orders/execute", json=ORDER) for _ in range(40)))
    ids = [r.json()["orderId"] for r in responses]

    async def victims_submitted() -> list[str]:
        held = [i for i, pid in (await lease_holders(redis_url, queue)).items() if pid == victim.pid]
        return [o["orderId"] for o in await fetch_orders(engine, held) if o["status"] == "submitted"]

    # Kill the worker while it holds orders whose signed transaction is recorded and maybe sent.
    await eventually(victims_submitted, lambda held: len(held) >= 1, within=60)
    held = [i for i, pid in (await lease_holders(redis_url, queue)).items() if pid == victim.pid]
    victim.kill()
    victim.wait(timeout=30)
    engine.workers.remove(victim)
    at_kill = {o["orderId"]: o for o in await fetch_orders(engine, held)}
    orphans = [i for i, o in at_kill.items() if o["status"] not in ("confirmed", "failed")]
    assert orphans

    orders = await eventually(
        lambda: fetch_orders(engine, ids),
        lambda os: all(o["status"] in ("confirmed", "failed") for o in os),
        within=120,
        describe=lambda os: [(o["orderId"], o["status"]) for o in os if o["status"] not in ("confirmed", "failed")],
    )
    assert [o["status"] for o in orders] == ["confirmed"] * 40, [o["failureReason"] for o in orders]
    landed = await ledger_signatures(settings, redis_url, ids)
    for order in orders:
        assert landed[order["orderId"]] == [order["txHash"]], order["orderId"]
    by_id = {o["orderId"]: o for o in orders}
    for order_id in orphans:
        before, after = at_kill[order_id], by_id[order_id]
        assert len(after["events"]) > len(before["events"]), order_id  # it moved again after the kill
        if before["status"] == "submitted":
            # The live worker confirmed the recorded transaction instead of building another.
            assert after["txHash"] == before["txHash"]
            assert any(e["kind"] == "settlement" and e["data"].get("resumed") for e in after["events"]), order_id


async def test_injected_failures_are_retried_then_streamed_as_failed(engine: EngineProcesses) -> None:
    engine.env.update(SIMULATED_FAILURE_RATE="1", ORDER_RETRY_BASE_MS="50")
    engine.start()
    engine.wait_healthy()
    async with engine.client(timeout=30) as client:
        order_id = (await client.post("/api/orders/execute", json=ORDER)).json()["orderId"]
    messages: list[dict[str, Any]] = []
    async with engine.connect(f"/ws/orders/{order_id}") as ws:
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
    order = (await fetch_orders(engine, [order_id]))[0]
    assert order["failureReason"] == final["data"]["reason"]
    assert [a["outcome"] for a in order["attempts"]] == ["retry", "retry", "failed"]
