"""The engine a benchmark drives: its processes, a lean client that submits orders, and what became of them."""

from __future__ import annotations

import asyncio
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
from kernel.settings import Settings
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
        from tools.processes import child_env

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
