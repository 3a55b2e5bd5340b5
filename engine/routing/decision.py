"""What routing decided: the candidates it weighed (single pools, a split, hops), the plan it chose, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from kernel.errors import EngineError, UnsupportedPair
from kernel.money import format_amount
from kernel.routes import RoutePlan
from kernel.venues import Quote, QuoteRequest


@dataclass(frozen=True, slots=True)
class QuoteFailure:
    """A DEX that did not quote, with the classified error it gave."""

    dex: str
    cause: EngineError
    latency_ms: int

    @property
    def code(self) -> str:
        return self.cause.code

    @property
    def error(self) -> str:
        return str(self.cause)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One route routing priced: ``kind`` is ``single``, ``split`` or ``hop``; ``label`` names its DEXes
    (``raydium``, ``raydium+meteora``, ``raydium>meteora via USDC``)."""

    kind: str
    label: str
    plan: RoutePlan
    quotes: tuple[Quote, ...] = ()  # a hop's legs' quotes

    @property
    def amount_out(self) -> int:
        return self.plan.amount_out


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """The chosen plan, every quote and candidate considered, every DEX that failed to quote, and why.

    ``best`` is the best single pool's quote (for a hop where no pool trades the pair directly, the hop's
    whole route summarised as one quote); ``plan`` is what executes, of one leg or more. ``gain_bps`` is what
    the plan pays over the best single pool.
    """

    best: Quote
    quotes: tuple[Quote, ...]
    failures: tuple[QuoteFailure, ...]
    reason: str
    plan: RoutePlan
    candidates: tuple[Candidate, ...] = ()
    label: str = ""

    @property
    def gain_bps(self) -> int:
        return self.plan.gain_bps

    @property
    def dex_label(self) -> str:
        """The DEX as an order shows it: the DEX of a single pool, else the plan's label."""
        return self.label or self.best.dex


# An order stores its DEX label in a column of 32 characters.
LABEL_MAX = 32


def plan_label(plan: RoutePlan) -> str:
    """``raydium`` for one leg, ``raydium+meteora`` (or ``raydium (2 pools)``) for a split, ``raydium>meteora via
    USDC`` for a hop."""
    firsts = [leg.dex for leg in plan.legs if leg.hop == 0]
    first = "+".join(dict.fromkeys(firsts))
    if len(firsts) > len(set(firsts)):
        first += f" ({len(firsts)} pools)"
    middle = plan.intermediate
    if middle is None:
        return first[:LABEL_MAX]
    second = "+".join(dict.fromkeys(leg.dex for leg in plan.legs if leg.hop))
    return f"{first}>{second} via {middle.symbol}"[:LABEL_MAX]


def single_reason(best: Quote, quotes: Sequence[Quote], failures: Sequence[QuoteFailure], request: QuoteRequest) -> str:
    """Why the best single pool won: what it pays, each other quote and how much less, each failure."""
    symbol = request.token_out.symbol
    decimals = request.token_out.decimals
    parts = [f"{best.dex} pays {format_amount(best.amount_out, decimals)} {symbol}"]
    parts.extend(_others(best, quotes, decimals, symbol))
    for failure in failures:
        parts.append(f"{failure.dex} unavailable: {failure.error}")
    return "; ".join(parts) if len(parts) > 1 else parts[0] + " (only quote)"


def plan_reason(
    chosen: Candidate,
    best: Quote | None,
    quotes: Sequence[Quote],
    failures: Sequence[QuoteFailure],
    request: QuoteRequest,
) -> str:
    """Why a split or a hop won: what it pays, its legs' shares, its gain over the best single pool."""
    symbol, decimals = request.token_out.symbol, request.token_out.decimals
    plan = chosen.plan
    head = f"{chosen.kind} {chosen.label} pays {format_amount(plan.amount_out, decimals)} {symbol}"
    if chosen.kind == "split":
        head += " (" + ", ".join(f"{leg.dex} {_pct(leg.share_bps)}%" for leg in plan.legs) + ")"
    parts = [head]
    if best is not None:
        parts.append(
            f"+{_pct(plan.gain_bps)}% over {best.dex} alone {format_amount(best.amount_out, decimals)} {symbol}"
        )
    else:
        parts.append(f"no pool trades {request.token_in.symbol}/{symbol} directly")
    for failure in failures:
        if best is None and isinstance(failure.cause, UnsupportedPair):
            continue  # said once above
        parts.append(f"{failure.dex} unavailable: {failure.error}")
    return "; ".join(parts)


def _pct(bps: int) -> str:
    return str((Decimal(bps) / 100).quantize(Decimal("0.01")))


def _others(best: Quote, quotes: Sequence[Quote], decimals: int, symbol: str) -> list[str]:
    parts = []
    for other in sorted((q for q in quotes if q is not best), key=lambda q: -q.amount_out):
        edge = Decimal(0)
        if other.amount_out:
            edge = (Decimal(best.amount_out) / Decimal(other.amount_out) - 1) * 100
        parts.append(
            f"vs {other.dex} {format_amount(other.amount_out, decimals)} {symbol} (+{edge.quantize(Decimal('0.001'))}%)"
        )
    return parts
