"""What ``oee demo`` draws: the mode it runs in, the live order table fitted to the terminal, the summary.

Every cell is a ``Text``, never markup: order data (a failure reason, an error body) may hold brackets,
and an empty style must not become a tag. Rows never wrap. The table keeps the columns a trader needs
most and drops the others as the terminal narrows; numbers are shown whole, and only free text (the
route note, a signature) is shortened with an ellipsis.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from kernel.settings import Network, Settings

STYLE = {"sending": "dim", "waiting": "yellow", "expired": "dim", "cancelled": "dim",
         "pending": "dim", "routing": "cyan", "building": "blue", "submitted": "yellow",
         "retrying": "magenta", "confirmed": "bold green", "failed": "bold red"}  # fmt: skip
DONE = ("confirmed", "failed", "expired", "cancelled")
GAP = 2  # between two cells: the box's blank separator and one of padding (collapsed, none at the edges)
TX_SHOWN = 10  # characters of a signature in the table; enough to tell transactions apart
ROUTE_GROWS = 8  # room for what went wrong ("insufficient liquidity") beside the venue and its edge
DEX_SHOWN = 8  # the longest venue name and a space
EDGE_SHOWN = 8  # "+12.345%"


@dataclass
class Row:
    """One order as the demo sees it, updated from its WebSocket events."""

    token_in: str
    token_out: str
    amount: str
    order_id: str = ""
    status: str = "sending"
    dex: str = ""
    edge: str = ""  # how much more the chosen venue pays than the next best, e.g. "+4.519%"
    problem: str = ""  # what went wrong, in a few words (an error code): shown in the table
    reason: str = ""  # the same in full: shown in the summary
    attempt: int = 1
    amount_out: str = ""
    tx: str = ""
    settlement: str = ""
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def pair(self) -> str:
        return f"{self.token_in}→{self.token_out}"

    def elapsed(self, now: float) -> float:
        return (self.finished or now) - self.started

    def apply(self, message: dict[str, Any]) -> None:
        """Take in one WebSocket event of this order."""
        data: dict[str, Any] = message.get("data") or {}
        if message.get("kind") == "retrying":
            self.status, self.attempt = "retrying", int(data.get("nextAttempt", self.attempt + 1))
            self._problem(data)
            return
        if message.get("kind") != "status":
            return
        self.status = str(message.get("status", self.status))
        if self.status not in ("failed", "waiting"):
            self.problem = self.reason = ""  # a waiting order's note (what it waits for) stays until it fires
        if self.status == "building":
            self.dex = str(data.get("dex", ""))
            self.edge = edge_over_next(self.dex, data.get("quotes") or [])
            plan = data.get("routePlan") or {}
            if plan.get("kind", "single") != "single":
                # A split or a hop: its gain over the best single pool, or "only" when no pool trades the pair.
                singles = [c for c in plan.get("candidates") or [] if c.get("kind") == "single"]
                self.edge = f"{int(plan.get('gainBps', 0)) / 100:+.3f}%" if singles else "only"
        elif self.status in ("submitted", "confirmed"):
            self.tx = str(data.get("txHash", self.tx))
            self.settlement = str(data.get("settlement", self.settlement))
            if self.status == "confirmed":
                self.amount_out = str(data.get("amountOut", ""))
        elif self.status == "failed":
            self._problem(data)

    def _problem(self, data: dict[str, Any]) -> None:
        self.reason = str(data.get("reason", ""))
        self.problem = str(data.get("code", "")).replace("_", " ") or self.reason

    def fail(self, problem: str, reason: str) -> None:
        self.status, self.problem, self.reason, self.finished = "failed", problem, reason, time.monotonic()


def edge_over_next(chosen: str, quotes: Sequence[dict[str, Any]]) -> str:
    """The chosen venue's payout over the next best quote, in percent (quotes as the ``building`` event has them)."""
    try:
        paid = {str(q["dex"]): Decimal(str(q["amountOut"])) for q in quotes}
    except (KeyError, InvalidOperation):
        return ""
    best = paid.pop(chosen, None)
    others = [v for v in paid.values() if v > 0]
    if best is None or not others:
        return "only" if best is not None else ""
    return f"{(best / max(others) - 1) * 100:+.3f}%"


Cell = Callable[[Row, float], RenderableType]


@dataclass(frozen=True)
class Column:
    header: str
    cell: Cell
    width: int  # the widest usual value: the layout stays put as values arrive
    keep: int  # lower is kept longer as the terminal narrows
    justify: Literal["left", "right"] = "left"
    whole: Callable[[Row, float], str] | None = None  # what is never shortened (numbers): the column fits its widest
    grows: int = 0  # how much of the width the others leave it takes, at most
    header_right: str = ""  # a second header, above the right end of the cells

    @property
    def heading(self) -> RenderableType:
        return _spread(Text(self.header), Text(self.header_right)) if self.header_right else self.header

    @property
    def heading_width(self) -> int:
        return len(self.header) + (1 + len(self.header_right) if self.header_right else 0)


def _text(value: str, style: str = "") -> Text:
    return Text(value, style=style)


def _spread(left: Text, right: Text) -> Table:
    """``left`` and ``right`` at the two ends of a cell, however wide the cell is."""
    grid = Table.grid(expand=True)
    grid.add_column(no_wrap=True, overflow="ellipsis")
    grid.add_column(justify="right", no_wrap=True)
    grid.add_row(left, right)
    return grid


def _status(r: Row, now: float) -> Text:
    shown = f"retry {r.attempt}" if r.status == "retrying" else r.status
    return _text(shown, STYLE.get(r.status, ""))


def _route(r: Row, now: float) -> RenderableType:
    """The venue and, next to the amounts, how much more it pays; or what went wrong."""
    if r.problem:
        return _text(r.problem, STYLE.get(r.status, ""))
    return _spread(
        _text(r.dex, "bold" if r.status == "confirmed" else ""),
        _text(r.edge, "green" if r.edge.startswith("+") else "dim"),
    )


def _elapsed(r: Row, now: float) -> Text:
    if r.status == "sending":
        return _text("")
    return _text(f"{r.elapsed(now):.2f} s", "" if r.finished else "dim")


COLUMNS = [
    Column("order", lambda r, now: _text(r.order_id[:8], "dim"), 8, keep=6),
    Column("pair", lambda r, now: _text(r.pair, "bold"), 9, keep=0),
    Column("amount in", lambda r, now: _text(r.amount), 9, keep=1, justify="right", whole=lambda r, now: r.amount),
    Column("status", _status, 9, keep=0),
    Column(
        "route",
        _route,
        DEX_SHOWN + EDGE_SHOWN,
        keep=2,
        header_right="edge",
        grows=ROUTE_GROWS,
        whole=lambda r, now: f"{r.dex} {r.edge}",
    ),
    Column(
        "amount out",
        lambda r, now: _text(r.amount_out, "bold"),
        13,
        keep=1,
        justify="right",
        whole=lambda r, now: r.amount_out,
    ),
    Column("time", _elapsed, 7, keep=4, justify="right", whole=lambda r, now: _elapsed(r, now).plain),
    Column("tx", lambda r, now: _text(r.tx, "dim"), TX_SHOWN, keep=5),
]


def fit_columns(rows: Sequence[Row], width: int, now: float) -> list[tuple[Column, int]]:
    """The columns that fit in ``width``, each with its width, in display order."""
    needed = []
    for col in COLUMNS:
        values = [len(col.whole(r, now)) for r in rows] if col.whole else []
        needed.append(max([col.width, col.heading_width, *values]))
    kept: set[int] = set()
    used = -GAP
    for i in sorted(range(len(COLUMNS)), key=lambda i: COLUMNS[i].keep):
        if used + GAP + needed[i] > width and kept:
            break  # and every column kept less than this one
        kept.add(i)
        used += GAP + needed[i]
    fitted = []
    spare = max(width - used, 0)
    for i in sorted(kept):
        extra = min(spare, COLUMNS[i].grows)
        spare -= extra
        fitted.append((COLUMNS[i], needed[i] + extra))
    return fitted


def order_table(rows: Sequence[Row], width: int, started: float) -> Table:
    """The live table for a terminal ``width`` columns wide: one line per order."""
    now = time.monotonic()
    counts = Counter(r.status for r in rows)
    title = Text.assemble(
        ("orders", "bold"), f"  {counts['confirmed']}/{len(rows)} confirmed",
        (f"  {counts['failed']} failed", "red" if counts["failed"] else "dim"), f"  {now - started:.1f} s",
    )  # fmt: skip
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    columns = fit_columns(rows, width, now)
    for col, col_width in columns:
        # A fixed width, at least that of the widest number: only free text is ever cut, with an ellipsis.
        table.add_column(col.heading, justify=col.justify, no_wrap=True, overflow="ellipsis", width=col_width)
    for r in rows:
        table.add_row(*(col.cell(r, now) for col, _ in columns))
    return table


def mode_line(settings: Settings) -> Text:
    """Where the demo's orders route and settle, from the settings the engine runs with."""
    dexes = ", ".join(settings.enabled_dexes)
    network = settings.solana_network
    if network is Network.SIMULATED:
        parts = ["network: simulated", "settlement: simulated ledger", f"DEXes: {dexes}"]
    elif settings.routing == "onchain":
        parts = [f"network: {network.value} at {settings.rpc_url}", "settlement: Solana transactions",
                 f"DEXes: {dexes} (on-chain pools)"]  # fmt: skip
    else:
        parts = [f"network: {network.value} at {settings.rpc_url}",
                 "settlement: Solana transactions carrying the simulated fill (the simulated ledger while "
                 "the wallet cannot pay fees)", f"DEXes: {dexes}"]  # fmt: skip
    return Text(" · ".join(parts))


def print_summary(rows: Sequence[Row], elapsed: float, console: Console) -> None:
    confirmed = [r for r in rows if r.status == "confirmed"]
    failed = [r for r in rows if r.status != "confirmed"]
    console.print()
    console.print(
        Text.assemble(
            (f"{len(rows)} orders: {len(confirmed)} confirmed, {len(failed)} failed", "bold"), f" in {elapsed:.1f} s"
        )
    )
    wins = Counter(r.dex for r in confirmed)
    console.print(Text("routes won: " + ", ".join(f"{dex} {n}" for dex, n in sorted(wins.items()))))
    settled = Counter(r.settlement or "unknown" for r in confirmed)
    console.print(Text("settled: " + ", ".join(f"{n} {_settled_on(kind)}" for kind, n in sorted(settled.items()))))
    durations = [r.elapsed(r.finished) for r in confirmed if r.finished]
    if durations:
        console.print(
            Text(f"submit to confirmed: median {statistics.median(durations):.2f} s, slowest {max(durations):.2f} s")
        )
    for r in failed:
        console.print(Text.assemble(("failed ", "red"), f"{r.order_id[:8] or '-'} {r.pair}: {r.reason or r.problem}"))


def _settled_on(kind: str) -> str:
    return {"simulated": "on the simulated ledger", "chain": "on chain"}.get(kind, f"by {kind}")
