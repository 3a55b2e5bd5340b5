"""Bounded input at the API edge, against a running API: what an attacker sends is refused at once,
with the error envelope, and never stored or converted at a cost."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
import pytest
import websockets

from tests.api.test_api import ORDER, submit
from tests.support import EngineProcesses

JSON = {"content-type": "application/json"}


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "message", "fields"}
    assert body["error"]["status"] == status
    return body["error"]  # type: ignore[no-any-return]


def fields_of(r: httpx.Response) -> dict[str, str]:
    return {f["field"]: f["reason"] for f in error_of(r, 422)["fields"]}


async def newest_ids(client: httpx.AsyncClient) -> list[str]:
    recent = (await client.get("/api/orders/recent", params={"limit": 5})).json()
    return [o["orderId"] for o in recent["orders"]]


async def test_huge_exponents_are_refused_at_once_while_other_orders_are_accepted(
    client: httpx.AsyncClient,
) -> None:
    bombs = [{**ORDER, "amountIn": "1E+999990"}, {**ORDER, "slippageBps": "1e999999999"}] * 5
    # The same bombs as JSON numbers: never converted, so never costly either.
    raw_bombs = [b'{"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": 1E+999990}'] * 5
    refused = [submit(client, b) for b in bombs] + [
        client.post("/api/orders/execute", content=b, headers=JSON) for b in raw_bombs
    ]
    normal = [submit(client) for _ in range(40)]
    answers = await asyncio.gather(*refused, *normal)
    for answer in answers[: len(refused)]:
        assert set(fields_of(answer)) & {"amountIn", "slippageBps"}
    assert [a.status_code for a in answers[len(refused) :]] == [202] * len(normal)


@pytest.mark.parametrize(
    "amount",
    [
        "1E-999999999",  # far below a raw unit: refused, never read as zero
        "1_000",  # Python reads underscores in numbers; JSON and this API do not
        "\u0661\u0660\u0660",  # Arabic-Indic digits, which Decimal reads as 100
        "1.0000000000000000000000000001",  # 29 significant digits: refused, never rounded to 1
        " 1.5",
        "1" * 65,
        "NaN",
        "Infinity",
    ],
)
async def test_amounts_are_checked_as_text(client: httpx.AsyncClient, amount: str) -> None:
    before = await newest_ids(client)
    r = await submit(client, {**ORDER, "amountIn": amount})
    assert "amountIn" in fields_of(r)
    assert await newest_ids(client) == before


async def test_unknown_fields_are_named(client: httpx.AsyncClient) -> None:
    body = {k: v for k, v in ORDER.items() if k != "slippageBps"} | {"slipageBps": 10}
    assert "slipageBps" in fields_of(await submit(client, body))


async def test_slippage_is_an_integer_in_range(client: httpx.AsyncClient) -> None:
    for slippage in ["50", 50.5, "1e2", True, 5001, 0]:
        assert "slippageBps" in fields_of(await submit(client, {**ORDER, "slippageBps": slippage}))


async def test_a_body_over_the_limit_is_413_not_cut(client: httpx.AsyncClient) -> None:
    # An order followed by 40 KB of padding: the first part alone would be a valid order.
    body = orjson.dumps(ORDER) + b" " * 40_000
    r = await client.post("/api/orders/execute", content=body, headers=JSON)
    assert error_of(r, 413)["code"] == "payload_too_large"


async def test_a_body_not_declared_json_is_415(client: httpx.AsyncClient) -> None:
    before = await newest_ids(client)
    for headers in ({"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencoded"}, {}):
        r = await client.post("/api/orders/execute", content=orjson.dumps(ORDER), headers=headers)
        assert error_of(r, 415)["code"] == "unsupported_media_type"
    assert await newest_ids(client) == before


async def test_the_same_idempotency_key_with_other_parameters_is_409(client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await submit(client, **key)
    assert first.status_code == 202
    other = await submit(client, {**ORDER, "amountIn": "2"}, **key)
    assert error_of(other, 409)["code"] == "idempotency_conflict"
    # At once, in one batch: only the callers who sent the first parameters are told of that order.
    fresh = {"Idempotency-Key": str(uuid.uuid4())}
    answers = await asyncio.gather(*(submit(client, {**ORDER, "amountIn": str(1 + i % 2)}, **fresh) for i in range(20)))
    placed = [a for a in answers if a.status_code in (200, 202)]
    assert {a.json()["order"]["amountIn"] for a in placed} == {placed[0].json()["order"]["amountIn"]}
    assert len(placed) == 10
    assert all(a.status_code == 409 for a in answers if a not in placed)


async def test_a_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/orders/execute")
    assert error_of(r, 405)["code"] == "method_not_allowed"
    assert r.headers["allow"] == "POST"
    assert error_of(await client.delete("/api/orders/active"), 405)["code"] == "method_not_allowed"


async def test_deep_nesting_is_400(client: httpx.AsyncClient) -> None:
    body = b'{"tokenIn": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert error_of(await client.post("/api/orders/execute", content=body, headers=JSON), 400)["code"] == (
        "malformed_request"
    )


async def test_header_and_path_lengths_are_bounded(client: httpx.AsyncClient) -> None:
    assert "Idempotency-Key" in fields_of(await submit(client, **{"Idempotency-Key": "k" * 201}))
    assert "orderId" in fields_of(await client.get("/api/orders/" + "0" * 5000))
    assert "limit" in fields_of(await client.get("/api/orders/recent", params={"limit": 2**40}))


async def ws_refusal(engine: EngineProcesses, path: str, send: str | None = None) -> tuple[dict[str, Any], int | None]:
    async with engine.connect(path) as ws:
        if send is not None:
            await ws.send(send)
        reply = orjson.loads(await ws.recv())
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        return reply, ws.close_code


async def test_a_stream_after_past_any_seq_is_refused_with_an_error_frame(live_engine: EngineProcesses) -> None:
    order_id = str(uuid.uuid4())
    reply, code = await ws_refusal(live_engine, f"/ws/orders/{order_id}?after=2147483648")
    assert reply["type"] == "error" and reply["error"]["fields"][0]["field"] == "after"
    assert code == 1008


@pytest.mark.parametrize(
    ("message", "field", "close_code"),
    [
        (orjson.dumps({**ORDER, "amountIn": "1E+999990"}).decode(), "amountIn", 1008),
        (orjson.dumps({**ORDER, "slippageBps": "1e999999999"}).decode(), "slippageBps", 1008),
        (orjson.dumps({**ORDER, "slipageBps": 10}).decode(), "slipageBps", 1008),
        ('{"tokenIn": ', None, 1007),
        ("[" * 5000, None, 1007),
        (orjson.dumps(ORDER).decode() + " " * 40_000, None, 1009),
    ],
)
async def test_websocket_submission_applies_the_same_rules(
    live_engine: EngineProcesses, message: str, field: str | None, close_code: int
) -> None:
    reply, code = await ws_refusal(live_engine, "/api/orders/execute", message)
    assert reply["type"] == "error"
    assert set(reply["error"]) == {"status", "code", "message", "fields"}
    if field is not None:
        assert field in [f["field"] for f in reply["error"]["fields"]]
    assert code == close_code
