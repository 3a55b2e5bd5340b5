"""The HTTP and WebSocket API of a running engine (an API process and a worker, real servers)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
import websockets

from tests.support import EngineProcesses, eventually

ORDER = {"type": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1.5", "slippageBps": 50}
STATUS_PATH = ["pending", "routing", "building", "submitted", "confirmed"]


async def submit(client: httpx.AsyncClient, body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
    return await client.post("/api/orders/execute", json=body or ORDER, headers=headers)


async def wait_terminal(client: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any]:
        return (await client.get(f"/api/orders/{order_id}")).json()  # type: ignore[no-any-return]

    return await eventually(probe, lambda o: o["status"] in ("confirmed", "failed"), within=30)


async def read_stream(engine: EngineProcesses, path: str) -> tuple[list[dict[str, Any]], int | None]:
    """Every message until the server closes; and the close code."""
    messages: list[dict[str, Any]] = []
    async with engine.connect(path) as ws:
        try:
            async for raw in ws:
                messages.append(orjson.loads(raw))
        except websockets.ConnectionClosed:
            pass
        code = ws.close_code
    return messages, code


async def test_health_reports_every_dependency(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["checks"] == {"database": "ok", "redis": "ok", "worker": "ok", "settlement": "ok"}
    assert body["status"] == "ok" and body["degraded"] == []
    # The worker says where it settles: the simulated ledger, which has no RPC and no wallet to fund.
    assert body["workers"]
    for worker in body["workers"]:
        assert (worker["network"], worker["settlement"], worker["routing"]) == ("simulated", "simulated", "simulated")
        assert worker["rpc"] is None and worker["wallet"] is None and worker["fallback"] is None


async def test_submit_then_read_the_whole_order(client: httpx.AsyncClient) -> None:
    r = await submit(client)
    assert r.status_code == 202
    body = r.json()
    order_id = body["orderId"]
    assert uuid.UUID(order_id)
    assert body["status"] == "pending"
    assert body["wsUrl"] == f"/ws/orders/{order_id}"
    assert body["order"]["amountIn"] == "1.5"

    order = await wait_terminal(client, order_id)
    assert order["status"] == "confirmed", order
    assert order["tokenIn"] == {"symbol": "SOL", "mint": "So11111111111111111111111111111111111111112", "decimals": 9}
    assert order["tokenOut"]["symbol"] == "USDC" and order["tokenOut"]["decimals"] == 6
    assert {q["dex"] for q in order["quotes"]} == {"raydium", "meteora"}
    for q in order["quotes"]:
        assert q["amountOut"] and q["price"] and q["priceImpactPct"] is not None and q["fee"] is not None
    best = max(order["quotes"], key=lambda q: Decimal(q["amountOut"]))
    assert order["route"]["dex"] == best["dex"]
    assert order["route"]["reason"].startswith(f"{best['dex']} pays")
    assert Decimal(order["minAmountOut"]) <= Decimal(order["route"]["amountOut"])
    assert order["amountOut"] and order["executedPrice"]
    assert 80 <= len(order["txHash"]) <= 90
    assert order["settlement"]["kind"] == "simulated"
    assert [a["outcome"] for a in order["attempts"]] == ["confirmed"]
    statuses = [e["status"] for e in order["events"] if e["kind"] == "status"]
    assert statuses == STATUS_PATH
    assert [e["seq"] for e in order["events"]] == list(range(1, len(order["events"]) + 1))


async def test_idempotency_key_returns_the_same_order(client: httpx.AsyncClient) -> None:
    key = str(uuid.uuid4())
    first = await submit(client, **{"Idempotency-Key": key})
    second = await submit(client, **{"Idempotency-Key": key})
    assert first.status_code == 202
    assert second.status_code == 200
    assert first.json()["orderId"] == second.json()["orderId"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ORDER, "tokenIn": "NOPE"}, "tokenIn"),
        ({**ORDER, "tokenOut": "SOL"}, "tokenOut"),
        ({**ORDER, "amountIn": "0"}, "amountIn"),
        ({**ORDER, "amountIn": "-2"}, "amountIn"),
        ({**ORDER, "amountIn": "0.0000000001"}, "amountIn"),
        ({**ORDER, "slippageBps": 0}, "slippageBps"),
        ({**ORDER, "slippageBps": 6000}, "slippageBps"),
    ],
)
async def test_bad_input_is_422_naming_the_field(client: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    before = (await client.get("/api/orders/recent", params={"limit": 1})).json()
    r = await submit(client, body)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
    assert field in [d["field"] for d in r.json()["error"]["fields"]]
    after = (await client.get("/api/orders/recent", params={"limit": 1})).json()
    # Nothing was stored for the rejected request.
    assert [o["orderId"] for o in before["orders"]] == [o["orderId"] for o in after["orders"]]


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/orders/execute", content=b'{"tokenIn": ', headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed_request"


async def test_unknown_order_is_404_and_bad_id_422(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"/api/orders/{uuid.uuid4()}")).status_code == 404
    r = await client.get("/api/orders/not-a-uuid")
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "orderId"


async def test_active_and_recent(client: httpx.AsyncClient) -> None:
    order_id = (await submit(client)).json()["orderId"]
    active = (await client.get("/api/orders/active")).json()
    assert active["activeCount"] == len(active["orderIds"])
    await wait_terminal(client, order_id)
    active = (await client.get("/api/orders/active")).json()
    assert order_id not in active["orderIds"]
    recent = (await client.get("/api/orders/recent", params={"limit": 5, "status": "confirmed"})).json()
    assert 1 <= recent["count"] <= 5
    assert all(o["status"] == "confirmed" for o in recent["orders"])
    # A listing says where each order settled, so a simulated fill never passes for a chain one.
    assert {o["settlement"]["kind"] for o in recent["orders"]} == {"simulated"}
    assert (await client.get("/api/orders/recent", params={"limit": 0})).status_code == 422
    assert (await client.get("/api/orders/recent", params={"status": "nope"})).status_code == 422


async def test_stream_replays_then_closes_and_resumes_after(
    live_engine: EngineProcesses, client: httpx.AsyncClient
) -> None:
    order_id = (await submit(client)).json()["orderId"]
    messages, code = await read_stream(live_engine, f"/ws/orders/{order_id}")
    assert messages[0]["type"] == "snapshot"
    assert messages[0]["order"]["orderId"] == order_id
    events = messages[1:]
    assert [e["status"] for e in events if e["kind"] == "status"] == STATUS_PATH
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert code == 1000

    # A client that saw up to seq 2 reconnects and gets only what it missed.
    resumed, code = await read_stream(live_engine, f"/ws/orders/{order_id}?after=2")
    assert resumed[0]["type"] == "snapshot"
    assert [e["seq"] for e in resumed[1:]] == [s for s in seqs if s > 2]
    assert resumed[-1]["status"] == "confirmed"
    assert code == 1000


async def test_submit_over_websocket_streams_the_order(live_engine: EngineProcesses) -> None:
    async with live_engine.connect("/api/orders/execute") as ws:
        await ws.send(orjson.dumps({**ORDER, "tokenIn": "USDC", "tokenOut": "SOL", "amountIn": "25"}).decode())
        messages = []
        try:
            async for raw in ws:
                messages.append(orjson.loads(raw))
        except websockets.ConnectionClosed:
            pass
        assert ws.close_code == 1000
    assert messages[0]["type"] == "accepted"
    assert messages[1]["type"] == "snapshot"
    assert [m["status"] for m in messages[2:] if m.get("kind") == "status"] == STATUS_PATH


async def test_websocket_submission_rejects_bad_orders(live_engine: EngineProcesses) -> None:
    async with live_engine.connect("/api/orders/execute") as ws:
        await ws.send(orjson.dumps({**ORDER, "amountIn": "0"}).decode())
        reply = orjson.loads(await ws.recv())
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1008
    assert reply["type"] == "error"
    assert reply["error"]["fields"][0]["field"] == "amountIn"


async def test_stream_of_unknown_order_closes_4404(live_engine: EngineProcesses) -> None:
    messages, code = await read_stream(live_engine, f"/ws/orders/{uuid.uuid4()}")
    assert messages == []
    assert code == 4404
