"""What workers say about themselves, for ``/health``: network, settlement, RPC, wallet, fallback.

The API holds no wallet and talks to no RPC, so each worker publishes a small status record every
``WORKER_STATUS_INTERVAL_S`` (and once at start-up) into one Redis hash, ``Settings.worker_status_key``,
a field per worker; API processes read the hash. A record carries the time it stops being believed
(three intervals on): a worker that died leaves a record nobody reads as live, and the next live
worker's write removes it. A stopping worker removes its own.

Nothing sensitive goes in: the wallet's public address, never its key, and no RPC URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import cast

import orjson
import redis.asyncio as aioredis

from kernel.settings import Settings
from kernel.venues import SettlementKind, SettlementVenue, VenueHealth, VenueProbe

log = logging.getLogger("oee.status")

# Longest one probe of the venue may take: an RPC slower than this counts as unreachable.
PROBE_TIMEOUT_S = 3.0
# A record is believed for this many publishing intervals (a missed write or two is not a dead worker).
BELIEVED_FOR_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """One worker's status record, as published. ``until`` (epoch seconds) is when it stops being believed."""

    worker: str
    at: float
    until: float
    routing: str
    venue: VenueHealth

    def problems(self) -> list[str]:
        return self.venue.problems()

    def to_json(self) -> bytes:
        v = self.venue
        return orjson.dumps(
            {
                "worker": self.worker, "at": self.at, "until": self.until, "routing": self.routing,
                "network": v.network, "settlement": v.settlement.value, "rpcReachable": v.rpc_reachable,
                "rpcLatencyMs": v.rpc_latency_ms, "rpcError": v.rpc_error, "wallet": v.wallet,
                "balanceLamports": v.balance_lamports, "minFeeBalanceLamports": v.min_fee_balance_lamports,
                "fallback": v.fallback,
            }
        )  # fmt: skip

    @classmethod
    def from_json(cls, raw: bytes) -> WorkerStatus:
        d = orjson.loads(raw)
        venue = VenueHealth(
            network=d["network"],
            settlement=SettlementKind(d["settlement"]),
            rpc_reachable=d["rpcReachable"],
            rpc_latency_ms=d["rpcLatencyMs"],
            rpc_error=d["rpcError"],
            wallet=d["wallet"],
            balance_lamports=d["balanceLamports"],
            min_fee_balance_lamports=d["minFeeBalanceLamports"],
            fallback=d["fallback"],
        )
        return cls(worker=d["worker"], at=d["at"], until=d["until"], routing=d["routing"], venue=venue)


async def read_statuses(redis: aioredis.Redis, settings: Settings, *, now: float | None = None) -> list[WorkerStatus]:
    """The records of live workers (those still believed), oldest worker name first."""
    raw = await cast("Awaitable[dict[bytes, bytes]]", redis.hgetall(settings.worker_status_key))
    return _believed(raw, time.time() if now is None else now)


def _believed(raw: dict[bytes, bytes], now: float) -> list[WorkerStatus]:
    found: list[WorkerStatus] = []
    for name, value in sorted(raw.items()):
        try:
            status = WorkerStatus.from_json(value)
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable worker status record %r ignored", name)
            continue
        if status.until >= now:
            found.append(status)
    return found


class StatusReporter:
    """Publishes this worker's :class:`WorkerStatus` until stopped. A failed write is logged and retried on
    the next tick: Redis being down must never stop a worker."""

    def __init__(self, settings: Settings, redis: aioredis.Redis, venue: SettlementVenue) -> None:
        self.worker = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._settings = settings
        self._redis = redis
        self._venue = venue
        self._interval_s = settings.worker_status_interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="worker-status")

    async def stop(self) -> None:
        """Stop publishing and remove this worker's record; bounded, so it never holds up a shutdown."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=PROBE_TIMEOUT_S)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                await cast("Awaitable[int]", self._redis.hdel(self._settings.worker_status_key, self.worker))

    async def current(self) -> WorkerStatus:
        """Probe the venue now. A venue without a probe (the simulated ledger) has nothing to go wrong."""
        if isinstance(self._venue, VenueProbe):
            venue = await self._venue.health(PROBE_TIMEOUT_S)
        else:
            venue = VenueHealth(self._settings.solana_network.value, self._venue.kind)
        now = time.time()
        until = now + BELIEVED_FOR_INTERVALS * self._interval_s + PROBE_TIMEOUT_S
        return WorkerStatus(self.worker, now, until, self._settings.routing, venue)

    async def publish(self) -> WorkerStatus:
        status = await self.current()
        key = self._settings.worker_status_key
        # Write ours and read everyone's in one round trip; then drop the records of workers long gone.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, self.worker, status.to_json().decode())
            pipe.hgetall(key)
            _, everyone = await pipe.execute()
        live = {s.worker for s in _believed(everyone, status.at)}
        gone = [name for name in everyone if name.decode() not in live]
        if gone:
            await cast("Awaitable[int]", self._redis.hdel(key, *gone))
        return status

    async def _run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self._interval_s + PROBE_TIMEOUT_S):
                    await self.publish()
            except Exception as exc:
                log.warning("worker status not published: %r", exc)
            await asyncio.sleep(self._interval_s)


def start_reporter(settings: Settings, redis: aioredis.Redis, venue: SettlementVenue) -> StatusReporter:
    """The worker start-up hook: publish this worker's status now and every interval."""
    reporter = StatusReporter(settings, redis, venue)
    reporter.start()
    return reporter


async def stop_reporter(reporter: StatusReporter | None) -> None:
    """The worker shutdown hook (a no-op when start-up never got that far)."""
    if reporter is not None:
        await reporter.stop()
