"""``oee demo``: start everything, submit orders at once, watch them live, print a summary."""

from __future__ import annotations

import asyncio
import time

from rich.console import Console
from rich.live import Live
from rich.text import Text

from kernel.settings import Settings
from tools.demo_orders import submit_and_follow
from tools.demo_view import Row, mode_line, order_table, print_summary

PAIRS = [
    ("SOL", "USDC", "1.5"), ("USDC", "SOL", "250"), ("SOL", "USDT", "0.75"), ("JUP", "USDC", "400"),
    ("SOL", "BONK", "0.2"), ("RAY", "SOL", "90"), ("USDT", "USDC", "1000"), ("BONK", "USDC", "2500000"),
    # Large enough that splitting over two pools pays; a pair no pool trades directly, so it hops.
    ("SOL", "USDC", "2000"), ("BONK", "RAY", "5000000"),
]  # fmt: skip
REFRESH_PER_SECOND = 8


# The orders go in at once, so each trades against pools the others have just moved (the 2,000 SOL order
# moves SOL/USDC by about 0.3%, and hops through USDC or SOL cross those pools): 1% covers that.
async def watch(base: str, key: str, n: int, console: Console) -> list[Row]:
    ws_base = "ws" + base[len("http") :]
    rows = [Row(*PAIRS[i % len(PAIRS)]) for i in range(n)]
    started = time.monotonic()
    # The table is rebuilt at each refresh, so it follows the terminal when the window is resized.
    with Live(
        get_renderable=lambda: order_table(rows, console.width, started),
        console=console,
        refresh_per_second=REFRESH_PER_SECOND,
    ):
        await asyncio.gather(*(submit_and_follow(base, ws_base, key, row) for row in rows))
    return rows


def run_demo(settings: Settings, *, orders: int, fast: bool, waiting: bool = True) -> int:
    from tools.keys import ensure_local_key, how_to_use
    from tools.processes import child_env, prepare_services, spawn, stop_processes, wait_for_api

    console = Console()
    console.print("[bold]order-execution-engine demo[/]: starting PostgreSQL, Redis, the API, a worker and a watcher…")
    services = prepare_services(settings)
    console.print(mode_line(services.settings))
    key, created = ensure_local_key(services.settings)
    console.print(Text(how_to_use(services.settings, created), style="dim"))
    port = services.settings.api_port  # API_PORT, or a free one (oee demo picks it before the checks)
    extra = {"API_PORT": str(port), "API_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING"}
    if fast:
        extra.update(SIMULATED_QUOTE_LATENCY_MS="0", SIMULATED_EXECUTION_LATENCY_MS="0")
    env = child_env(services.settings, **extra)
    children = [spawn(["api"], env), spawn(["worker"], env), spawn(["watcher"], env)]
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_api(base, children, healthy=True)
        except (RuntimeError, TimeoutError) as exc:
            console.print(Text(f"the engine did not become healthy: {exc}", style="red"))
            return 1
        console.print(f"engine up at {base}, docs at {base}/docs")
        console.print(f"submitting {orders} orders at once\n")
        started = time.monotonic()
        rows = asyncio.run(watch(base, key, orders, console))
        print_summary(rows, time.monotonic() - started, console)
        market_ok = all(r.status == "confirmed" for r in rows)
        if not waiting:
            return 0 if market_ok else 1
        from tools.demo_waiting import waiting_act, waiting_summary

        waiting_rows = asyncio.run(waiting_act(base, key, services.settings, console))
        return 0 if waiting_summary(waiting_rows, console) and market_ok else 1
    finally:
        stop_processes(children)
        services.stop()
