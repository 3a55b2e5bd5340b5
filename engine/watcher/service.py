"""The watcher of waiting orders: one loop per pair with waiting orders, one process per pair at a time.

- **Where orders come from.** PostgreSQL is the record: on start (and every ``WATCH_RESYNC_S``) the watcher
  reads which pairs have waiting orders and, for the pairs it holds, the orders themselves. New and cancelled
  orders arrive sooner through a Redis notification the API publishes after its commit.
- **Who watches a pair.** The process holding the pair's lease (``engine.watcher.leases``); the others stand
  by and take the pair over within ``WATCH_LEASE_S`` of the holder's death.
- **Firing.** A fillable order moves ``waiting -> pending`` by a compare-and-set in PostgreSQL with its
  execution floor (``engine.db.waiting``), and is then enqueued as a market order is; the worker executes it
  with that floor as its minimum out. A cancel or an expiry racing the trigger is the same single-row
  compare-and-set, so exactly one of them moves the order, and its event says which. An order fired but not
  enqueued (Redis down) is enqueued by the workers' recovery sweep.
- **Expiry.** Each pair's loop expires its due orders on time; a sweep in every watcher process expires any
  waiting order past due (also those of a pair nobody watches, and those that fell due while no watcher ran).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg
import orjson
import redis.asyncio as aioredis

from engine import presenter
from engine.db import waiting
from engine.db.waiting import Move, Moved, WaitingOrder
from engine.events import event_message, publish
from engine.metrics import orders_accepted, waited
from engine.queue import OrderQueue
from engine.runtime import backoff_s
from engine.watcher.book import Fire, PairBook
from engine.watcher.dca import DcaScheduler
from engine.watcher.leases import PairLeases
from engine.watcher.notify import CANCELLED, NEW, Notice, lease_prefix, waiting_channel
from engine.watcher.pair import PairLoop, PairStats
from kernel.domain import OrderStatus
from kernel.settings import Settings
from kernel.tokens import Token, TokenRegistry
from kernel.watching import PairSnapshot, PairWatcher

log = logging.getLogger("oee.watcher")

Pair = tuple[str, str]  # (token in mint, token out mint)
SWEEP_INTERVAL_S = 1.0


@dataclass
class _Watched:
    loop: PairLoop
    task: asyncio.Task[None]


class WaitingWatcher:
    """Watches every pair with waiting orders that this process holds the lease of."""

    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        redis: aioredis.Redis,
        dexes: Sequence[PairWatcher],
        tokens: TokenRegistry,
        *,
        owner: str | None = None,
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._redis = redis
        self._dexes = list(dexes)
        self._tokens = tokens
        self._queue = OrderQueue(redis, settings.order_queue_key)
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._leases = PairLeases(redis, lease_prefix(settings), self.owner, settings.watch_lease_s)
        self._known: dict[Pair, tuple[Token, Token]] = {}
        self._watched: dict[Pair, _Watched] = {}
        self.stats: dict[Pair, PairStats] = {}
        self.dca = DcaScheduler(settings, pool, redis, self._dexes, tokens)
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()

    async def start(self) -> None:
        """Expire what fell due while no watcher ran, read the pairs, then watch."""
        if not self._dexes:
            log.warning("no enabled DEX can be watched: waiting orders only expire")
        await self.sweep()
        await self._resync()
        self._tasks = [
            asyncio.create_task(self._manage(), name="watcher-manage"),
            asyncio.create_task(self._listen(), name="watcher-listen"),
            asyncio.create_task(self._sweeper(), name="watcher-sweep"),
            asyncio.create_task(self._reporter(), name="watcher-report"),
            asyncio.create_task(self.dca.run(), name="watcher-dca"),
        ]

    async def stop(self) -> None:
        """Stop every loop and release every pair's lease, so a standby takes them over at once."""
        for task in self._tasks:
            task.cancel()
        for pair in list(self._watched):
            await self._unwatch(pair, release=True)
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    @property
    def held(self) -> int:
        """How many waiting orders this process holds in the books of the pairs it watches."""
        return sum(len(w.loop.book) for w in self._watched.values())

    @property
    def watching(self) -> list[Pair]:
        """The pairs this process watches now."""
        return list(self._watched)

    # --- which pairs ---------------------------------------------------------------------------

    async def _manage(self) -> None:
        """Renew and take leases every third of a lease; re-read PostgreSQL every ``WATCH_RESYNC_S``."""
        loop = asyncio.get_running_loop()
        next_resync = loop.time() + self._settings.watch_resync_s
        failures = 0
        while True:
            try:
                if loop.time() >= next_resync:
                    await self._resync()
                    next_resync = loop.time() + self._settings.watch_resync_s
                await self._claim()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("watcher bookkeeping failed (%r); again in %.1f s", exc, backoff_s(failures))
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 a cancel landing as wait_for's inner wait ends can be
            # lost, and this loop then never stops (seen as a watcher whose stop() hung).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.watch_lease_s / 3):
                    await self._wake.wait()

    async def _resync(self) -> None:
        async with self._pool.acquire() as conn:
            pairs = await waiting.waiting_pairs(conn)
            self._known = {(a.mint, b.mint): (self._token(a), self._token(b)) for a, b in pairs}
            for pair, watched in self._watched.items():
                watched.loop.book.replace(await waiting.waiting_orders(conn, pair=pair))

    async def _claim(self) -> None:
        for pair in list(self._watched):
            watched = self._watched.get(pair)  # an await below may have unwatched it meanwhile
            if watched is not None and pair not in self._known and not watched.loop.book:
                await self._unwatch(pair, release=True)  # nothing waits on it any more
        for pair, (token_in, token_out) in list(self._known.items()):
            held = await self._leases.take(pair)
            if held and pair not in self._watched:
                await self._watch(pair, token_in, token_out)
            elif not held and pair in self._watched:
                log.warning("lost the lease of %s/%s to another watcher", token_in.symbol, token_out.symbol)
                await self._unwatch(pair, release=False)

    async def _watch(self, pair: Pair, token_in: Token, token_out: Token) -> None:
        async with self._pool.acquire() as conn:
            orders = await waiting.waiting_orders(conn, pair=pair)
        book = PairBook()
        book.add(orders)
        stats = self.stats.setdefault(pair, PairStats())
        loop = PairLoop(token_in, token_out, self._dexes, book, fire=self._fire, expire=self._expire_orders,
                        record_peaks=self._record_peaks, max_wait_s=self._settings.watch_max_wait_s,
                        stats=stats)  # fmt: skip
        task = asyncio.create_task(loop.run(), name=f"watch-{token_in.symbol}-{token_out.symbol}")
        self._watched[pair] = _Watched(loop, task)
        log.info("watching %s/%s: %d waiting orders", token_in.symbol, token_out.symbol, len(book))

    async def _unwatch(self, pair: Pair, *, release: bool) -> None:
        watched = self._watched.pop(pair, None)
        if watched is not None:
            watched.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watched.task
        if release:
            with contextlib.suppress(Exception):
                await self._leases.release(pair)

    def _token(self, stored: Token) -> Token:
        return self._tokens.resolve(stored.mint) or stored

    # --- notifications -------------------------------------------------------------------------

    async def _listen(self) -> None:
        failures = 0
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(waiting_channel(self._settings))
                if failures:
                    await self._resync()  # what was published while the subscription was down
                failures = 0
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        notice = Notice.decode(message["data"])
                        if notice is not None:
                            await self._on_notice(notice)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("waiting-order notices unavailable (%r); again in %.1f s", exc, backoff_s(failures))
                await asyncio.sleep(backoff_s(failures))
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _on_notice(self, notice: Notice) -> None:
        watched = self._watched.get(notice.pair)
        if notice.kind == CANCELLED:
            if watched is not None:
                watched.loop.book.remove(list(notice.ids))
            return
        if notice.kind != NEW:
            return
        if watched is not None:
            async with self._pool.acquire() as conn:
                watched.loop.book.add(await waiting.waiting_orders(conn, ids=list(notice.ids)))
            return
        if notice.pair not in self._known:
            async with self._pool.acquire() as conn:
                orders = await waiting.waiting_orders(conn, ids=list(notice.ids))
            if orders:
                first = orders[0]
                self._known[notice.pair] = (self._token(first.spec.token_in), self._token(first.spec.token_out))
                self._wake.set()  # try for the new pair's lease now

    # --- moves out of waiting ------------------------------------------------------------------

    async def _fire(self, fires: Sequence[Fire], snapshots: Sequence[PairSnapshot]) -> list[uuid.UUID]:
        versions = {s.dex: s.version for s in snapshots}
        moves = []
        for fire in fires:
            data = presenter.fired(fire.order.spec, fire.quote, fire.execute_min_out, versions.get(fire.quote.dex),
                                   fire.side, fire.peak)  # fmt: skip
            moves.append(Move(fire.order.id, data, fire.execute_min_out))
        async with self._pool.acquire() as conn, conn.transaction():
            moved = await waiting.move(conn, moves, OrderStatus.PENDING)
        await self._publish(moved)
        if moved:
            try:
                await self._queue.enqueue([str(m.order_id) for m in moved])
            except Exception as exc:
                log.warning("enqueue of %d fired orders failed (%r); recovery will enqueue them", len(moved), exc)
            log.info("fired %d waiting orders", len(moved))
        # Those that did not move are no longer waiting (cancelled, expired, or fired by another watcher).
        return [f.order.id for f in fires]

    async def _record_peaks(self, peaks: Mapping[uuid.UUID, int]) -> None:
        """Trailing stops' new peaks, kept so that a watcher taking the pair over resumes from them."""
        async with self._pool.acquire() as conn:
            await waiting.record_peaks(conn, peaks)

    async def _expire_orders(self, orders: Sequence[WaitingOrder]) -> list[uuid.UUID]:
        async with self._pool.acquire() as conn, conn.transaction():
            moved = await waiting.expire(conn, [Move(o.id, presenter.expired_waiting(o.expires_at)) for o in orders])
        await self._publish(moved)
        return [o.id for o in orders]

    async def sweep(self) -> int:
        """Expire every waiting order past due, whichever pair; returns how many expired."""
        async with self._pool.acquire() as conn, conn.transaction():
            due = await waiting.due_for_expiry(conn)
            moves = [Move(order_id, presenter.expired_waiting(at)) for order_id, at in due]
            moved = await waiting.expire(conn, moves) if moves else []
        await self._publish(moved)
        for pair_watched in self._watched.values():
            pair_watched.loop.book.remove([m.order_id for m in moved])
        return len(moved)

    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("expiry sweep failed (%r)", exc)

    def report(self) -> dict[str, object]:
        """What this process has done, per pair it watched: snapshot reads, updates, sizes priced, fired, expired;
        and the DEXes' own I/O calls where a DEX counts them (``io_calls``)."""
        io_calls = {v.name: int(n) for v in self._dexes if isinstance(n := getattr(v, "io_calls", None), int)}
        pairs: dict[str, dict[str, object]] = {}
        for pair, s in self.stats.items():
            watched = self._watched.get(pair)
            pairs[":".join(pair)] = {
                "name": "/".join(t.symbol for t in self._known.get(pair, ())),
                "reads": s.reads, "updates": s.updates, "priced": s.priced, "fired": s.fired, "expired": s.expired,
                "waiting": len(watched.loop.book) if watched is not None else 0,
            }  # fmt: skip
        return {"owner": self.owner, "pairs": pairs, "ioCalls": io_calls}

    async def _reporter(self) -> None:
        """Publish :meth:`report` to ``<namespace>:watcher-stats`` every second (benchmarks read it)."""
        key = f"{self._settings.namespace}:watcher-stats"
        while True:
            await asyncio.sleep(1.0)
            try:
                await self._redis.hset(key, self.owner, orjson.dumps(self.report()).decode())  # type: ignore[misc]
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("watcher stats not published: %r", exc)

    async def _publish(self, moved: Sequence[Moved]) -> None:
        """After the commit that moved them: count the moves for ``/metrics`` and stream their events."""
        orders_accepted((m.order_type, m.status) for m in moved)
        for m in moved:  # fired (pending), expired: one line each, its event's data as fields
            waited(m.order_type, m.status, m.waited_s)
            log.info(
                "order %s is %s",
                m.order_id,
                m.status,
                extra={**m.data, "orderId": str(m.order_id), "status": m.status, "type": m.order_type},
            )
        messages = [event_message(str(m.order_id), m.seq, m.status, "status", m.data) for m in moved]
        try:
            await publish(self._redis, messages, self._settings.events_channel)
        except Exception as exc:
            log.warning("publishing %d events failed (clients replay them from the log): %s", len(messages), exc)
