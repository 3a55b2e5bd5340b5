"""Recording an order's progress: durable steps, events with a per-order sequence, published after commit."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import asyncpg
import orjson
import redis.asyncio as aioredis

from engine.batching import GroupCommitter
from engine.db import repository
from engine.db.records import NO_CHANGE, EventRecord, OrderChange, StepWrite
from engine.events import event_message, publish
from engine.metrics import OrderTimeline
from engine.runtime import backoff_s, dependency_down
from kernel.domain import EventKind, OrderStatus

log = logging.getLogger("oee.recorder")


class Superseded(Exception):
    """Another run of this order wrote a step since this run last read or wrote it: this run must stop.

    Every step with an event is a compare-and-set on the order's event sequence (step ``seq`` is written only
    while the order's last ``seq`` is ``seq - 1``, under the row's lock), and a run that loses once writes
    nothing more. Of two runs of one order (a worker that stalled past its lease, and the one that took the
    order over) only one can write, so only one can record a signed transaction, and only a recorded one is
    ever sent.
    """


@dataclass(eq=False)
class Run:
    """One run of one order, as the store fences it: once superseded, every later step is refused."""

    superseded: bool = False


@dataclass(frozen=True, slots=True)
class _Queued:
    step: StepWrite
    run: Run


class StepStore:
    """The worker's writer: steps of many orders share transactions; events are published after commit.

    PostgreSQL down or restarting holds the writes back, in order, retried with back-off for up to
    ``retry_for_s``: a run then carries on once the database is back instead of failing its order.
    """

    def __init__(
        self, pool: asyncpg.Pool, redis: aioredis.Redis, channel: str, max_batch: int = 512, retry_for_s: float = 60
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._channel = channel
        self._retry_for_s = retry_for_s
        # One flusher keeps each order's steps in the order they were taken.
        self._committer: GroupCommitter[_Queued, bool] = GroupCommitter(
            self._write, max_batch=max_batch, flushers=1, name="step-store"
        )

    def start(self) -> None:
        self._committer.start()

    async def stop(self) -> None:
        await self._committer.stop()

    def submit(self, step: StepWrite, run: Run) -> asyncio.Future[bool]:
        """Queue ``step`` of ``run``; the future says whether it was written (False: ``run`` was superseded)."""
        return self._committer.submit(_Queued(step, run))

    async def _write(self, items: Sequence[_Queued]) -> list[bool]:
        loop = asyncio.get_running_loop()
        started, failures = loop.time(), 0
        while True:
            try:
                written = await self._write_once(items)
                break
            except Exception as exc:
                if not dependency_down(exc) or loop.time() - started > self._retry_for_s:
                    raise
                failures += 1
                log.warning("writing %d steps failed (%r); retry %d in %.1f s", len(items), exc, failures,
                            backoff_s(failures))  # fmt: skip
                await asyncio.sleep(backoff_s(failures))
        messages = [
            event_message(str(i.step.order_id), e.seq, e.status, e.kind, orjson.loads(e.data))
            for i, ok in zip(items, written, strict=True)
            if ok and (e := i.step.event) is not None
        ]
        # Publishing is best effort: clients that miss an event replay it from PostgreSQL.
        try:
            await publish(self._redis, messages, self._channel)
        except Exception as exc:
            log.warning("publishing %d events failed (clients replay them from the log): %s", len(messages), exc)
        return written

    async def _write_once(self, items: Sequence[_Queued]) -> list[bool]:
        stopped: set[Run] = set()  # runs superseded in this batch; marked on the runs only once it commits
        written: list[bool] = []
        async with self._pool.acquire() as conn, conn.transaction():
            seqs = await repository.lock_event_seqs(conn, list({i.step.order_id for i in items if i.step.event}))
            for item in items:
                ok = not item.run.superseded and item.run not in stopped
                if ok and (event := item.step.event) is not None:
                    ok = seqs.get(item.step.order_id) == event.seq - 1
                    if ok:
                        seqs[item.step.order_id] = event.seq
                if not ok:
                    stopped.add(item.run)
                written.append(ok)
            await repository.write_steps(conn, [i.step for i, ok in zip(items, written, strict=True) if ok])
        for run in stopped:
            run.superseded = True
        return written


class OrderRecorder:
    """One job's view of its order: numbers events and queues its steps, in order.

    Every status change and retry of the order passes through here, so here (once each, when the step
    commits) they are counted and timed for ``/metrics`` and logged as one line carrying the order's ID.
    """

    def __init__(
        self,
        store: StepStore,
        order_id: uuid.UUID,
        last_seq: int,
        status: str,
        *,
        order_type: str = "market",
        queued_at: datetime | None = None,
    ) -> None:
        self._store = store
        self.order_id = order_id
        self.seq = last_seq
        self.status = status
        self._run = Run()
        self._pending: list[asyncio.Future[bool]] = []
        self._timeline = OrderTimeline(order_type, status, queued_at.timestamp() if queued_at else None)

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
        future = self._store.submit(step, self._run)
        if status is not None or kind is EventKind.RETRYING:
            # The callback runs in this context: the line carries the fields bound to the order now.
            future.add_done_callback(partial(self._committed, status, kind, data or {}, self.seq, time.time()))
        self._pending.append(future)

    def _committed(
        self,
        status: OrderStatus | None,
        kind: EventKind,
        data: dict[str, Any],
        seq: int,
        at: float,
        written: asyncio.Future[bool],
    ) -> None:
        """Count, time and log a step once it is durable; a step not written (a failed write, or a run
        fenced off by another) never happened, so it is neither counted nor logged."""
        if written.cancelled() or written.exception() is not None or not written.result():
            return
        if kind is EventKind.RETRYING:
            self._timeline.retried(str(data.get("code", "unknown")))
        if status is not None:
            self._timeline.entered(status.value, at)
            if not log.isEnabledFor(logging.INFO):
                return
            fields: dict[str, Any] = {"orderId": str(self.order_id), "status": status.value, "seq": seq}
            if "attempt" in data:
                fields["attempt"] = data["attempt"]
            log.info("order %s is %s", self.order_id, status.value, extra=fields)

    async def flush(self) -> None:
        """Wait until every queued step is committed; raises if any write failed, :class:`Superseded` if
        another run of the order wrote first."""
        pending, self._pending = self._pending, []
        if pending and not all(await asyncio.gather(*pending)):
            raise Superseded(f"another run of order {self.order_id} wrote since this one; this one stops")
