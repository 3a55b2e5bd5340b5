"""Group commit: many concurrent callers share one database transaction.

Callers ``submit`` an item and await its future; a flusher drains whatever has queued up (at most
``max_batch``), writes it in one transaction, runs the after-commit hook (enqueue, publish) and then
resolves every caller's future. Under load batches grow by themselves; when idle a lone item is
written at once, so latency stays one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger("oee.batching")

T = TypeVar("T")
R = TypeVar("R")


class GroupCommitter(Generic[T, R]):
    """Runs ``write(batch) -> results`` (one result per item, in order) for batches of submitted items."""

    def __init__(
        self,
        write: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        max_batch: int = 512,
        flushers: int = 2,
        name: str = "group-commit",
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] = asyncio.Queue()
        self._flushers = flushers
        self._tasks: list[asyncio.Task[None]] = []
        self._name = name

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name=f"{self._name}-{i}") for i in range(self._flushers)]

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        await self._queue.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def submit(self, item: T) -> asyncio.Future[R]:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))
        return future

    async def __call__(self, item: T) -> R:
        return await self.submit(item)

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                await self._flush(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _flush(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        # A caller that gave up waiting (its request timed out and answered so) must not be written later.
        batch = [(item, future) for item, future in batch if not future.cancelled()]
        if not batch:
            return
        try:
            results = await self._write([item for item, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                if not future.done():
                    future.cancel()
            raise
        except Exception as exc:
            log.warning("%s: batch of %d failed: %s", self._name, len(batch), exc)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
