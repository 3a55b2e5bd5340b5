"""Accepting orders: validated orders are committed in batches, then enqueued after the commit.

An order is accepted once committed; the enqueue runs after the answer, in the background, because a
stalled Redis must not hold up an order PostgreSQL already holds. If the enqueue fails the order is still
durable: the workers' recovery sweep finds unfinished orders without a job and enqueues them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from engine.batching import GroupCommitter
from engine.db import repository
from engine.db.records import NewOrder
from engine.db.repository import IdempotencyScope
from engine.metrics import orders_accepted
from engine.queue import OrderQueue
from engine.watcher.notify import NEW, Notice, by_pair

log = logging.getLogger("oee.intake")

NotifyWaiting = Callable[[list[Notice]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Accepted:
    order_id: uuid.UUID
    created: bool
    created_at: datetime | None


def accepted_fields(order: NewOrder) -> dict[str, object]:
    """What an acceptance's log line says as fields: the order, its pair and size, and a waiting order's terms."""
    spec = order.spec
    fields: dict[str, object] = {
        "orderId": str(order.id), "status": order.status.value, "type": spec.order_type.value,
        "tokenIn": spec.token_in.symbol, "tokenOut": spec.token_out.symbol, "amountInRaw": spec.amount_in,
        "slippageBps": spec.slippage_bps,
    }  # fmt: skip
    if spec.expires_at is not None:
        fields.update(expiresAt=spec.expires_at.isoformat(), triggerMinOutRaw=spec.trigger_min_out)
    return fields


class OrderIntake:
    """Commits accepted orders in shared transactions and enqueues them once committed."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        queue: OrderQueue,
        *,
        max_batch: int = 512,
        acquire_timeout_s: float | None = None,
        notify_waiting: NotifyWaiting | None = None,
    ) -> None:
        self._pool = pool
        self._queue = queue
        self._notify_waiting = notify_waiting
        self._acquire_timeout_s = acquire_timeout_s
        self._enqueues: set[asyncio.Task[None]] = set()
        self._committer: GroupCommitter[NewOrder, Accepted] = GroupCommitter(
            self._write, max_batch=max_batch, flushers=2, name="intake"
        )

    def start(self) -> None:
        self._committer.start()

    async def stop(self) -> None:
        await self._committer.stop()
        if self._enqueues:
            await asyncio.wait(self._enqueues)

    async def accept(self, order: NewOrder) -> Accepted:
        """Returns once the order is durable. A known idempotency key answers the existing order."""
        return await self._committer(order)

    async def _write(self, batch: Sequence[NewOrder]) -> list[Accepted]:
        first_by_key: dict[IdempotencyScope, NewOrder] = {}
        unique: list[NewOrder] = []
        for order in batch:
            if order.idempotency_key is None:
                unique.append(order)
            elif (scope := (order.api_key_id, order.idempotency_key)) not in first_by_key:
                first_by_key[scope] = order
                unique.append(order)
        async with self._pool.acquire(timeout=self._acquire_timeout_s) as conn, conn.transaction():
            created = await repository.insert_orders(conn, unique)
            clashing = [(o.api_key_id, o.idempotency_key) for o in unique if o.id not in created and o.idempotency_key]
            existing = await repository.ids_by_idempotency_key(conn, clashing) if clashing else {}
        orders_accepted((o.spec.order_type.value, o.status.value) for o in unique if o.id in created)
        if created:
            inserted = [o for o in unique if o.id in created]
            if log.isEnabledFor(logging.INFO):
                for o in inserted:
                    log.info("order %s accepted, %s", o.id, o.status.value, extra=accepted_fields(o))
            market = [str(o.id) for o in inserted if not o.spec.waits]
            waiting = [(o.id, o.spec.token_in.mint, o.spec.token_out.mint) for o in inserted if o.spec.waits]
            task = asyncio.create_task(self._enqueue(market, waiting), name="intake-enqueue")
            self._enqueues.add(task)
            task.add_done_callback(self._enqueues.discard)
        results: list[Accepted] = []
        for order in batch:
            if order.id in created:
                results.append(Accepted(order.id, True, created[order.id]))
                continue
            assert order.idempotency_key is not None, "an order without an idempotency key is always inserted"
            scope = (order.api_key_id, order.idempotency_key)
            first = first_by_key[scope]
            if first.id in created:
                results.append(Accepted(first.id, False, created[first.id]))
            else:
                results.append(Accepted(existing[scope], False, None))
        return results

    async def _enqueue(self, ids: list[str], waiting: list[tuple[uuid.UUID, str, str]]) -> None:
        if ids:
            try:
                await self._queue.enqueue(ids)
            except Exception as exc:
                log.warning("enqueue of %d committed orders failed (%r); recovery will enqueue them", len(ids), exc)
        if waiting and self._notify_waiting is not None:
            try:
                await self._notify_waiting(by_pair(NEW, waiting))
            except Exception as exc:
                # Watchers find them on their next read of PostgreSQL.
                log.warning("notifying watchers of %d waiting orders failed (%r)", len(waiting), exc)
