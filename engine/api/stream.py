"""An order's live stream over a WebSocket: snapshot, replay from ``after``, then live events in order.

Events arrive over Redis pub/sub, but PostgreSQL decides: any gap in ``seq`` (a missed message, a lost
subscription) is filled from the ``order_events`` table, and an idle stream re-checks the table, so a
client sees every event exactly once and in order whatever happens to pub/sub.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import orjson
from fastapi import FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from engine.api.present import event_wire, order_document
from engine.db import repository
from kernel.domain import TERMINAL_STATUSES, EventKind

IDLE_RECHECK_S = 2.0
NOT_FOUND = 4404


async def _send(websocket: WebSocket, message: dict[str, Any]) -> None:
    await websocket.send_text(orjson.dumps(message).decode())


async def stream_order(websocket: WebSocket, app: FastAPI, order_id: str, *, after: int, accepted: bool) -> None:
    try:
        oid = uuid.UUID(order_id)
    except ValueError:
        await websocket.close(code=NOT_FOUND, reason="not a UUID")
        return
    hub = app.state.hub
    queue = hub.listen(order_id)  # listen before reading, so nothing falls between the two
    reader = asyncio.create_task(_drain_client(websocket))
    try:
        async with app.state.db.acquire() as conn:
            doc = await repository.order_document(conn, oid)
        if doc is None:
            await websocket.close(code=NOT_FOUND, reason="order not found")
            return
        await _send(websocket, {"type": "snapshot", "order": order_document(doc)})
        last = max(0, after)
        events = [e for e in doc["events"] if e["seq"] > last]
        done = False
        for event in events:
            await _send(websocket, event_wire(order_id, event))
            last = event["seq"]
            done = _is_terminal(event)
        while not done and not reader.done():
            try:
                live = await asyncio.wait_for(queue.get(), IDLE_RECHECK_S)
            except TimeoutError:
                live = None
            if live is not None and live["seq"] <= last:
                continue
            if live is not None and live["seq"] == last + 1:
                batch = [live]
            else:
                async with app.state.db.acquire() as conn:
                    stored = await repository.events_after(conn, oid, last)
                batch = [event_wire(order_id, e) for e in stored]
            for event in batch:
                await _send(websocket, event)
                last = event["seq"]
                if _is_terminal(event):
                    done = True
                    break
        if done and websocket.application_state is WebSocketState.CONNECTED:
            await websocket.close(code=1000, reason="order finished")
    except WebSocketDisconnect:
        pass
    finally:
        hub.unlisten(order_id, queue)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


def _is_terminal(event: dict[str, Any]) -> bool:
    return event["kind"] == EventKind.STATUS.value and event["status"] in TERMINAL_STATUSES


async def _drain_client(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a disconnect is noticed at once."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
