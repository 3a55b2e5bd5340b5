"""``make soak``: fault scenarios against the real processes, with the figures they produce.

Every scenario runs the API and two worker processes at the default latencies (quote 200 ms, execution
2-3 s) and default settings, over a PostgreSQL and a Redis this script starts for itself under a temporary
folder (``tools.fault_servers``: unix sockets only, never a server anything else uses), so it may kill them.
Each prints every accepted order's outcome, orders executed twice (more than one ledger transaction) and
which processes are still up.

Redis killed, PostgreSQL killed, Redis paused: a batch is submitted at once and, once orders are
confirming, the server is SIGKILLed and started again after a few seconds (or SIGSTOPped for 10 s and
continued). Printed as well: how long from the restart until every order was terminal.

Worker killed: the API and two worker processes run at the default latencies (quote 200 ms, execution
2-3 s) and default lease settings; 100 orders are submitted at once, and one worker is SIGKILLed while it
holds orders. Printed: every order's outcome, orders executed twice (more than one ledger transaction),
and the time from the kill until every order the dead worker held (its orphans) has a new event, that is,
until another worker is running each of them again.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

from engine.db.urls import asyncpg_dsn
from engine.queue import lease_keys
from kernel.logs import setup_logging
from kernel.settings import Settings, load_settings
from tools.bench_engine import Engine, drive, integrity, outcome
from tools.bench_scaling import SETTLE_S
from tools.fault_servers import PostgresServer, RedisServer
from tools.processes import stop_on_signals


async def held_by(settings: Settings, queue: str, pid: int) -> list[str]:
    """Order IDs whose lease the worker process ``pid`` holds."""
    client = aioredis.Redis.from_url(settings.redis_url or "")
    try:
        owners = await client.hgetall(lease_keys(queue)[1])
    finally:
        await client.aclose()
    return [k.decode() for k, v in owners.items() if int(v.decode().split(":")[1]) == pid]


async def moving_again(settings: Settings, orphans: list[str], since: datetime, timeout_s: float = 300) -> float:
    """Seconds from ``since`` until every orphan has an event recorded after it."""
    conn = await asyncpg.connect(asyncpg_dsn(settings.database_url or ""))
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            rows = await conn.fetch(
                "SELECT order_id, min(created_at) AS first FROM order_events "
                "WHERE order_id = ANY($1) AND created_at > $2 GROUP BY order_id",
                [uuid.UUID(i) for i in orphans], since,
            )  # fmt: skip
            if len(rows) == len(orphans):
                return max(float((r["first"] - since).total_seconds()) for r in rows)
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise TimeoutError(f"orphaned orders did not move again within {timeout_s} s")


async def unfinished(settings: Settings, ids: list[str]) -> list[str]:
    conn = await asyncpg.connect(asyncpg_dsn(settings.database_url or ""))
    try:
        rows = await conn.fetch(
            "SELECT id FROM orders WHERE id = ANY($1) AND status NOT IN ('confirmed', 'failed')",
            [uuid.UUID(i) for i in ids],
        )
    finally:
        await conn.close()
    return [str(r["id"]) for r in rows]


def quiet(engine: Engine) -> Engine:
    # The processes log every retry while a server is down; the figures are what this prints.
    engine.env["LOG_LEVEL"] = "ERROR"
    return engine


def alive(engine: Engine) -> str:
    names = ["api", *(f"worker-{n}" for n in range(1, len(engine.procs)))]
    down = [name for name, proc in zip(names, engine.procs, strict=True) if proc.poll() is not None]
    return "every process still up" if not down else f"DOWN: {', '.join(down)}"


async def terminal_count(settings: Settings, ids: list[str]) -> int:
    return len(ids) - len(await unfinished(settings, ids))


def dependency_fault(settings: Settings, title: str, orders: int, fault: Callable[[], float]) -> None:
    """``fault`` strikes once orders are confirming and returns when the server is back (seconds it was out)."""
    print(f"\n== {title} during a batch of {orders} (2 workers x 10, default latencies)")
    engine = quiet(Engine(settings, 10, "200", "2000-3000", worker_processes=2))
    try:
        engine.start_api()
        engine.start_workers()
        time.sleep(SETTLE_S)
        accepted, rejected, _, ids = asyncio.run(drive(engine, orders, 1000))
        while asyncio.run(terminal_count(settings, ids)) < 20:
            time.sleep(0.05)
        before = asyncio.run(terminal_count(settings, ids))
        out_s = fault()
        back = time.monotonic()
        o = asyncio.run(outcome(settings, ids))
        settled_s = time.monotonic() - back
        up = alive(engine)
    finally:
        engine.stop()
    print(
        f"   {accepted} accepted ({rejected} refused); out for {out_s:.1f} s with {orders - before} orders unfinished\n"
        f"   every order terminal {settled_s:.1f} s after it came back; {integrity(settings, ids, o)}; {up}"
    )


def outage(kill: Callable[[], None], restart: Callable[[], object], seconds: float) -> Callable[[], float]:
    def fault() -> float:
        started = time.monotonic()
        kill()
        time.sleep(seconds)
        restart()
        return time.monotonic() - started

    return fault


def worker_killed(settings: Settings, orders: int) -> None:
    print(f"\n== a worker SIGKILLed during a batch of {orders} (2 workers x 10, default latencies and leases)")
    engine = quiet(Engine(settings, 10, "200", "2000-3000", worker_processes=2))
    try:
        engine.start_api()
        engine.start_workers()
        victim = engine.procs[1]
        time.sleep(SETTLE_S)
        queue = engine.env["QUEUE_NAME"]
        _, _, _, ids = asyncio.run(drive(engine, orders, 1000))
        deadline = time.monotonic() + 60
        while len(asyncio.run(held_by(settings, queue, victim.pid))) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # let its orders reach submission: the orphans then hold signed, sent transactions
        held = asyncio.run(held_by(settings, queue, victim.pid))
        killed_at = datetime.now(UTC)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        orphans = asyncio.run(unfinished(settings, held))
        moving_s = asyncio.run(moving_again(settings, orphans, killed_at)) if orphans else 0.0
        o = asyncio.run(outcome(settings, ids))
        engine.procs.remove(victim)
        up = alive(engine)
    finally:
        engine.stop()
    print(
        f"   {len(orphans)} orphaned orders; kill to every orphan moving again {moving_s:.2f} s\n"
        f"   {integrity(settings, ids, o)}; first acceptance to last confirmation "
        f"{o.last_confirmed - o.first_accepted:.1f} s; {up} but the killed worker"
    )


SCENARIOS = ("redis-killed", "postgres-killed", "redis-paused", "worker-killed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100, help="batch size of the worker-kill scenario")
    parser.add_argument("--dependency-orders", type=int, default=200, help="batch size of the server faults")
    parser.add_argument("--outage-s", type=float, default=3.0, help="how long a killed server stays down")
    parser.add_argument("--pause-s", type=float, default=10.0, help="how long Redis stays paused")
    parser.add_argument("--only", choices=SCENARIOS, action="append", help="run only these scenarios")
    args = parser.parse_args(argv)
    stop_on_signals()  # a stopped bench still stops the processes and servers it started
    setup_logging("WARNING")
    from engine.runtime import run_migrations

    with tempfile.TemporaryDirectory(prefix="oee-soak-") as folder:
        pg = PostgresServer(Path(folder) / "pg")
        redis = RedisServer(Path(folder) / "redis")
        try:
            pg.start()
            redis.start()
            settings = load_settings(database_url=pg.url, redis_url=redis.url)
            run_migrations(settings)
            only = args.only or SCENARIOS
            n = args.dependency_orders
            if "redis-killed" in only:
                dependency_fault(
                    settings, "Redis killed and restarted", n, outage(redis.kill, redis.start, args.outage_s)
                )
            if "postgres-killed" in only:
                dependency_fault(
                    settings, "PostgreSQL killed and restarted", n, outage(pg.kill, pg.restart, args.outage_s)
                )
            if "redis-paused" in only:
                dependency_fault(
                    settings, f"Redis paused {args.pause_s:.0f} s", n, outage(redis.pause, redis.resume, args.pause_s)
                )
            if "worker-killed" in only:
                worker_killed(settings, args.orders)
        finally:
            redis.stop()
            pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
