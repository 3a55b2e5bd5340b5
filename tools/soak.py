"""``make soak``: fault scenarios against the real processes, with the figures they produce.

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
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import redis.asyncio as aioredis

from engine.db.urls import asyncpg_dsn
from engine.queue import lease_keys
from kernel.logs import setup_logging
from kernel.settings import Settings, load_settings
from tools.bench import Engine, drive, integrity, outcome
from tools.bench_scaling import SETTLE_S


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


def worker_killed(settings: Settings, orders: int) -> None:
    print(f"\n== a worker SIGKILLed during a batch of {orders} (2 workers x 10, default latencies and leases)")
    engine = Engine(settings, 10, "200", "2000-3000", worker_processes=2)
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
    finally:
        engine.stop()
    print(
        f"   {len(orphans)} orphaned orders; kill to every orphan moving again {moving_s:.2f} s\n"
        f"   {integrity(settings, ids, o)}; first acceptance to last confirmation "
        f"{o.last_confirmed - o.first_accepted:.1f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100, help="batch size of the worker-kill scenario")
    args = parser.parse_args(argv)
    setup_logging("WARNING")
    from engine.runtime import resolve_services, run_migrations

    services = resolve_services(load_settings())
    run_migrations(services.settings)
    try:
        worker_killed(services.settings, args.orders)
    finally:
        services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
