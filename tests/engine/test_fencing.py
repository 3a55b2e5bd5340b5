"""Two runs of one order at once (a worker stalled past its lease, and the worker that took the order over):
only one can record a transaction, and only a recorded one is sent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as aioredis

from engine.db.records import EventRecord, StepWrite
from engine.execution import SUPERSEDED
from engine.recorder import OrderRecorder, Run, StepStore, Superseded
from kernel.settings import Settings
from kernel.venues import PreparedTx, SettlementVenue, SwapTicket, TxStatus
from tests.engine.test_execution import CrashingVenue, Harness, document, make_harness, new_order
from tests.support import eventually


class StallingVenue(CrashingVenue):
    """Passes through to a venue, but the run stops dead (a stalled event loop) at ``prepare`` or ``send``
    until released; records what it was asked to send."""

    def __init__(self, inner: SettlementVenue, *, stall_at: str) -> None:
        super().__init__(inner, crash_before_send=False)
        self.stall_at = stall_at
        self.stalled = asyncio.Event()
        self.release = asyncio.Event()
        self.sent: list[str] = []

    async def _maybe_stall(self, point: str) -> None:
        if point == self.stall_at and not self.release.is_set():
            self.stalled.set()
            await self.release.wait()

    async def prepare(self, ticket: SwapTicket) -> PreparedTx:
        await self._maybe_stall("prepare")
        return await self.inner.prepare(ticket)

    async def send(self, tx: PreparedTx) -> None:
        await self._maybe_stall("send")
        self.sent.append(tx.signature)
        await self.inner.send(tx)

    async def wait(self, tx: PreparedTx, timeout_s: float) -> TxStatus:
        return await self.inner.wait(tx, timeout_s)


@pytest.fixture
async def workers(
    settings: Settings, db: asyncpg.Pool, redis: aioredis.Redis
) -> AsyncIterator[tuple[Harness, Harness]]:
    """Two workers' executors: each its own step store and venues, over the same database and ledger."""
    first, second = await make_harness(settings, db, redis), await make_harness(settings, db, redis)
    yield first, second
    for h in (first, second):
        await h.store.stop()


async def test_a_stalled_run_never_records_or_sends_once_another_run_took_the_order(
    workers: tuple[Harness, Harness],
) -> None:
    first, second = workers
    order_id = await new_order(first.db)
    venue = StallingVenue(first.venues.settlement, stall_at="prepare")
    stalled = asyncio.create_task(first.executor(venue=venue).execute(order_id))
    await asyncio.wait_for(venue.stalled.wait(), 30)
    # The stalled run has routed and chosen its venue: that much is recorded.
    await eventually(lambda: document(first.db, order_id), lambda d: d.order.status == "building")

    assert await second.executor().execute(order_id) == "confirmed"
    taken_over = await document(first.db, order_id)
    venue.release.set()
    assert await asyncio.wait_for(stalled, 30) == SUPERSEDED

    doc = await document(first.db, order_id)
    assert venue.sent == []
    assert await first.landed(order_id) == [doc.order.tx_signature]
    assert doc.order.status == "confirmed"
    assert doc.events == taken_over.events  # the stalled run wrote nothing after the takeover


async def test_a_run_stalled_after_recording_cannot_confirm_over_the_run_that_resumed_it(
    workers: tuple[Harness, Harness],
) -> None:
    first, second = workers
    order_id = await new_order(first.db)
    venue = StallingVenue(first.venues.settlement, stall_at="send")
    stalled = asyncio.create_task(first.executor(venue=venue).execute(order_id))
    await asyncio.wait_for(venue.stalled.wait(), 30)
    recorded = (await document(first.db, order_id)).order.tx_signature
    assert recorded

    assert await second.executor().execute(order_id) == "confirmed"
    taken_over = await document(first.db, order_id)
    venue.release.set()
    assert await asyncio.wait_for(stalled, 30) == SUPERSEDED

    doc = await document(first.db, order_id)
    assert doc.order.tx_signature == recorded
    assert await first.landed(order_id) == [recorded]  # both sent the recorded bytes; it landed once
    assert doc.events == taken_over.events


async def test_of_two_runs_at_the_same_point_only_the_first_to_write_goes_on(
    settings: Settings, db: asyncpg.Pool, redis: aioredis.Redis
) -> None:
    order_id = uuid.UUID(await new_order(db))
    store = StepStore(db, redis, settings.events_channel)
    store.start()
    try:
        # Both runs read the order at seq 1 and write their seq 2; the later one is refused, and so is
        # every step it takes after that, even one whose seq would follow the winner's.
        winner, loser = OrderRecorder(store, order_id, 1, "pending"), OrderRecorder(store, order_id, 1, "pending")
        winner.step(data={"run": "winner"})
        await winner.flush()
        loser.step(data={"run": "loser"})
        with pytest.raises(Superseded):
            await loser.flush()
        loser.step(data={"run": "loser"})  # its seq 3 would follow the winner's 2
        with pytest.raises(Superseded):
            await loser.flush()
        winner.step(data={"run": "winner"})
        await winner.flush()
        # A step of a run that never read the order fits only where the sequence stands.
        assert not await store.submit(StepWrite(order_id, None, EventRecord(3, "pending", "status", b"{}")), Run())
    finally:
        await store.stop()
    doc = await document(db, str(order_id))
    assert [(e.seq, e.data.get("run")) for e in doc.events] == [(1, None), (2, "winner"), (3, "winner")]
