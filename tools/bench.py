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
import sys

from kernel.logs import setup_logging
from kernel.settings import LatencyRange, Settings, load_settings
from tools.bench_engine import Engine, drive, integrity, outcome, pct
from tools.processes import stop_on_signals


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
    stop_on_signals()  # a stopped bench still stops the processes and servers it started
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
