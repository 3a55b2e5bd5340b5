"""``make bench-streams``: what many WebSocket subscribers cost one API process.

It runs the real API process alone, accepts ``--sockets`` orders (no worker yet, so they wait), and
opens one WebSocket per order from a separate client process. Then:
  idle     - PostgreSQL transactions a second on the engine's database while every socket waits, and
             the API process's resident memory;
  delivery - a worker starts and executes the waiting orders at about ``--rate`` orders a second;
             each event's delivery delay is its arrival at the client less the time the worker
             stamped on it when publishing, over every event of every socket.
Figures are measured on this machine each run; nothing is seeded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import sys
import time
from datetime import datetime
from pathlib import Path

import asyncpg
import orjson
import websockets

from engine.db.urls import asyncpg_dsn
from kernel.logs import setup_logging
from kernel.settings import Settings, load_settings
from tools.bench_engine import Engine, drive, pct
from tools.processes import stop_on_signals


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def order_reads(dsn: str) -> int:
    """Scans of the order tables PostgreSQL has counted: what a stream's reads show up as (autovacuum and
    these statistics queries count none)."""
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT sum(seq_scan + coalesce(idx_scan, 0)) FROM pg_stat_user_tables "
                "WHERE relname IN ('orders', 'order_events')"
            )
        )
    finally:
        await conn.close()


async def settled(dsn: str, quiet_s: float = 12, within_s: float = 120) -> float:
    """Seconds until the order-table read count stops moving for ``quiet_s`` (a backend reports its
    statistics within ten seconds of going idle, so the opening's reads are all counted by then)."""
    started = time.perf_counter()
    value, since = await order_reads(dsn), time.perf_counter()
    while time.perf_counter() - since < quiet_s and time.perf_counter() - started < within_s:
        await asyncio.sleep(1)
        latest = await order_reads(dsn)
        if latest != value:
            value, since = latest, time.perf_counter()
    return time.perf_counter() - started


async def transactions(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        return int(
            await conn.fetchval(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            )
        )
    finally:
        await conn.close()


class Finished:
    """Counts orders seen to their end; ``all`` is set once every one of ``expected`` has been."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.all = asyncio.Event()

    def add(self) -> None:
        self.count += 1
        if self.count >= self.expected:
            self.all.set()


async def subscribe(url: str, key: str, delays_ms: list[float], done: Finished) -> websockets.ClientConnection:
    ws = await websockets.connect(
        url, open_timeout=120, max_queue=None, ping_interval=None, additional_headers={"X-API-Key": key}
    )

    async def read() -> None:
        try:
            async for raw in ws:
                message = orjson.loads(raw)
                if message.get("type") == "event" and message.get("at"):
                    sent = datetime.fromisoformat(message["at"]).timestamp()
                    delays_ms.append((time.time() - sent) * 1000)
                    if message["status"] in ("confirmed", "failed"):
                        done.add()
        except websockets.ConnectionClosed:
            pass

    asyncio.get_running_loop().create_task(read())
    return ws


async def run(engine: Engine, settings: Settings, ids: list[str], idle_s: float) -> None:
    dsn = asyncpg_dsn(settings.database_url or "")
    delays: list[float] = []
    done = Finished(len(ids))
    started = time.perf_counter()
    sockets = []
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        sockets += await asyncio.gather(
            *(subscribe(f"ws://127.0.0.1:{engine.port}/ws/orders/{i}", engine.api_key, delays, done) for i in batch)
        )
    print(
        f"   opened       {len(sockets)} sockets in {time.perf_counter() - started:.1f} s; "
        f"{sum(ws.close_code is None for ws in sockets)} still open"
    )
    await asyncio.sleep(1)
    delays.clear()  # the replayed `pending` events are not live deliveries
    api_pid = engine.procs[0].pid
    waited = await settled(dsn)
    before, reads_before = await transactions(dsn), await order_reads(dsn)
    await asyncio.sleep(idle_s)
    after, reads_after = await transactions(dsn), await order_reads(dsn)
    per_s = max(0, after - before - 4) / idle_s  # less the transactions of counting itself
    print(
        f"   idle         (statistics settled {waited:.0f} s after the last socket opened) "
        f"{(reads_after - reads_before) / idle_s:.1f} order-table reads/s and "
        f"{per_s:.1f} PostgreSQL transactions/s over {idle_s:.0f} s with {len(sockets)} sockets "
        f"open; API process RSS {rss_mib(api_pid):.0f} MiB; this client's peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    engine.start_workers()
    started = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.all.wait(), timeout=600)
    seconds = time.perf_counter() - started
    print(
        f"   delivery     {done.count} of {len(ids)} orders seen to their end in {seconds:.1f} s "
        f"({done.count / seconds:.0f} orders/s); {len(delays)} live events, delay p50 {pct(delays, 0.5):.1f} ms, "
        f"p99 {pct(delays, 0.99):.1f} ms, max {max(delays, default=0):.1f} ms; API RSS {rss_mib(api_pid):.0f} MiB"
    )
    for ws in sockets:
        await ws.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_streams", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200, help="orders/s the worker executes at once started")
    parser.add_argument("--idle-seconds", type=float, default=10)
    args = parser.parse_args(argv)
    stop_on_signals()  # a stopped bench still stops the processes and servers it started
    setup_logging("WARNING")
    from engine.runtime import resolve_services, run_migrations

    services = resolve_services(load_settings())
    run_migrations(services.settings)
    # 50 ms of simulated execution plus the engine's own steps is about 100 ms an order per slot.
    slots = max(1, round(args.rate / 10))
    engine = Engine(services.settings, slots, "0", "50")
    # One client holds every socket here, so its key may hold them all (the default cap is 1,000 a key).
    engine.env.update(WS_MAX_PER_KEY=str(args.sockets), WS_MAX_PER_PROCESS=str(args.sockets + 100))
    try:
        print(f"\n== {args.sockets} WebSocket subscribers on one API process; worker at about {args.rate:.0f} orders/s")
        engine.start_api()
        _, rejected, _, ids = asyncio.run(drive(engine, args.sockets, 5000))
        if rejected:
            print(f"   {rejected} submissions rejected")
        asyncio.run(run(engine, services.settings, ids, args.idle_seconds))
    finally:
        engine.stop()
        services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
