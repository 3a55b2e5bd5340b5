"""Recording an order's progress: durable steps, events with a per-order sequence, published after commit."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson
import redis.asyncio as aioredis

from engine.batching import GroupCommitter
from engine.db import repository
from engine.db.records import NO_CHANGE, EventRecord, OrderChange, StepWrite
from engine.events import event_message, publish
from kernel.domain import EventKind, OrderStatus

log = logging.getLogger("oee.recorder")


class StepStore:
    """The worker's writer: steps of many orders share transactions; events are published after commit."""

    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, channel: str, max_batch: int = 512) -> None:
        self._pool = pool
        self._redis = redis
        self._channel = channel
        # One flusher keeps each order's steps in the order they were taken.
        self._committer: GroupCommitter[StepWrite, None] = GroupCommitter(
            self._write, max_batch=max_batch, flushers=1, name="step-store"
        )

    def start(self) -> None:
        self._committer.start()

    async def stop(self) -> None:
        await self._committer.stop()

    def submit(self, step: StepWrite) -> asyncio.Future[None]:
        return self._committer.submit(step)

    async def _write(self, steps: Sequence[StepWrite]) -> list[None]:
        async with self._pool.acquire() as conn, conn.transaction():
            await repository.write_steps(conn, steps)
        messages = [
            event_message(str(s.order_id), e.seq, e.status, e.kind, orjson.loads(e.data))
            for s in steps
            if (e := s.event) is not None
        ]
        # Publishing is best effort: clients that miss an event replay it from PostgreSQL.
        try:
            await publish(self._redis, messages, self._channel)
        except Exception as exc:
            log.warning("publishing %d events failed (clients replay them from the log): %s", len(messages), exc)
        return [None] * len(steps)


class OrderRecorder:
    """One job's view of its order: numbers events and queues its steps, in order."""

    def __init__(self, store: StepStore, order_id: uuid.UUID, last_seq: int, status: str) -> None:
        self._store = store
        self.order_id = order_id
        self.seq = last_seq
        self.status = status
        self._pending: list[asyncio.Future[None]] = []

    def step(
        self,
        *,
        status: OrderStatus | None = None,
        kind: EventKind = EventKind.STATUS,
        data: dict[str, Any] | None = None,
        change: OrderChange = NO_CHANGE,
        event: bool = True,
    ) -> None:
        """Queue a step. It is written with others; :meth:`flush` waits until it is durable."""
        if status is not None:
            self.status = status.value
        record = None
        if event:
            self.seq += 1
            record = EventRecord(self.seq, self.status, kind.value, orjson.dumps(data or {}))
        step = StepWrite(self.order_id, status.value if status is not None else None, record, change)
        self._pending.append(self._store.submit(step))

    async def flush(self) -> None:
        """Wait until every queued step is committed; raises if any write failed."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)
