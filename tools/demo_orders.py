"""One demo order: submitted to the API, then followed over its WebSocket stream into its row of the table."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import websockets

from tools.demo_view import DONE, Row

SLIPPAGE_BPS = 100


async def submit_and_follow(base: str, ws_base: str, key: str, row: Row, body: dict[str, object] | None = None) -> None:
    """Submit one order (a market order of the row's pair and amount unless ``body`` says otherwise) and follow
    its events until the server closes the stream."""
    headers = {"X-API-Key": key}
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as client:
            body = body or {"tokenIn": row.token_in, "tokenOut": row.token_out, "amountIn": row.amount,
                            "slippageBps": SLIPPAGE_BPS}  # fmt: skip
            r = await client.post("/api/orders/execute", json=body)
        if r.status_code != 202:
            row.fail(f"HTTP {r.status_code}", r.text)
            return
        row.order_id = r.json()["orderId"]
        row.status = r.json()["status"]
        async with websockets.connect(f"{ws_base}/ws/orders/{row.order_id}", additional_headers=headers) as ws:
            try:
                async for raw in ws:
                    m: dict[str, Any] = orjson.loads(raw)
                    if m.get("type") == "event":
                        row.apply(m)
            except websockets.ConnectionClosed:
                pass
    except (httpx.HTTPError, OSError, websockets.WebSocketException) as exc:
        row.fail("engine unreachable", f"{type(exc).__name__}: {exc}")
        return
    if row.status not in DONE:
        row.fail("stream closed", f"the event stream closed while the order was {row.status}")
        return
    row.finished = time.monotonic()
