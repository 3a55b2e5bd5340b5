"""API keys at the edge: nothing about orders without one, each key sees only its own, and its rate holds."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import websockets

from tests.support import EngineProcesses, base_env, create_api_key

ORDER = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.3", "slippageBps": 80}
PROTECTED = [
    ("POST", "/api/orders/execute"),
    ("POST", "/api/quotes"),
    ("GET", "/api/orders/active"),
    ("GET", "/api/orders/recent"),
    ("GET", f"/api/orders/{uuid.uuid4()}"),
]


async def closing(ws: Any) -> tuple[list[dict[str, Any]], int | None]:
    """What the server sends until it closes, and its close code."""
    messages = []
    try:
        async for raw in ws:
            messages.append(orjson.loads(raw))
    except websockets.ConnectionClosed:
        pass
    return messages, ws.close_code


@pytest.mark.parametrize("presented", [None, "oee_aaaaaaaaaaaa_" + "A" * 43, "not-a-key", "x" * 5000])
async def test_without_a_valid_key_every_order_route_is_401(
    live_engine: EngineProcesses, presented: str | None
) -> None:
    headers = {} if presented is None else {"X-API-Key": presented}
    async with httpx.AsyncClient(base_url=live_engine.base_url, timeout=10, headers=headers) as c:
        for method, path in PROTECTED:
            r = await c.request(method, path, json=ORDER if method == "POST" else None)
            assert r.status_code == 401, (method, path, r.text)
            assert r.json()["error"]["code"] == "unauthenticated"
            assert (presented or "") not in r.text or not presented
        health = await c.get("/health")
    assert health.status_code == 200
    # Open, and it shows what is up and why, never a key or a URL (URLs can carry passwords).
    assert set(health.json()) == {"status", "checks", "degraded", "workers", "version", "time"}
    for secret in (live_engine.api_key, live_engine.env["DATABASE_URL"], live_engine.env["REDIS_URL"]):
        assert secret not in health.text


async def test_a_socket_without_a_key_gets_an_error_frame_and_4401(live_engine: EngineProcesses) -> None:
    for path in ("/api/orders/execute", f"/ws/orders/{uuid.uuid4()}"):
        async with websockets.connect(live_engine.ws_url + path) as ws:
            messages, code = await closing(ws)
        assert code == 4401
        assert messages[0]["type"] == "error" and messages[0]["error"]["status"] == 401


async def test_a_browser_socket_may_send_its_key_as_a_subprotocol(live_engine: EngineProcesses) -> None:
    async with live_engine.client() as c:
        order_id = (await c.post("/api/orders/execute", json=ORDER)).json()["orderId"]
    protocols = ["oee", f"oee.key.{live_engine.api_key}"]
    async with websockets.connect(
        f"{live_engine.ws_url}/ws/orders/{order_id}",
        subprotocols=protocols,  # type: ignore[arg-type]
    ) as ws:
        assert ws.subprotocol == "oee"
        messages, code = await closing(ws)
    assert messages[0]["type"] == "snapshot" and code == 1000


async def test_a_key_sees_only_its_own_orders(live_engine: EngineProcesses) -> None:
    other = create_api_key(live_engine.env["DATABASE_URL"], name="other", rate_per_s=1e6, burst=1_000_000)
    same_idempotency_key = f"shared-{uuid.uuid4().hex}"
    async with live_engine.client() as mine, live_engine.client(headers={"X-API-Key": other}) as theirs:
        first = await mine.post("/api/orders/execute", json=ORDER, headers={"Idempotency-Key": same_idempotency_key})
        # Another key's Idempotency-Key is its own: the same string places a new order, with other parameters.
        second = await theirs.post(
            "/api/orders/execute", json={**ORDER, "amountIn": "0.7"}, headers={"Idempotency-Key": same_idempotency_key}
        )
        assert (first.status_code, second.status_code) == (202, 202)
        mine_id, theirs_id = first.json()["orderId"], second.json()["orderId"]
        assert mine_id != theirs_id

        assert (await theirs.get(f"/api/orders/{mine_id}")).status_code == 404
        assert (await mine.get(f"/api/orders/{mine_id}")).status_code == 200
        recent = (await theirs.get("/api/orders/recent", params={"limit": 500})).json()["orders"]
        assert theirs_id in {o["orderId"] for o in recent} and mine_id not in {o["orderId"] for o in recent}
        active = (await theirs.get("/api/orders/active")).json()["orderIds"]
        assert mine_id not in active
    async with websockets.connect(
        f"{live_engine.ws_url}/ws/orders/{mine_id}", additional_headers={"X-API-Key": other}
    ) as ws:
        messages, code = await closing(ws)
    assert code == 4404 and not [m for m in messages if m.get("type") == "snapshot"]


async def test_over_its_rate_a_key_gets_429_with_retry_after(live_engine: EngineProcesses) -> None:
    slow = create_api_key(live_engine.env["DATABASE_URL"], name="slow", rate_per_s=0.2, burst=3)
    async with live_engine.client(headers={"X-API-Key": slow}) as c:
        replies = await asyncio.gather(*(c.get("/api/orders/recent") for _ in range(6)))
        async with live_engine.client() as fast:
            assert (await fast.get("/api/orders/recent")).status_code == 200, "one key's limit is not another's"
    codes = sorted(r.status_code for r in replies)
    assert codes == [200, 200, 200, 429, 429, 429]
    limited = next(r for r in replies if r.status_code == 429)
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 4 <= int(limited.headers["retry-after"]) <= 5  # one token at 0.2 a second, less what has refilled


@pytest.fixture(scope="module")
def two_socket_api(database_url: str, redis_url: str) -> Iterator[EngineProcesses]:
    env = base_env(database_url, redis_url, QUEUE_NAME=f"oee:cap:{uuid.uuid4().hex[:6]}", WS_MAX_PER_KEY="2")
    with EngineProcesses.api_only(env) as engine:
        yield engine


async def test_past_its_socket_cap_a_key_is_closed_with_4429(two_socket_api: EngineProcesses) -> None:
    async with two_socket_api.client() as c:
        order_id = (await c.post("/api/orders/execute", json=ORDER)).json()["orderId"]
    path = f"/ws/orders/{order_id}"
    async with two_socket_api.connect(path) as one, two_socket_api.connect(path) as two:
        assert orjson.loads(await one.recv())["type"] == "snapshot"
        assert orjson.loads(await two.recv())["type"] == "snapshot"
        async with two_socket_api.connect(path) as three:
            _, code = await closing(three)
        assert code == 4429
    async with two_socket_api.connect(path) as again:  # the two closed: room again
        assert orjson.loads(await again.recv())["type"] == "snapshot"
