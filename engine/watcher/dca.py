"""DCA schedules: every tick, each DCA whose next child is due places it, a market order through the same
pipeline as any other, and counts it on the parent, in one transaction; then the child is enqueued.

Every watcher process runs one; the schedules are read ``FOR UPDATE SKIP LOCKED`` (:mod:`engine.db.dca`), so
each child is placed once however many run. A child is due one interval after the one before it was due (the
first at acceptance), so a late tick never shifts the rest. With a band, a due child whose quote pays outside
it waits, and the schedule with it, until a tick finds the quote back inside.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from decimal import Decimal

import asyncpg
import orjson
import redis.asyncio as aioredis

from engine.db import dca
from engine.db.records import NewOrder, StoredOrder
from engine.db.repository import insert_orders
from engine.events import event_message, publish
from engine.metrics import orders_accepted
from engine.queue import OrderQueue
from engine.runtime import backoff_s
from kernel.errors import EngineError
from kernel.money import format_amount
from kernel.orders import DcaTerms, OrderSpec
from kernel.settings import Settings
from kernel.tokens import Token, TokenRegistry
from kernel.watching import PairWatcher

log = logging.getLogger("oee.dca")

TICK_S = 0.25


class DcaScheduler:
    """Places the due children of every DCA, until cancelled."""

    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        redis: aioredis.Redis,
        dexes: Sequence[PairWatcher],
        tokens: TokenRegistry,
        *,
        tick_s: float = TICK_S,
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._redis = redis
        self._dexes = list(dexes)
        self._tokens = tokens
        self._queue = OrderQueue(redis, settings.order_queue_key)
        self.tick_s = tick_s
        self.placed = 0  # children placed by this scheduler, for tests and benchmarks

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                await self.tick()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PostgreSQL or Redis away: the schedules wait, their children stay due
                failures += 1
                log.warning("DCA schedules not run (%r); again in %.1f s", exc, backoff_s(failures))
                await asyncio.sleep(backoff_s(failures))
                continue
            await asyncio.sleep(self.tick_s)

    async def tick(self) -> int:
        """Place every child due now; returns how many were placed."""
        async with self._pool.acquire() as conn, conn.transaction():
            parents = await dca.due(conn)
            placing: list[tuple[StoredOrder, NewOrder]] = []
            for parent in parents:
                child = await self._child(parent)
                if child is not None:
                    placing.append((parent, child))
            if not placing:
                return 0
            await insert_orders(conn, [child for _, child in placing])
            progress = []
            for parent, child in placing:
                terms = parent.spec.terms
                assert isinstance(terms, DcaTerms)
                index = terms.placed
                data = {"childId": str(child.id), "child": index + 1, "of": terms.children,
                        "amountIn": format_amount(child.spec.amount_in, child.spec.token_in.decimals)}  # fmt: skip
                progress.append(await dca.placed(conn, parent, data, last=index + 1 == terms.children))
        ids = [str(child.id) for _, child in placing]
        orders_accepted([("market", "pending")] * len(placing))
        self.placed += len(placing)
        try:
            await self._queue.enqueue(ids)
        except Exception as exc:
            log.warning("enqueue of %d DCA children failed (%r); recovery will enqueue them", len(ids), exc)
        messages = [event_message(str(p.order_id), p.seq, p.status, p.kind, p.data) for p in progress]
        for p in progress:
            log.info("DCA %s placed child %s of %s", p.order_id, p.data["child"], p.data["of"],
                     extra={"orderId": str(p.order_id), **p.data})  # fmt: skip
        try:
            await publish(self._redis, messages, self._settings.events_channel)
        except Exception as exc:
            log.warning("publishing %d DCA events failed (clients replay them from the log): %s", len(messages), exc)
        return len(placing)

    async def _child(self, parent: StoredOrder) -> NewOrder | None:
        """The child due on ``parent`` now, or None while its quote is outside the band."""
        spec = parent.spec
        terms = spec.terms
        assert isinstance(terms, DcaTerms)
        index = terms.placed
        amount = terms.child_amount(spec.amount_in, index)
        token_in, token_out = self._token(spec.token_in), self._token(spec.token_out)
        if (terms.band_min is not None or terms.band_max is not None) and not await self._in_band(
            terms, token_in, token_out, amount
        ):
            return None
        child = OrderSpec(token_in, token_out, amount, spec.slippage_bps, None, spec.client_ref)
        return NewOrder(
            dca.child_id(parent.id, index), child, dca.child_idempotency_key(parent.id, index),
            orjson.dumps({"parentId": str(parent.id), "child": index + 1, "of": terms.children}),
            api_key_id=parent.api_key_id, parent_id=parent.id,
        )  # fmt: skip

    async def _in_band(self, terms: DcaTerms, token_in: Token, token_out: Token, amount: int) -> bool:
        """Whether the best quote for a child's size pays a rate within the band (tokenOut per tokenIn)."""
        best = None
        for dex in self._dexes:
            try:
                snapshot = await dex.snapshot(token_in, token_out)
                if snapshot.pool is None or snapshot.opens is not None:
                    continue
                out = snapshot.quote(amount).amount_out
            except EngineError:
                continue
            best = out if best is None else max(best, out)
        if best is None:
            return False  # no quote: the band cannot be judged, so the child waits
        rate = (Decimal(best) / 10**token_out.decimals) / (Decimal(amount) / 10**token_in.decimals)
        return (terms.band_min is None or rate >= terms.band_min) and (terms.band_max is None or rate <= terms.band_max)

    def _token(self, stored: Token) -> Token:
        return self._tokens.resolve(stored.mint) or stored
