"""Every WebSocket message the server sends is one the "WebSocket messages" table of docs/api.md documents."""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson
import websockets
from pydantic import BaseModel

from engine.api.schemas import WS_MESSAGES
from tests.api.test_api import ORDER
from tests.support import ROOT, EngineProcesses

MODELS: dict[str, type[BaseModel]] = {m.model_fields["type"].annotation.__args__[0]: m for m in WS_MESSAGES}  # type: ignore[union-attr]


async def every_message(engine: EngineProcesses, path: str, send: bytes | None = None) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    async with engine.connect(path) as ws:
        if send is not None:
            await ws.send(send.decode())
        try:
            async for raw in ws:
                messages.append(orjson.loads(raw))
        except websockets.ConnectionClosed:
            pass
    return messages


def _fields(cell: str) -> set[str]:
    return {m for m in re.findall(r"`(\w+)`", re.sub(r"\(.*?\)", "", cell))}


async def test_what_the_server_sends_is_what_the_api_docs_document(live_engine: EngineProcesses) -> None:
    submitted = await every_message(live_engine, "/api/orders/execute", orjson.dumps(ORDER))
    order_id = submitted[0]["orderId"]
    streamed = await every_message(live_engine, f"/ws/orders/{order_id}")
    refused = await every_message(live_engine, "/api/orders/execute", b'{"amountIn": "1E+999990"}')
    refused += await every_message(live_engine, f"/ws/orders/{uuid.uuid4()}?after=-1")
    sent = submitted + streamed + refused
    assert {m["type"] for m in sent} == set(MODELS)  # every kind of message was seen
    table = {name: _fields(cell) for name, cell in _rows()}
    assert set(table) == set(MODELS)
    for message in sent:
        model = MODELS[message["type"]]
        model.model_validate(message)  # the documented shape, no field more or less
        assert set(message) == table[message["type"]], message["type"]
        assert set(model.model_fields) == table[message["type"]]


def _rows() -> list[tuple[str, str]]:
    text = (ROOT / "docs" / "api.md").read_text()
    section = text.split("### WebSocket messages", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `(\w+)` \| (.+?) \|", section, flags=re.MULTILINE)
