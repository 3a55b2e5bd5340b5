"""``make bench``: how fast orders are accepted and confirmed, and how long each takes.

The benchmark runs the real processes (API, worker) over real PostgreSQL and Redis (embedded unless
DATABASE_URL and REDIS_URL are set), drives the API with a lean keep-alive HTTP client, and reads the
outcome from the database: when each order was accepted, picked up and confirmed. Every run also
checks that each order confirmed and landed exactly one transaction.

With zero simulated latency it measures, on the same machine:
  acceptance  - the API alone takes a burst of orders (no worker runs yet);
  execution   - workers are then started and drain that backlog;
  steady load - orders arrive at a fixed rate while workers run: acceptance-to-confirmation latency.
With the default latencies (quote 200 ms, execution 2-3 s) it compares throughput with the ideal,
WORKER_CONCURRENCY / mean latency, at several concurrencies.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
import redis.asyncio as aioredis

from engine.db.urls import asyncpg_dsn
from kernel.logs import setup_logging
from kernel.settings import LatencyRange, Settings, load_settings
from tools.processes import stop_processes, wait_for_api

BODY = orjson.dumps({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.5", "slippageBps": 100})


@dataclass
class Engine:
    """API and worker processes for one scenario."""

    settings: Settings
    concurrency: int
    quote_ms: str
    execution_ms: str
    api_processes: int = 1
    worker_processes: int = 1
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    api_key: str = ""
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        from engine.runtime import free_port
        from tools.cli import child_env

        self.port = free_port()
        self.env = child_env(
            self.settings, API_PORT=str(self.port), API_PROCESSES=str(self.api_processes), LOG_LEVEL="WARNING",
            WORKER_CONCURRENCY=str(self.concurrency), SIMULATED_QUOTE_LATENCY_MS=self.quote_ms,
            SIMULATED_EXECUTION_LATENCY_MS=self.execution_ms, QUEUE_NAME=f"oee:bench:{uuid.uuid4().hex[:6]}",
            DB_POOL_SIZE="20",
        )  # fmt: skip

    def start_api(self) -> None:
        from tools.keys import create_key

        # The benchmark's own key, with a limit far above what it sends: it measures the engine, not the limit.
        self.api_key = create_key(self.settings, name="bench", rate_per_s=1e7, burst=10_000_000)
        self.procs.append(subprocess.Popen([sys.executable, "-m", "tools.cli", "api"], env=self.env))
        # No worker runs yet, so health answers 503: any answer means the API is up.
        wait_for_api(f"http://127.0.0.1:{self.port}", self.procs, healthy=False)

    def start_workers(self) -> None:
        for _ in range(self.worker_processes):
            self.procs.append(subprocess.Popen([sys.executable, "-m", "tools.cli", "worker"], env=self.env))

    def stop(self) -> None:
        stop_processes(self.procs)
        self.procs = []


async def drive(engine: Engine, n: int, rate: float, connections: int = 64) -> tuple[int, int, float, list[str]]:
    """Send ``n`` orders at up to ``rate``/s over keep-alive connections: accepted, rejected, seconds, IDs."""
    port = engine.port
    request = (
        f"POST /api/orders/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-API-Key: {engine.api_key}\r\nContent-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    next_index = 0
    rejected = 0
    ids: list[str] = []
    start = time.perf_counter()

    async def connection() -> None:
        nonlocal next_index, rejected
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while next_index < n:
                due = start + next_index / rate
                next_index += 1
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                if head[9:12] == b"202":
                    ids.append(orjson.loads(body)["orderId"])
                else:
                    rejected += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(min(connections, n))))
    return len(ids), rejected, time.perf_counter() - start, ids


@dataclass
class Outcome:
    """What the database says happened to a set of orders."""

    confirmed: int
    failed: int
    lost: int
    first_accepted: float
    first_picked: float
    last_confirmed: float
    accept_to_confirm_ms: list[float]
    service_ms: list[float]  # a worker picking the order up to its confirmation
    steady_rate: float  # confirmations per second while every worker slot was busy


async def outcome(settings: Settings, ids: list[str], timeout_s: float = 900) -> Outcome:
    conn = await asyncpg.connect(asyncpg_dsn(settings.database_url or ""))
    try:
        uuids = [uuid.UUID(i) for i in ids]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            open_count = await conn.fetchval(
                "SELECT count(*) FROM orders WHERE id = ANY($1) AND status NOT IN ('confirmed','failed')", uuids
            )
            if open_count == 0:
                break
            await asyncio.sleep(0.1)
        rows = await conn.fetch(
            "SELECT o.status, o.created_at, o.finished_at, "
            "(SELECT min(a.started_at) FROM order_attempts a WHERE a.order_id = o.id) AS picked_at "
            "FROM orders o WHERE o.id = ANY($1)",
            uuids,
        )
    finally:
        await conn.close()
    done = [r for r in rows if r["status"] == "confirmed"]
    if not done:
        return Outcome(0, len(rows), len(ids) - len(rows), 0.0, 0.0, 0.0, [], [], 0.0)
    first_done = min(r["finished_at"] for r in done)
    last_pick = max(r["picked_at"] for r in done)
    window = (last_pick - first_done).total_seconds()
    in_window = sum(1 for r in done if first_done < r["finished_at"] <= last_pick)
    return Outcome(
        confirmed=len(done),
        failed=sum(1 for r in rows if r["status"] == "failed"),
        lost=len(ids) - len(rows),
        first_accepted=min(r["created_at"] for r in rows).timestamp(),
        first_picked=min(r["picked_at"] for r in done).timestamp(),
        last_confirmed=max(r["finished_at"] for r in done).timestamp(),
        accept_to_confirm_ms=[(r["finished_at"] - r["created_at"]).total_seconds() * 1000 for r in done],
        service_ms=[(r["finished_at"] - r["picked_at"]).total_seconds() * 1000 for r in done],
        steady_rate=in_window / window if window > 0 else 0.0,
    )


async def executed_twice(settings: Settings, ids: list[str]) -> int:
    """Orders with more than one transaction on the simulated ledger."""
    from adapters.registry import build_worker_adapters

    client = aioredis.Redis.from_url(settings.redis_url or "")
    try:
        ledger: Any = build_worker_adapters(settings, client).settlement
        counts = [len(await ledger.landed_signatures(i)) for i in ids]
    finally:
        await client.aclose()
    return sum(1 for c in counts if c > 1)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def integrity(settings: Settings, ids: list[str], o: Outcome) -> str:
    twice = asyncio.run(executed_twice(settings, ids))
    return f"confirmed {o.confirmed}, failed {o.failed}, lost {o.lost}, executed twice {twice}"


def zero_latency(settings: Settings, args: argparse.Namespace) -> None:
    print(
        f"\n== simulated latency 0; {args.api_processes} API process(es), {args.worker_processes} worker "
        f"process(es), WORKER_CONCURRENCY={args.concurrency}"
    )
    engine = Engine(settings, args.concurrency, "0", "0", args.api_processes, args.worker_processes)
    try:
        engine.start_api()
        accepted, rejected, seconds, ids = asyncio.run(drive(engine, args.orders, args.rate))
        print(
            f"   acceptance   {accepted} orders in {seconds:.2f} s = {accepted / seconds:8.1f} accepted/s "
            f"(rejected {rejected})"
        )
        engine.start_workers()
        o = asyncio.run(outcome(settings, ids))
        drain = o.last_confirmed - o.first_picked  # from the first order a worker picked up
        print(
            f"   execution    {o.confirmed} queued orders confirmed in {drain:.2f} s = {o.confirmed / drain:8.1f} "
            f"confirmed/s ({integrity(settings, ids, o)})"
        )
        n = int(args.steady_rate * args.steady_seconds)
        accepted, rejected, seconds, ids = asyncio.run(drive(engine, n, args.steady_rate))
        o = asyncio.run(outcome(settings, ids))
        span = o.last_confirmed - o.first_accepted
        print(
            f"   steady load  {accepted} orders at {args.steady_rate:.0f}/s: {o.confirmed / span:8.1f} confirmed/s; "
            f"acceptance to confirmation p50 {pct(o.accept_to_confirm_ms, 0.5):.1f} ms, "
            f"p99 {pct(o.accept_to_confirm_ms, 0.99):.1f} ms ({integrity(settings, ids, o)})"
        )
    finally:
        engine.stop()


def default_latency(settings: Settings, concurrency: int, orders_per_slot: int) -> None:
    quote, execution = LatencyRange(low_ms=200, high_ms=200), LatencyRange(low_ms=2000, high_ms=3000)
    nominal = quote.mean_ms + execution.mean_ms
    ideal = concurrency / (nominal / 1000)
    n = concurrency * orders_per_slot
    print(f"\n== default latencies (quote {quote} ms, execution {execution} ms), WORKER_CONCURRENCY={concurrency}")
    engine = Engine(settings, concurrency, str(quote), str(execution))
    try:
        engine.start_api()
        engine.start_workers()
        _, _, _, ids = asyncio.run(drive(engine, n, 1000))
        o = asyncio.run(outcome(settings, ids))
    finally:
        engine.stop()
    span = o.last_confirmed - o.first_accepted
    service = statistics.fmean(o.service_ms) if o.service_ms else 0.0
    print(
        f"   {n} orders submitted at once; ideal {ideal:.2f} confirmed/s ({ideal * 60:.0f}/min)\n"
        f"   steady state (every slot busy) {o.steady_rate:7.2f} confirmed/s = {100 * o.steady_rate / ideal:5.1f}% "
        f"of ideal; first acceptance to last confirmation {o.confirmed / span:.2f}/s = "
        f"{100 * o.confirmed / span / ideal:5.1f}% (ramp-up and tail included)\n"
        f"   per order: pickup to confirmation {service:.1f} ms for {nominal:.0f} ms of simulated latency "
        f"(engine overhead {service - nominal:+.1f} ms); p50 {pct(o.service_ms, 0.5):.0f} ms, "
        f"p99 {pct(o.service_ms, 0.99):.0f} ms\n"
        f"   acceptance to confirmation p50 {pct(o.accept_to_confirm_ms, 0.5):.0f} ms, "
        f"p99 {pct(o.accept_to_confirm_ms, 0.99):.0f} ms (all submitted at once: includes the wait for a slot)\n"
        f"   {integrity(settings, ids, o)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=6000, help="burst size for acceptance and execution")
    parser.add_argument("--rate", type=float, default=20_000, help="burst submission rate cap, orders/s")
    parser.add_argument("--concurrency", type=int, default=200, help="WORKER_CONCURRENCY at latency 0")
    parser.add_argument("--api-processes", type=int, default=1)
    parser.add_argument("--worker-processes", type=int, default=2, help="worker processes at latency 0")
    parser.add_argument("--steady-rate", type=float, default=250, help="arrival rate of the steady-load run")
    parser.add_argument("--steady-seconds", type=float, default=8)
    parser.add_argument("--default-concurrency", default="10,50", help="comma-separated WORKER_CONCURRENCY values")
    parser.add_argument("--orders-per-slot", type=int, default=20, help="orders per worker slot at default latencies")
    parser.add_argument("--scale-processes", default="1,2,4", help="comma-separated worker process counts")
    parser.add_argument("--scale-slots", type=int, default=10, help="WORKER_CONCURRENCY when scaling out")
    parser.add_argument("--scale-orders-per-slot", type=int, default=8, help="orders per slot when scaling out")
    parser.add_argument("--only", choices=["zero", "edge", "default", "scaling"])
    args = parser.parse_args(argv)
    setup_logging("WARNING")
    from engine.runtime import resolve_services, run_migrations

    services = resolve_services(load_settings())
    run_migrations(services.settings)
    try:
        if args.only in (None, "zero"):
            zero_latency(services.settings, args)
        if args.only in (None, "edge"):
            from tools.bench_edge import hostile_input

            hostile_input(services.settings)
        if args.only in (None, "default"):
            for concurrency in (int(c) for c in args.default_concurrency.split(",")):
                default_latency(services.settings, concurrency, args.orders_per_slot)
        if args.only in (None, "scaling"):
            from tools.bench_scaling import scaling

            processes = [int(p) for p in args.scale_processes.split(",")]
            scaling(services.settings, processes, args.scale_slots, args.scale_orders_per_slot)
    finally:
        services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
