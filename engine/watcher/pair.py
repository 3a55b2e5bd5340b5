"""One pair's loop: read every DEX's snapshot once per update, expire what is due, fire what pays.

However many orders wait on the pair, one update costs one snapshot read per DEX; every order is then
priced on those snapshots with no I/O (:class:`engine.watcher.book.PairBook`). Between updates the loop
waits for a DEX to say its pools changed (``wait_change``), or at most ``max_wait_s``, or until the next
expiry, whichever comes first.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from engine.db.waiting import WaitingOrder
from engine.runtime import backoff_s, cancel_and_wait
from engine.watcher.book import Fire, PairBook
from kernel.errors import EngineError
from kernel.tokens import Token
from kernel.watching import PairSnapshot, PairWatcher

log = logging.getLogger("oee.watcher")

# What the loop asks of its owner; each returns the orders it is done with (moved, or no longer waiting).
FireOrders = Callable[[Sequence[Fire], Sequence[PairSnapshot]], Awaitable[list[uuid.UUID]]]
ExpireOrders = Callable[[Sequence[WaitingOrder]], Awaitable[list[uuid.UUID]]]
RecordPeaks = Callable[[Mapping[uuid.UUID, int]], Awaitable[None]]


@dataclass
class PairStats:
    """What one pair's loop has done, for tests and benchmarks: ``reads`` counts snapshot reads (one per DEX
    per update), ``priced`` the sizes priced on snapshots, ``versions`` each DEX's last snapshot version."""

    reads: int = 0
    updates: int = 0
    priced: int = 0
    fired: int = 0
    expired: int = 0
    versions: dict[str, int] = field(default_factory=dict)
    feed_versions: dict[str, int] = field(default_factory=dict)


class PairLoop:
    """Watches one pair (token in, token out) for the orders in ``book``."""

    def __init__(
        self,
        token_in: Token,
        token_out: Token,
        dexes: Sequence[PairWatcher],
        book: PairBook,
        *,
        fire: FireOrders,
        expire: ExpireOrders,
        record_peaks: RecordPeaks | None = None,
        max_wait_s: float,
        stats: PairStats | None = None,
    ) -> None:
        self.token_in = token_in
        self.token_out = token_out
        self._dexes = list(dexes)
        self.book = book
        self._fire = fire
        self._expire = expire
        self._record_peaks = record_peaks
        self._max_wait_s = max_wait_s
        self.stats = stats or PairStats()

    async def run(self) -> None:
        """Until cancelled. A dependency down (PostgreSQL, Redis) costs an update, never the loop."""
        failures = 0
        while True:
            try:
                await self.update()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("watching %s/%s failed (%r); again in %.1f s", self.token_in.symbol,
                            self.token_out.symbol, exc, backoff_s(failures))  # fmt: skip
                await asyncio.sleep(backoff_s(failures))
                continue
            await self._wait()

    async def update(self) -> None:
        """One update: read every DEX once, expire the due orders, fire those whose size now pays."""
        snapshots = await self._read()
        due = self.book.due(datetime.now(UTC))
        if due:
            done = await self._expire(due)
            self.book.remove(done)
            self.stats.expired += len(done)
        pricing = self.book.price(snapshots)
        self.stats.updates += 1
        self.stats.priced += pricing.priced
        if pricing.fires:
            done = await self._fire(pricing.fires, snapshots)
            self.book.remove(done)
            self.stats.fired += len(done)
        risen = {i: peak for i, peak in pricing.peaks.items() if i in self.book}
        if risen and self._record_peaks is not None:
            try:
                await self._record_peaks(risen)
            except Exception as exc:  # the book keeps them; a watcher taking over resumes from those stored
                log.warning("trailing peaks of %d orders not stored (%r)", len(risen), exc)
        for snapshot in snapshots:
            # Recorded once the update is acted on: a reader seeing a version knows its orders were judged on it.
            self.stats.versions[snapshot.dex] = snapshot.version
            feed_version = getattr(snapshot, "feed_version", None)
            if isinstance(feed_version, int):
                self.stats.feed_versions[snapshot.dex] = feed_version

    async def _read(self) -> list[PairSnapshot]:
        async def one(dex: PairWatcher) -> PairSnapshot | None:
            try:
                return await dex.snapshot(self.token_in, self.token_out)
            except EngineError as exc:
                log.info("%s cannot be read for %s/%s now: %s", dex.name, self.token_in.symbol,
                         self.token_out.symbol, exc)  # fmt: skip
                return None

        read = await asyncio.gather(*(one(v) for v in self._dexes))
        self.stats.reads += len(self._dexes)
        return [s for s in read if s is not None]

    async def _wait(self) -> None:
        timeout = self._max_wait_s
        expiry = self.book.next_expiry()
        if expiry is not None:
            timeout = max(0.0, min(timeout, expiry.timestamp() - time.time()))
        waits = [asyncio.ensure_future(v.wait_change(self.token_in, self.token_out, timeout)) for v in self._dexes]
        try:
            await asyncio.wait(waits, timeout=timeout + 0.05, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait(waits)
