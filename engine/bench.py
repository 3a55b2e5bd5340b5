"""``make bench``: accepted orders/s, confirmed orders/s and acceptance-to-confirmation latency.

Runs the real processes (API, worker) over real PostgreSQL and Redis (embedded unless DATABASE_URL and
REDIS_URL are set), drives the API with a lean keep-alive HTTP client, and reads the outcome from the
database: when each order was accepted and when it finished. It also checks that every order
confirmed and landed exactly one transaction on the simulated ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import orjson
import redis.asyncio as aioredis

from engine.db.urls import asyncpg_dsn
from engine.logs import setup_logging
from engine.settings import LatencyRange, Settings, load_settings

BODY = orjson.dumps({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.5", "slippageBps": 100})


@dataclass
class Scenario:
    name: str
    orders: int
    rate: float
    concurrency: int
    quote_ms: str
    execution_ms: str
    api_processes: int = 1
    worker_processes: int = 1
    connections: int = 64


@dataclass
class Result:
    scenario: Scenario
    accepted: int
    rejected: int
    submit_s: float
    confirmed: int
    failed: int
    span_s: float
    p50_ms: float
    p99_ms: float
    double_landed: int
    lost: int

    @property
    def accept_rate(self) -> float:
        return self.accepted / self.submit_s if self.submit_s else 0.0

    @property
    def confirm_rate(self) -> float:
        return self.confirmed / self.span_s if self.span_s else 0.0

    @property
    def ideal_rate(self) -> float | None:
        mean = LatencyRange.parse(self.scenario.quote_ms).mean_ms + LatencyRange.parse(self.scenario.execution_ms).mean_ms
        return self.scenario.concurrency / (mean / 1000) if mean else None


async def _drive(host: str, port: int, n: int, rate: float, connections: int) -> tuple[int, int, float, list[str]]:
    """Send ``n`` orders at up to ``rate``/s over keep-alive connections; returns accepted, rejected, seconds."""
    request = (
        f"POST /api/orders/execute HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    next_index = 0
    accepted = rejected = 0
    ids: list[str] = []
    start = time.perf_counter()

    async def connection() -> None:
        nonlocal next_index, accepted, rejected
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < n:
                i = next_index
                next_index += 1
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                if status == 202:
                    accepted += 1
                    ids.append(orjson.loads(body)["orderId"])
                else:
                    rejected += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(min(connections, n))))
    return accepted, rejected, time.perf_counter() - start, ids


async def _outcome(settings: Settings, ids: list[str], timeout_s: float) -> tuple[int, int, float, list[float], int]:
    conn = await asyncpg.connect(asyncpg_dsn(settings.database_url or ""))
    try:
        uuids = [uuid.UUID(i) for i in ids]
        deadline = time.monotonic() + timeout_s
        while True:
            open_count = await conn.fetchval(
                "SELECT count(*) FROM orders WHERE id = ANY($1) AND status NOT IN ('confirmed','failed')", uuids
            )
            if open_count == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        rows = await conn.fetch(
            "SELECT status, created_at, finished_at FROM orders WHERE id = ANY($1)", uuids
        )
    finally:
        await conn.close()
    confirmed = [r for r in rows if r["status"] == "confirmed"]
    failed = sum(1 for r in rows if r["status"] == "failed")
    latencies = [(r["finished_at"] - r["created_at"]).total_seconds() * 1000 for r in confirmed]
    span = 0.0
    if confirmed:
        span = (max(r["finished_at"] for r in confirmed) - min(r["created_at"] for r in rows)).total_seconds()
    return len(confirmed), failed, span, latencies, len(ids) - len(rows)


async def _double_landed(settings: Settings, ids: list[str]) -> int:
    from adapters.registry import build_venues

    client = aioredis.Redis.from_url(settings.redis_url or "")
    try:
        ledger: Any = build_venues(settings, client).settlement
        counts = [len(await ledger.landed_signatures(i)) for i in ids]
    finally:
        await client.aclose()
    return sum(1 for c in counts if c > 1)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_scenario(settings: Settings, scenario: Scenario) -> Result:
    from engine.cli import child_env
    from engine.runtime import free_port

    port = free_port()
    env = child_env(
        settings, API_PORT=str(port), API_PROCESSES=str(scenario.api_processes), LOG_LEVEL="WARNING",
        WORKER_CONCURRENCY=str(scenario.concurrency), MOCK_QUOTE_LATENCY_MS=scenario.quote_ms,
        MOCK_EXECUTION_LATENCY_MS=scenario.execution_ms, QUEUE_NAME=f"oee:bench:{uuid.uuid4().hex[:6]}",
        DB_POOL_SIZE="20",
    )  # fmt: skip
    procs = [subprocess.Popen([sys.executable, "-m", "engine.cli", "api"], env=env)]
    procs += [
        subprocess.Popen([sys.executable, "-m", "engine.cli", "worker"], env=env)
        for _ in range(scenario.worker_processes)
    ]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("engine did not become healthy")
            time.sleep(0.1)
        accepted, rejected, submit_s, ids = asyncio.run(
            _drive("127.0.0.1", port, scenario.orders, scenario.rate, scenario.connections)
        )
        confirmed, failed, span, latencies, lost = asyncio.run(_outcome(settings, ids, 600))
        doubles = asyncio.run(_double_landed(settings, ids))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    return Result(
        scenario, accepted, rejected, submit_s, confirmed, failed, span,
        _percentile(latencies, 0.5), _percentile(latencies, 0.99), doubles, lost,
    )  # fmt: skip


def report(r: Result) -> None:
    s = r.scenario
    print(f"\n== {s.name}: {s.orders} orders at up to {s.rate:.0f}/s, {s.api_processes} API and "
          f"{s.worker_processes} worker process(es), worker concurrency {s.concurrency}, "
          f"latency quote {s.quote_ms} ms / execution {s.execution_ms} ms")  # fmt: skip
    print(f"   accepted      {r.accepted:6d} in {r.submit_s:6.2f} s  = {r.accept_rate:8.1f} orders/s (rejected {r.rejected})")
    print(f"   confirmed     {r.confirmed:6d} in {r.span_s:6.2f} s  = {r.confirm_rate:8.1f} orders/s"
          f" ({r.confirm_rate * 60:.0f}/min; failed {r.failed})")  # fmt: skip
    if r.ideal_rate:
        print(f"   ideal (concurrency / mean latency) {r.ideal_rate:.2f} orders/s -> {100 * r.confirm_rate / r.ideal_rate:.1f}%")
    print(f"   accept->confirm p50 {r.p50_ms:8.1f} ms   p99 {r.p99_ms:8.1f} ms")
    print(f"   lost {r.lost}, executed twice {r.double_landed}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.bench")
    parser.add_argument("--orders", type=int, default=5000, help="orders in the zero-latency run")
    parser.add_argument("--rate", type=float, default=10_000, help="target submission rate, orders/s")
    parser.add_argument("--fast-concurrency", type=int, default=200)
    parser.add_argument("--api-processes", type=int, default=1)
    parser.add_argument("--worker-processes", type=int, default=1, help="workers in the zero-latency run")
    parser.add_argument("--default-latency-concurrency", default="10,50", help="comma-separated")
    parser.add_argument("--only", choices=["fast", "default"], default=None)
    args = parser.parse_args(argv)
    setup_logging("WARNING")
    from engine.runtime import resolve_services, run_migrations

    services = resolve_services(load_settings())
    settings = services.settings
    run_migrations(settings)
    os.environ.setdefault("OEE_SKIP_MIGRATIONS", "1")
    try:
        if args.only in (None, "fast"):
            report(run_scenario(settings, Scenario("mock latency 0", args.orders, args.rate, args.fast_concurrency,
                                                   "0", "0", args.api_processes, args.worker_processes)))  # fmt: skip
        if args.only in (None, "default"):
            for conc in (int(c) for c in args.default_latency_concurrency.split(",")):
                n = conc * 10
                report(run_scenario(settings, Scenario(f"default latencies, concurrency {conc}", n, 1000, conc,
                                                       "200", "2000-3000", 1)))  # fmt: skip
    finally:
        services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
