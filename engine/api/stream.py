"""An order's live stream over a WebSocket: snapshot, replay from ``after``, then live events in order.

Live events are pushed: they arrive over Redis pub/sub and nothing polls. PostgreSQL is read when a
socket connects, when a gap in ``seq`` shows a message was missed, and once after the process's
subscription comes back from a Redis outage (the hub's resync marker), so a client sees every event
exactly once and in order whatever happens to pub/sub, and an idle socket costs no query at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import orjson
from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from engine.api.auth import CLOSE_RATE_LIMITED, CLOSE_UNAUTHENTICATED
from engine.api.errors import error_reply, unavailable
from engine.api.present import event_wire, order_document
from engine.api.services import ApiServices
from engine.db import repository
from engine.events import RESYNC
from engine.runtime import DEPENDENCY_DOWN
from kernel.domain import TERMINAL_STATUSES, EventKind
from kernel.errors import EngineError

log = logging.getLogger("oee.api")

NOT_FOUND = 4404
# WebSocket close codes for refused input (RFC 6455 7.4.1); 1013 "try again later" when a dependency is down.
WS_CLOSE = {400: 1007, 401: CLOSE_UNAUTHENTICATED, 413: 1009, 429: CLOSE_RATE_LIMITED, 503: 1013}
WS_POLICY = 1008


async def refuse(websocket: WebSocket, exc: EngineError) -> None:
    """An error frame with the envelope's body, then a close code saying what kind of refusal."""
    status, _, body = error_reply(exc)
    await websocket.send_text(orjson.dumps({"type": "error", **orjson.loads(body)}).decode())
    await websocket.close(code=WS_CLOSE.get(status, WS_POLICY), reason=exc.code)


async def _send(websocket: WebSocket, message: dict[str, Any]) -> None:
    await websocket.send_text(orjson.dumps(message).decode())


async def stream_order(
    websocket: WebSocket, services: ApiServices, order_id: str, *, after: int, owner: uuid.UUID
) -> None:
    """Stream one of ``owner``'s orders from ``after``; the socket is accepted, ``after`` and the ID's
    length checked. Another key's order is "not found", like one that does not exist."""
    try:
        oid = uuid.UUID(order_id)
    except ValueError:
        await websocket.close(code=NOT_FOUND, reason="not a UUID")
        return
    hub = services.hub
    queue = hub.listen(order_id)  # listen before reading, so nothing falls between the two
    reader = asyncio.create_task(_drain_client(websocket))
    try:
        async with services.db() as conn:
            doc = await repository.order_document(conn, oid, owner)
        if doc is None:
            await websocket.close(code=NOT_FOUND, reason="order not found")
            return
        await _send(websocket, {"type": "snapshot", "order": order_document(doc)})
        last = max(0, after)
        events = [e for e in doc.events if e.seq > last]
        # An order already finished whose events the client has all seen: nothing more will come.
        done = doc.order.status in TERMINAL_STATUSES and not events
        for stored_event in events:
            wire = event_wire(order_id, stored_event)
            await _send(websocket, wire)
            last = stored_event.seq
            done = _is_terminal(wire)
        while not done:
            live = await _next(queue, reader)
            if live is None:
                break  # the client went away
            if live is not RESYNC and live["seq"] <= last:
                continue
            if live is not RESYNC and live["seq"] == last + 1:
                batch = [live]
            else:
                async with services.db() as conn:
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
    except DEPENDENCY_DOWN as exc:
        # PostgreSQL did not answer in time (a busy pool, a stall): the documented error frame and 1013, which
        # tells the client to try again later, never a crash in the handler.
        log.warning("stream of order %s: the order store did not answer: %r", order_id, exc)
        if websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await refuse(websocket, unavailable())
    finally:
        hub.unlisten(order_id, queue)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


async def _next(queue: asyncio.Queue[dict[str, Any]], reader: asyncio.Task[None]) -> dict[str, Any] | None:
    """The next live event, or None once the client has disconnected."""
    if reader.done():
        return None
    getter = asyncio.ensure_future(queue.get())
    await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
    if getter.done():
        return getter.result()
    getter.cancel()
    return None


def _is_terminal(event: dict[str, Any]) -> bool:
    return event["kind"] == EventKind.STATUS.value and event["status"] in TERMINAL_STATUSES


async def _drain_client(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a disconnect is noticed at once."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
