"""``oee demo`` as a user runs it: piped into a log, and live in a terminal of 80 and 100 columns."""

from __future__ import annotations

import io
import re
import select
import subprocess
import sys
import time

import pyte
import pytest
from ptyprocess import PtyProcess
from rich.console import Console

from engine.runtime import free_port
from tests.support import ROOT, base_env
from tools.demo_view import Row, edge_over_next, order_table

ORDERS = 8
DEMO = [sys.executable, "-m", "tools.cli", "demo", "--orders", str(ORDERS), "--fast"]
SUMMARY = re.compile(r"(\d+) orders: (\d+) confirmed, (\d+) failed")
SCREEN_ROWS = 40
# The emulated screen is taller than the terminal so that nothing scrolls off it: the live table moves
# the cursor relative to its own top, which renders the same on either.
EMULATED_ROWS = 400


def _demo_env(database_url: str, redis_url: str, queue: str, **extra: str) -> dict[str, str]:
    env = base_env(database_url, redis_url, QUEUE_NAME=queue, **extra)
    env.pop("OEE_SKIP_MIGRATIONS")
    return env


def test_demo_runs_orders_to_confirmation(database_url: str, redis_url: str) -> None:
    port = free_port()  # API_PORT set: the demo's API listens there
    env = _demo_env(database_url, redis_url, "oee:demo-test", COLUMNS="160", API_PORT=str(port))
    result = subprocess.run(DEMO, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"engine up at http://127.0.0.1:{port}," in result.stdout
    assert f"{ORDERS} orders: {ORDERS} confirmed, 0 failed" in result.stdout
    assert "routes won:" in result.stdout
    assert "network: simulated" in result.stdout


def _run_in_terminal(env: dict[str, str], columns: int, timeout: float = 180) -> tuple[int, bytes]:
    """Run the demo on a pseudo-terminal of ``columns`` x SCREEN_ROWS; its exit status and every byte it drew."""
    proc = PtyProcess.spawn(DEMO, cwd=str(ROOT), env=env, dimensions=(SCREEN_ROWS, columns))
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.fd], [], [], 1.0)
            if not ready:
                continue
            try:
                out += proc.read(65536)
            except EOFError:
                return proc.wait(), bytes(out)
        raise AssertionError(f"the demo did not finish in {timeout} s; last output: {out[-3000:]!r}")
    finally:
        if proc.isalive():
            proc.terminate(force=True)


def _final_frame(raw: bytes, columns: int) -> list[str]:
    screen = pyte.Screen(columns, EMULATED_ROWS)
    pyte.ByteStream(screen).feed(raw)
    return [line.rstrip() for line in screen.display]


@pytest.mark.parametrize("columns", [80, 100])
def test_demo_in_a_terminal_shows_one_line_per_order(database_url: str, redis_url: str, columns: int) -> None:
    env = _demo_env(database_url, redis_url, f"oee:demo-pty-{columns}", TERM="xterm-256color")
    for name in ("COLUMNS", "LINES", "NO_COLOR"):  # the terminal alone decides the size and colour
        env.pop(name, None)
    status, raw = _run_in_terminal(env, columns)
    lines = _final_frame(raw, columns)
    shown = "\n".join(lines).rstrip()
    assert b"Traceback" not in raw, shown
    assert status == 0, shown
    assert "network: simulated" in shown and "settlement: simulated ledger" in shown, shown

    summary = [i for i, line in enumerate(lines) if SUMMARY.search(line)]
    assert summary, shown
    match = SUMMARY.search(lines[summary[-1]])
    assert match is not None
    assert match.groups() == (str(ORDERS), str(ORDERS), "0"), shown

    # The final frame of the live table: its header row, then one line per order up to the summary. A row
    # wrapped onto a second line shows up as a line without the order's status.
    header = max(i for i, line in enumerate(lines[: summary[-1]]) if "pair" in line and "status" in line)
    body = [line for line in lines[header + 1 : summary[-1]] if line.strip(" ─━")]
    assert len(body) == ORDERS, shown
    assert all("confirmed" in line and "→" in line for line in body), shown
    assert all(len(line) <= columns for line in lines), shown


def _event(status: str, kind: str = "status", **data: object) -> dict[str, object]:
    return {"type": "event", "status": status, "kind": kind, "data": data}


def _watched_rows() -> list[Row]:
    confirmed = Row("SOL", "BONK", "0.2")
    confirmed.order_id = "2fad8263-0000-0000-0000-000000000000"
    quotes = [{"dex": "raydium", "amountOut": "1504541.44388"}, {"dex": "meteora", "amountOut": "1541977.39409"}]
    confirmed.apply(_event("building", dex="meteora", quotes=quotes))
    confirmed.apply(_event("confirmed", amountOut="1541977.39409", txHash="5uvSTyWcfe" * 8, settlement="simulated"))
    failed = Row("USDT", "USDC", "1000")
    failed.apply(_event("failed", code="quote_unavailable", reason="[/] no DEX returned a quote [bold]" * 4))
    retrying = Row("RAY", "SOL", "90")
    retrying.apply(_event("building", kind="retrying", nextAttempt=2, code="transaction_expired", reason="expired"))
    return [confirmed, failed, retrying, Row("BONK", "USDC", "2500000")]


def test_edge_is_how_much_more_the_chosen_venue_pays_than_the_next() -> None:
    quotes = [{"dex": "raydium", "amountOut": "230.758968"}, {"dex": "meteora", "amountOut": "220.78188"}]
    assert edge_over_next("raydium", quotes) == "+4.519%"
    assert edge_over_next("raydium", quotes[:1]) == "only"


@pytest.mark.parametrize("width", [60, 80, 100, 120, 200])
def test_table_keeps_one_line_per_order_and_numbers_whole(width: int) -> None:
    rows = _watched_rows()
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system=None)
    console.print(order_table(rows, width, started=time.monotonic()))
    lines = out.getvalue().splitlines()
    header = next(i for i, line in enumerate(lines) if "pair" in line and "status" in line)
    body = [line for line in lines[header + 1 :] if line.strip(" ─")]
    assert len(body) == len(rows), out.getvalue()
    assert all(len(line) <= width for line in lines), out.getvalue()
    assert "1541977.39409" in body[0] and "2500000" in body[3], out.getvalue()
    assert "failed" in body[1] and "retry 2" in body[2], out.getvalue()
    if width >= 80:
        assert "meteora" in body[0] and "+2.488%" in body[0] and "quote unavailable" in body[1], out.getvalue()
    if width >= 100:
        assert "2fad8263" in body[0] and "5uvSTyWc" in body[0], out.getvalue()
