"""Live order events over Redis pub/sub: workers publish after commit; every API process fans them out.

One channel per deployment (``Settings.events_channel``) carries every order's events, so an API process
holds a single subscription however many WebSocket clients it serves, and any API process can serve any
order. PostgreSQL stays the record: a client that missed events replays them from the ``order_events`` table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
import redis.asyncio as aioredis

from engine.metrics import WS_SUBSCRIBERS

log = logging.getLogger("oee.events")

# Put in every listener's queue when the subscription is (re)established: events published while it
# was down never arrive, so each stream reads what it missed from PostgreSQL once.
RESYNC: dict[str, Any] = {"type": "resync"}


def event_message(order_id: str, seq: int, status: str, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The wire form of one event, as WebSocket clients receive it."""
    return {
        "type": "event",
        "orderId": order_id,
        "seq": seq,
        "status": status,
        "kind": kind,
        "data": data,
        "at": datetime.now(UTC).isoformat(),
    }


async def publish(redis: aioredis.Redis, messages: Iterable[dict[str, Any]], channel: str) -> None:
    payloads = [orjson.dumps(m) for m in messages]
    if not payloads:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for p in payloads:
            pipe.publish(channel, p)
        await pipe.execute()


class EventHub:
    """One Redis subscription per process; local listeners register per order ID."""

    def __init__(self, redis: aioredis.Redis, channel: str) -> None:
        self._redis = redis
        self._channel = channel
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-hub")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def listen(self, order_id: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._listeners[order_id].add(queue)
        WS_SUBSCRIBERS.inc()
        return queue

    def unlisten(self, order_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        listeners = self._listeners.get(order_id)
        if listeners is not None and queue in listeners:
            listeners.remove(queue)
            WS_SUBSCRIBERS.dec()
            if not listeners:
                del self._listeners[order_id]

    async def _run(self) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                if self._ready.is_set():
                    self._resync_all()
                self._ready.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    self._dispatch(message["data"])
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise
            except Exception:
                # Subscribers re-sync from PostgreSQL on reconnect, so a gap here loses nothing.
                log.warning("event subscription lost; reconnecting", exc_info=True)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                await asyncio.sleep(0.5)

    def _resync_all(self) -> None:
        for listeners in self._listeners.values():
            for queue in listeners:
                queue.put_nowait(RESYNC)

    @property
    def listeners(self) -> int:
        """How many streams listen in this process."""
        return sum(len(queues) for queues in self._listeners.values())

    def _dispatch(self, payload: bytes) -> None:
        event = orjson.loads(payload)
        for queue in self._listeners.get(event.get("orderId", ""), ()):
            queue.put_nowait(event)
