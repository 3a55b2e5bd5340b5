"""``oee demo``: start everything, submit orders at once, watch them live, print a summary."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import websockets
from rich.console import Console
from rich.live import Live
from rich.table import Table

from kernel.settings import Settings

PAIRS = [
    ("SOL", "USDC", "1.5"), ("USDC", "SOL", "250"), ("SOL", "USDT", "0.75"), ("JUP", "USDC", "400"),
    ("SOL", "BONK", "0.2"), ("RAY", "SOL", "90"), ("USDT", "USDC", "1000"), ("BONK", "USDC", "2500000"),
]  # fmt: skip
STYLE = {"pending": "dim", "routing": "cyan", "building": "blue", "submitted": "yellow",
         "confirmed": "bold green", "failed": "bold red"}  # fmt: skip


@dataclass
class Row:
    pair: str
    amount: str
    order_id: str = ""
    status: str = "sending"
    dex: str = ""
    reason: str = ""
    amount_out: str = ""
    tx: str = ""
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None


def _table(rows: list[Row]) -> Table:
    table = Table(title="Orders, live", expand=True)
    for col in ("order", "pair", "amount in", "status", "route", "amount out", "tx"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r.order_id[:8], r.pair, r.amount, f"[{STYLE.get(r.status, '')}]{r.status}[/]",
            r.reason or r.dex, r.amount_out, (r.tx[:10] + "…") if r.tx else "",
        )  # fmt: skip
    return table


async def _follow(base: str, ws_base: str, row: Row, token_in: str, token_out: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        r = await client.post(
            "/api/orders/execute", json={"tokenIn": token_in, "tokenOut": token_out, "amountIn": row.amount}
        )
    if r.status_code != 202:
        row.status, row.reason = "failed", r.text
        row.finished = time.monotonic()
        return
    row.order_id = r.json()["orderId"]
    row.status = "pending"
    async with websockets.connect(f"{ws_base}/ws/orders/{row.order_id}") as ws:
        try:
            async for raw in ws:
                m: dict[str, Any] = orjson.loads(raw)
                if m["type"] != "event":
                    continue
                data = m["data"]
                if m["kind"] == "status":
                    row.status = m["status"]
                if "reason" in data and m["status"] == "building":
                    row.dex, row.reason = data.get("dex", ""), data["reason"]
                if m["status"] == "confirmed":
                    row.amount_out = f"{data['amountOut']} {token_out}"
                    row.tx = data.get("txHash", "")
                if m["status"] == "failed":
                    row.reason = data.get("reason", "")
        except websockets.ConnectionClosed:
            pass
    row.finished = time.monotonic()


async def watch(base: str, n: int, console: Console) -> list[Row]:
    ws_base = "ws" + base[len("http") :]
    jobs: list[tuple[Row, str, str]] = []
    for i in range(n):
        token_in, token_out, amount = PAIRS[i % len(PAIRS)]
        jobs.append((Row(f"{token_in}→{token_out}", amount), token_in, token_out))
    rows = [j[0] for j in jobs]
    with Live(_table(rows), console=console, refresh_per_second=8) as live:
        tasks = [asyncio.create_task(_follow(base, ws_base, row, a, b)) for row, a, b in jobs]
        while not all(t.done() for t in tasks):
            live.update(_table(rows))
            await asyncio.sleep(0.125)
        live.update(_table(rows))
        await asyncio.gather(*tasks)
    return rows


def summarize(rows: list[Row], elapsed: float, console: Console) -> None:
    confirmed = [r for r in rows if r.status == "confirmed"]
    failed = [r for r in rows if r.status == "failed"]
    wins: dict[str, int] = {}
    for r in confirmed:
        wins[r.dex] = wins.get(r.dex, 0) + 1
    durations = [r.finished - r.started for r in confirmed if r.finished]
    console.print(f"\n[bold]{len(rows)} orders: {len(confirmed)} confirmed, {len(failed)} failed[/] in {elapsed:.1f} s")
    console.print("routes won: " + ", ".join(f"{dex} {count}" for dex, count in sorted(wins.items())))
    if durations:
        console.print(
            f"submit to confirmed: median {statistics.median(durations):.2f} s, slowest {max(durations):.2f} s"
        )
    for r in failed:
        console.print(f"[red]failed[/] {r.order_id[:8]} {r.pair}: {r.reason}")


def run_demo(settings: Settings, *, orders: int, fast: bool) -> int:
    from engine.runtime import free_port
    from tools.cli import _prepare, child_env, spawn
    from tools.processes import stop_processes, wait_for_api

    console = Console()
    console.print("[bold]order-execution-engine demo[/]: starting PostgreSQL, Redis, the API and a worker…")
    services = _prepare(settings)
    port = free_port()
    extra = {"API_PORT": str(port), "API_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING"}
    if fast:
        extra.update(SIMULATED_QUOTE_LATENCY_MS="0", SIMULATED_EXECUTION_LATENCY_MS="0")
    env = child_env(services.settings, **extra)
    children = [spawn(["api"], env), spawn(["worker"], env)]
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_api(base, children, healthy=True)
        except (RuntimeError, TimeoutError) as exc:
            console.print(f"[red]the engine did not become healthy: {exc}[/]")
            return 1
        console.print(f"engine up at {base} (docs at {base}/docs); submitting {orders} orders at once\n")
        started = time.monotonic()
        rows = asyncio.run(watch(base, orders, console))
        summarize(rows, time.monotonic() - started, console)
        return 0 if all(r.status == "confirmed" for r in rows) else 1
    finally:
        stop_processes(children)
        services.stop()
