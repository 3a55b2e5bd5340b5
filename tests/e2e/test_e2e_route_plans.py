"""A split order and a hop order through real processes: both confirm, and their route plans are stored (the
order document reads them back from PostgreSQL), streamed in the building event and quoted by the quote call."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import orjson
import websockets

from tests.support import EngineProcesses, base_env, eventually

SPLIT = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "5000", "slippageBps": 100}
HOP = {"tokenIn": "BONK", "tokenOut": "RAY", "amountIn": "5000000", "slippageBps": 100}


async def _events(engine: EngineProcesses, order_id: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async with engine.connect(f"/ws/orders/{order_id}", open_timeout=30) as ws:
        try:
            async for raw in ws:
                message = orjson.loads(raw)
                if message["type"] == "event":
                    seen.append(message)
        except websockets.ConnectionClosed:
            pass
    return seen


def _check_plan(plan: dict[str, Any], kind: str) -> None:
    assert plan["kind"] == kind
    legs = plan["legs"]
    assert len(legs) >= 2
    if kind == "split":
        assert sum(leg["shareBps"] for leg in legs) == 10_000
        assert sum(Decimal(leg["amountIn"]) for leg in legs) == Decimal(plan["amountIn"])
        assert sum(Decimal(leg["minAmountOut"]) for leg in legs) >= Decimal(plan["minAmountOut"])
        assert plan["gainBps"] >= 2
        assert any(c["kind"] == "single" for c in plan["candidates"])
    else:
        first, second = legs
        assert first["mode"] == "exact_out" and second["mode"] == "exact_in"
        assert first["outputMint"] == second["inputMint"] and first["amountOut"] == second["amountIn"]
        assert not any(c["kind"] == "single" for c in plan["candidates"])  # no pool trades BONK/RAY directly
    assert sum(1 for c in plan["candidates"] if c["chosen"]) == 1


async def test_a_split_and_a_hop_confirm_with_their_plans_stored_and_streamed(
    database_url: str, redis_url: str
) -> None:
    env = base_env(database_url, redis_url, QUEUE_NAME=f"oee:plans:{uuid.uuid4().hex[:6]}")
    with EngineProcesses.running(env) as engine:
        async with engine.client(timeout=30) as client:
            quoted = await asyncio.gather(*(client.post("/api/quotes", json=body) for body in (SPLIT, HOP)))
            assert [r.status_code for r in quoted] == [200, 200], [r.text for r in quoted]
            _check_plan(quoted[0].json()["routePlan"], "split")
            _check_plan(quoted[1].json()["routePlan"], "hop")
            placed = await asyncio.gather(*(client.post("/api/orders/execute", json=body) for body in (SPLIT, HOP)))
            assert [r.status_code for r in placed] == [202, 202], [r.text for r in placed]
            ids = [r.json()["orderId"] for r in placed]
            streams = await asyncio.gather(*(_events(engine, i) for i in ids))

            async def documents() -> list[dict[str, Any]]:
                return [(await client.get(f"/api/orders/{i}")).json() for i in ids]

            docs = await eventually(documents, lambda ds: all(d["status"] in ("confirmed", "failed") for d in ds))
        for doc, events, kind in zip(docs, streams, ("split", "hop"), strict=True):
            assert doc["status"] == "confirmed", doc.get("failureReason")
            building = [e for e in events if e["status"] == "building" and e["kind"] == "status"]
            assert building, [e["status"] for e in events]
            streamed = building[-1]["data"]["routePlan"]
            _check_plan(streamed, kind)
            stored = doc["routePlan"]
            _check_plan(stored, kind)
            assert stored == streamed
            assert doc["route"]["dex"] == building[-1]["data"]["dex"] == doc["dex"]
            assert doc["minAmountOut"] == stored["minAmountOut"]
            assert Decimal(doc["amountOut"]) >= Decimal(stored["minAmountOut"])
