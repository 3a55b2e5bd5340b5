"""``make bench-waiting``: what waiting orders cost the watcher: 3 limits, 1,000 limits, 1,000 trigger orders.

It runs the real API and one watcher process (no worker: nothing fires), places limit orders over three
pairs with limits far above the market, so they keep waiting, and measures over ``--seconds``:
  watcher CPU   - the watcher process's CPU time (user + system) per second of wall time;
  venue reads   - snapshot reads per second per pair (one per venue per update, whatever the order count);
  sizes priced  - order sizes priced on those snapshots per second, with no I/O;
  venue I/O     - the venues' own calls per second: the simulated venues make no RPC call, their one I/O is
                  a Redis read of the shared market feed per snapshot.
It runs twice, with one order per pair and with ``--orders`` over the same pairs, to show what the orders
themselves add. ``--routing onchain`` (or ``both``, the default) runs the same on Raydium CPMM pools on a
localnet, counting the watcher's RPC calls where they arrive (:mod:`tools.bench_waiting_chain`). Figures are
measured on this machine each run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from typing import Any

from kernel.logs import setup_logging
from kernel.settings import Settings, load_settings
from tools.bench_engine import Engine
from tools.processes import stop_on_signals
from tools.waiting_load import (
    PAIRS,
    cancel,
    far_orders,
    far_triggers,
    measure,
)


def print_run(result: dict[str, Any]) -> None:
    pairs = {name: p for name, p in result["pairs"].items() if p["waiting"]}
    waiting = sum(p["waiting"] for p in pairs.values())
    print(f"  {waiting} waiting orders over {len(pairs)} pairs: watcher CPU {result['cpu'] * 1000:.1f} ms per second")
    for name, p in sorted(pairs.items()):
        print(f"    {p['name'] or name:>9}: {p['waiting']:4d} orders, {p['reads']:.1f} venue "
              f"reads/s ({p['updates']:.1f} updates/s), {p['priced']:.1f} sizes priced/s")  # fmt: skip
    io = ", ".join(f"{k} {v:.1f}/s" for k, v in sorted(result["io"].items()))
    print(f"    venue I/O (Redis reads of the simulated feed, RPC calls: 0): {io}")


def run(settings: Settings, orders: int, seconds: float) -> None:
    engine = Engine(settings, 10, "0", "0")
    engine.env["OEE_NAMESPACE"] = f"oee:bench-waiting:{os.getpid()}"
    print(f"\n== waiting orders: one watcher process, simulated venues polled every "
          f"{settings.simulated_watch_poll_ms} ms ==")  # fmt: skip
    ids: list[str] = []
    try:
        engine.start_api()
        watcher = subprocess.Popen([sys.executable, "-m", "tools.cli", "watcher"], env=engine.env)
        engine.procs.append(watcher)
        small = asyncio.run(measure(engine, watcher.pid, settings, far_orders(len(PAIRS)), seconds, ids))
        print_run(small)
        large = asyncio.run(measure(engine, watcher.pid, settings, far_orders(orders - len(PAIRS)), seconds, ids))
        print_run(large)
        print(f"  the same {orders} orders on one pair, every one within reach so each update prices them all:")
        walked = asyncio.run(measure(engine, watcher.pid, settings, None, seconds, ids))
        print_run(walked)
        reads_small = sum(p["reads"] for p in small["pairs"].values())
        reads_large = sum(p["reads"] for p in large["pairs"].values())
        print(f"  venue reads with {orders} orders: {reads_large:.1f}/s; with {len(PAIRS)}: {reads_small:.1f}/s "
              "(one loop per pair, not one per order)")  # fmt: skip
        asyncio.run(cancel(engine, ids))
        ids.clear()
        print(f"  {orders} stops, take-profits, OCOs and trailing stops over the same pairs, all far from the market:")
        triggers = asyncio.run(measure(engine, watcher.pid, settings, far_triggers(orders), seconds, ids))
        print_run(triggers)
        reads_triggers = sum(p["reads"] for p in triggers["pairs"].values())
        print(f"  venue reads with {orders} trigger orders: {reads_triggers:.1f}/s; with {orders} limits: "
              f"{reads_large:.1f}/s")  # fmt: skip
    finally:
        if ids and engine.procs:
            asyncio.run(cancel(engine, ids))
        engine.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_waiting", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000, help="waiting orders in the second run")
    parser.add_argument("--seconds", type=float, default=10, help="measuring window of each run")
    parser.add_argument("--routing", choices=("simulated", "onchain", "both"), default="both",
                        help="the simulated venues, Raydium CPMM pools on a localnet, or both in turn")  # fmt: skip
    args = parser.parse_args(argv)
    stop_on_signals()  # a stopped bench still stops the processes and servers it started
    setup_logging("WARNING")
    from engine.runtime import resolve_services, run_migrations

    services = resolve_services(load_settings())
    run_migrations(services.settings)
    try:
        if args.routing in ("simulated", "both"):
            run(services.settings, args.orders, args.seconds)
        if args.routing in ("onchain", "both"):
            from tools.bench_waiting_chain import run_onchain

            run_onchain(services.settings, args.orders, args.seconds)
    finally:
        services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
