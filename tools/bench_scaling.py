"""Scaling out: orders/s and worker CPU per order with 1, 2 and 4 worker processes over one Redis and PostgreSQL.

Each scenario starts the API and N worker processes of ``slots`` each, waits until the workers have settled,
submits ``N x slots x orders_per_slot`` orders at once and reads from the database when the first was picked
up and the last confirmed. Orders/s over that span is compared with one process; CPU is the workers' user
plus system time over the run, read from ``/proc``, so a worker that spins shows up as CPU per order.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kernel.settings import Settings
from tools.bench_engine import Engine, drive, integrity, outcome

# The seeds' latencies and a 1 s execution: (label, quote ms, execution ms).
LATENCIES = (("seeds: quote 200 ms, execution 2000-3000 ms", "200", "2000-3000"),
             ("quote 200 ms, execution 1000 ms", "200", "1000"))  # fmt: skip
# A worker process imports the engine and connects in about two seconds here; a batch submitted before
# every worker is polling would credit the first ones with the others' share.
SETTLE_S = 4.0


def cpu_seconds(procs: list[subprocess.Popen[bytes]]) -> float:
    """User plus system CPU of the given live processes (Linux ``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for proc in procs:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


@dataclass(frozen=True, slots=True)
class Run:
    processes: int
    rate: float
    cpu_per_order: float
    summary: str


def run_once(settings: Settings, processes: int, slots: int, orders_per_slot: int, quote: str, execution: str) -> Run:
    engine = Engine(settings, slots, quote, execution, worker_processes=processes)
    n = processes * slots * orders_per_slot
    try:
        engine.start_api()
        engine.start_workers()
        workers = engine.procs[1:]
        time.sleep(SETTLE_S)
        cpu_before = cpu_seconds(workers)
        _, _, _, ids = asyncio.run(drive(engine, n, 1000))
        o = asyncio.run(outcome(settings, ids))
        cpu = cpu_seconds(workers) - cpu_before
    finally:
        engine.stop()
    span = o.last_confirmed - o.first_picked
    rate = o.confirmed / span if span > 0 else 0.0
    return Run(processes, rate, cpu / max(o.confirmed, 1), integrity(settings, ids, o))


def scaling(settings: Settings, processes: list[int], slots: int, orders_per_slot: int) -> None:
    for label, quote, execution in LATENCIES:
        print(f"\n== scaling out, {label}, {slots} slots per worker process, {orders_per_slot} orders per slot")
        base: float | None = None
        for n in processes:
            run = run_once(settings, n, slots, orders_per_slot, quote, execution)
            base = base if base is not None else run.rate
            print(
                f"   {n} x {slots}: {run.rate:7.2f} confirmed/s = {run.rate / base:4.2f}x of {processes[0]} x {slots}; "
                f"worker CPU {run.cpu_per_order * 1000:6.1f} ms per order ({run.summary})"
            )
