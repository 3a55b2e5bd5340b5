"""The order state machine against real PostgreSQL and Redis, with the simulated venues."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import asyncpg
import pytest
import redis.asyncio as aioredis

from adapters.registry import WorkerAdapters, build_worker_adapters
from engine.db import repository
from engine.db.records import EventRecord, NewOrder, OrderChange, OrderHistory, StepWrite
from engine.db.repository import write_steps
from engine.execution import OrderExecutor, RetryPolicy
from engine.recorder import StepStore
from engine.routing import Router
from kernel.errors import RetryableError
from kernel.orders import OrderSpec
from kernel.settings import Settings
from kernel.tokens import Token
from kernel.venues import (
    DexAdapter,
    PreparedTx,
    Quote,
    QuoteRequest,
    SettlementKind,
    SettlementVenue,
    SwapTicket,
    TxStatus,
)

STATUS_PATH = ["pending", "routing", "building", "submitted", "confirmed"]


async def new_order(db: asyncpg.Pool, *, amount_in: int = 1_500_000_000, slippage_bps: int = 50) -> str:
    sol = Token("SOL", "SOL", 9, "So11111111111111111111111111111111111111112")
    usdc = Token("USDC", "USDC", 6, "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
    order = NewOrder(uuid.uuid4(), OrderSpec(sol, usdc, amount_in, slippage_bps), None, b"{}")
    async with db.acquire() as conn, conn.transaction():
        await repository.insert_orders(conn, [order])
    return str(order.id)


async def document(db: asyncpg.Pool, order_id: str) -> OrderHistory:
    async with db.acquire() as conn:
        doc = await repository.order_document(conn, uuid.UUID(order_id))
    assert doc is not None
    return doc


def statuses(doc: OrderHistory) -> list[str]:
    return [e.status for e in doc.events if e.kind == "status"]


@dataclass
class Harness:
    """An executor wired like a worker's, with hooks to put faults between it and its venues."""

    settings: Settings
    db: asyncpg.Pool
    redis: aioredis.Redis
    venues: WorkerAdapters
    store: StepStore
    sleeps: list[float]

    def executor(self, *, dexes: list[DexAdapter] | None = None, venue: SettlementVenue | None = None) -> OrderExecutor:
        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        return OrderExecutor(
            pool=self.db, store=self.store, router=Router(dexes or list(self.venues.dexes), 1.0),
            venue=venue or self.venues.settlement, tokens=self.venues.tokens,
            retry=RetryPolicy.from_settings(self.settings), confirm_poll_s=0.2, sleep=sleep,
        )  # fmt: skip

    async def landed(self, order_id: str) -> list[str]:
        return list(await self.venues.settlement.landed_signatures(order_id))  # type: ignore[attr-defined]


async def make_harness(settings: Settings, db: asyncpg.Pool, redis: aioredis.Redis) -> Harness:
    store = StepStore(db, redis, settings.events_channel)
    store.start()
    return Harness(settings, db, redis, build_worker_adapters(settings, redis), store, [])


@pytest.fixture
async def harness(settings: Settings, db: asyncpg.Pool, redis: aioredis.Redis) -> AsyncIterator[Harness]:
    h = await make_harness(settings, db, redis)
    yield h
    await h.store.stop()


async def test_market_order_confirms_with_every_step_recorded(harness: Harness) -> None:
    order_id = await new_order(harness.db)
    assert await harness.executor().execute(order_id) == "confirmed"
    doc = await document(harness.db, order_id)
    assert statuses(doc) == STATUS_PATH
    assert doc.order.attempts == 1
    assert {q.dex for q in doc.quotes} == {"raydium", "meteora"}
    best = max(doc.quotes, key=lambda q: int(q.amount_out))
    assert doc.order.dex == best.dex == doc.routes[0].dex
    assert int(doc.order.min_amount_out) == int(best.amount_out) * 9950 // 10000
    assert int(doc.order.amount_out) >= int(doc.order.min_amount_out)
    assert await harness.landed(order_id) == [doc.order.tx_signature]
    assert [a.outcome for a in doc.attempts] == ["confirmed"]


async def test_running_a_finished_order_again_changes_nothing(harness: Harness) -> None:
    order_id = await new_order(harness.db)
    executor = harness.executor()
    await executor.execute(order_id)
    before = await document(harness.db, order_id)
    assert await executor.execute(order_id) == "confirmed"
    after = await document(harness.db, order_id)
    assert after.events == before.events
    assert len(await harness.landed(order_id)) == 1


async def test_transient_failures_retry_with_growing_delays_then_fail(
    settings: Settings, db: asyncpg.Pool, redis: aioredis.Redis
) -> None:
    h = await make_harness(settings.model_copy(update={"simulated_failure_rate": 1.0}), db, redis)
    try:
        order_id = await new_order(db)
        assert await h.executor().execute(order_id) == "failed"
    finally:
        await h.store.stop()
    doc = await document(db, order_id)
    assert doc.order.attempts == 3
    assert doc.order.failure_code == "no_route"
    assert "gave up after 3 attempts" in doc.order.failure_reason
    retries = [e.data for e in doc.events if e.kind == "retrying"]
    assert [r["attempt"] for r in retries] == [1, 2]
    assert [r["delayMs"] for r in retries] == [10, 20]
    assert h.sleeps == [0.01, 0.02]
    assert [a.outcome for a in doc.attempts] == ["retry", "retry", "failed"]
    assert all(q.error for q in doc.quotes) and len(doc.quotes) == 6
    assert statuses(doc)[-1] == "failed"
    assert await h.landed(order_id) == []


class OverQuotingDex:
    """Promises more than the pool pays, so the fill lands below minAmountOut."""

    def __init__(self, inner: DexAdapter) -> None:
        self.inner = inner
        self.name = inner.name

    async def quote(self, request: QuoteRequest) -> Quote:
        q = await self.inner.quote(request)
        return replace(q, amount_out=q.amount_out * 11 // 10)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_slippage_fails_at_once_without_retry(harness: Harness) -> None:
    order_id = await new_order(harness.db)
    executor = harness.executor(dexes=[OverQuotingDex(d) for d in harness.venues.dexes])
    assert await executor.execute(order_id) == "failed"
    doc = await document(harness.db, order_id)
    assert doc.order.failure_code == "slippage_exceeded"
    assert doc.order.attempts == 1
    assert not [e for e in doc.events if e.kind == "retrying"]
    assert harness.sleeps == []


class CrashingVenue:
    """Passes through to a venue, but the worker 'dies' at a chosen point (the task is cancelled)."""

    def __init__(self, inner: SettlementVenue, *, crash_before_send: bool) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.crash_before_send = crash_before_send

    async def prepare(self, ticket: SwapTicket) -> PreparedTx:
        return await self.inner.prepare(ticket)

    async def send(self, tx: PreparedTx) -> None:
        if self.crash_before_send:
            raise asyncio.CancelledError
        await self.inner.send(tx)

    async def wait(self, tx: PreparedTx, timeout_s: float) -> TxStatus:
        raise asyncio.CancelledError

    async def expired(self, tx: PreparedTx) -> bool:
        return await self.inner.expired(tx)

    def explorer_url(self, signature: str) -> str | None:
        return None

    async def aclose(self) -> None:
        return None


async def crash(harness: Harness, order_id: str, *, before_send: bool) -> None:
    crashing = harness.executor(venue=CrashingVenue(harness.venues.settlement, crash_before_send=before_send))
    with pytest.raises(asyncio.CancelledError):
        await crashing.execute(order_id)


async def rerun(settings: Settings, db: asyncpg.Pool, redis: aioredis.Redis, order_id: str) -> list[str]:
    """Run the order on a fresh worker (new venues, new simulated pools, same ledger); its landed signatures."""
    restarted = await make_harness(settings, db, redis)
    try:
        assert await restarted.executor().execute(order_id) == "confirmed"
    finally:
        await restarted.store.stop()
    return await restarted.landed(order_id)


@pytest.mark.parametrize("crash_before_send", [True, False], ids=["before-send", "after-send"])
async def test_a_rerun_after_a_crash_confirms_the_recorded_signature(
    harness: Harness, settings: Settings, db: asyncpg.Pool, redis: aioredis.Redis, crash_before_send: bool
) -> None:
    order_id = await new_order(db)
    await crash(harness, order_id, before_send=crash_before_send)
    interrupted = await document(db, order_id)
    assert interrupted.order.status == "submitted"
    recorded = interrupted.order.tx_signature
    assert recorded

    assert await rerun(settings, db, redis, order_id) == [recorded]
    doc = await document(db, order_id)
    assert doc.order.tx_signature == recorded
    assert statuses(doc) == STATUS_PATH


class DroppingVenue(CrashingVenue):
    """Drops every send of the first transaction it sees, like a congested cluster."""

    def __init__(self, inner: SettlementVenue) -> None:
        super().__init__(inner, crash_before_send=False)
        self.dropped: str | None = None

    async def send(self, tx: PreparedTx) -> None:
        if self.dropped in (None, tx.signature):
            self.dropped = tx.signature
            return
        await self.inner.send(tx)

    async def wait(self, tx: PreparedTx, timeout_s: float) -> TxStatus:
        return await self.inner.wait(tx, min(timeout_s, 0.05))


async def test_an_expired_transaction_is_rebuilt_and_lands_once(
    settings: Settings, db: asyncpg.Pool, redis: aioredis.Redis
) -> None:
    h = await make_harness(settings.model_copy(update={"simulated_tx_ttl_ms": 150}), db, redis)
    try:
        order_id = await new_order(db)
        venue = DroppingVenue(h.venues.settlement)
        assert await h.executor(venue=venue).execute(order_id) == "confirmed"
    finally:
        await h.store.stop()
    doc = await document(db, order_id)
    assert doc.order.attempts == 2
    assert doc.order.tx_signature != venue.dropped
    assert await h.landed(order_id) == [doc.order.tx_signature]
    expired = [e.data for e in doc.events if e.kind == "settlement" and e.data.get("expired")]
    assert expired == [{"expired": True, "txHash": venue.dropped}]


async def test_steps_of_one_order_in_one_batch_keep_their_order(db: asyncpg.Pool) -> None:
    """Steps with different column sets, committed together, leave the row as the last one left it."""
    order_id = await new_order(db)
    oid = uuid.UUID(order_id)
    steps = [
        StepWrite(oid, "routing", EventRecord(2, "routing", "status", b"{}"), OrderChange(attempts=1)),
        StepWrite(oid, None, EventRecord(3, "routing", "retrying", b"{}")),
        StepWrite(oid, "routing", EventRecord(4, "routing", "status", b"{}"), OrderChange(attempts=2)),
    ]
    async with db.acquire() as conn, conn.transaction():
        await write_steps(conn, steps)
    doc = await document(db, order_id)
    assert doc.order.last_seq == 4 and doc.order.attempts == 2
    assert [e.seq for e in doc.events] == [1, 2, 3, 4]


class FlakyVenue(CrashingVenue):
    """The venue's RPC fails transiently a few times right after the transaction is recorded."""

    def __init__(self, inner: SettlementVenue, failures: int) -> None:
        super().__init__(inner, crash_before_send=False)
        self.failures = failures
        self.prepared = 0

    async def prepare(self, ticket: SwapTicket) -> PreparedTx:
        self.prepared += 1
        return await self.inner.prepare(ticket)

    async def send(self, tx: PreparedTx) -> None:
        await self.inner.send(tx)  # it reaches the venue, but the answer is lost
        if self.failures:
            self.failures -= 1
            raise RetryableError("rpc 503")

    async def wait(self, tx: PreparedTx, timeout_s: float) -> TxStatus:
        return await self.inner.wait(tx, timeout_s)


async def test_transient_errors_in_flight_never_build_a_second_transaction(harness: Harness) -> None:
    order_id = await new_order(harness.db)
    venue = FlakyVenue(harness.venues.settlement, failures=3)
    assert await harness.executor(venue=venue).execute(order_id) == "confirmed"
    doc = await document(harness.db, order_id)
    assert venue.prepared == 1
    assert doc.order.attempts == 1
    assert await harness.landed(order_id) == [doc.order.tx_signature]


async def test_an_order_recorded_under_the_earlier_name_mock_resumes_on_the_simulated_ledger(
    harness: Harness, settings: Settings, db: asyncpg.Pool, redis: aioredis.Redis
) -> None:
    order_id = await new_order(db)
    await crash(harness, order_id, before_send=False)
    async with db.acquire() as conn:
        await conn.execute("UPDATE orders SET settlement_kind = 'mock' WHERE id = $1", uuid.UUID(order_id))
        stored = await repository.order_for_execution(conn, uuid.UUID(order_id))
    assert stored is not None and stored.tx is not None
    assert stored.tx.kind is SettlementKind.SIMULATED

    assert await rerun(settings, db, redis, order_id) == [stored.tx.signature]
    doc = await document(db, order_id)
    assert doc.events[-1].data["settlement"] == "simulated"
