"""Routing: ask every enabled DEX for a quote at once and take the best output after fees."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from engine.metrics import QUOTE_ERRORS, QUOTE_SECONDS
from kernel.errors import EngineError, NoRoute, QuoteUnavailable, RejectedError, UnsupportedPair
from kernel.money import format_amount
from kernel.venues import DexAdapter, Quote, QuoteRequest

log = logging.getLogger("oee.routing")


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
class RoutingDecision:
    """The chosen quote, every quote considered, every DEX that failed to quote, and why."""

    best: Quote
    quotes: tuple[Quote, ...]
    failures: tuple[QuoteFailure, ...]
    reason: str


class Router:
    """Fans a quote request out to every adapter, each under its own timeout."""

    def __init__(self, adapters: Sequence[DexAdapter], quote_timeout_s: float) -> None:
        if not adapters:
            raise ValueError("routing needs at least one DEX adapter")
        self._adapters = tuple(adapters)
        self._timeout = quote_timeout_s

    @property
    def dexes(self) -> tuple[str, ...]:
        return tuple(a.name for a in self._adapters)

    async def route(self, request: QuoteRequest) -> RoutingDecision:
        results = await asyncio.gather(*(self._quote(a, request) for a in self._adapters))
        quotes = tuple(r for r in results if isinstance(r, Quote))
        failures = tuple(r for r in results if isinstance(r, QuoteFailure))
        if not quotes:
            summary = "; ".join(f"{f.dex}: {f.error}" for f in failures)
            if failures and all(isinstance(f.cause, UnsupportedPair) for f in failures):
                raise UnsupportedPair(f"no enabled DEX trades this pair ({summary})", context={"failures": failures})
            raise NoRoute(f"no DEX returned a quote ({summary})", context={"failures": failures})
        # Best output after fees; ties go to the lower price impact, then to the DEX name for determinism.
        best = max(quotes, key=lambda q: (q.amount_out, -q.price_impact_pct, q.dex))
        return RoutingDecision(best, quotes, failures, _reason(best, quotes, failures, request))

    async def _quote(self, adapter: DexAdapter, request: QuoteRequest) -> Quote | QuoteFailure:
        started = time.perf_counter()
        try:
            quote = await asyncio.wait_for(adapter.quote(request), self._timeout)
        except TimeoutError:
            err: EngineError = QuoteUnavailable(f"timed out after {int(self._timeout * 1000)} ms")
        except (QuoteUnavailable, RejectedError) as exc:
            err = exc
        else:
            QUOTE_SECONDS.labels(adapter.name).observe(time.perf_counter() - started)
            return quote
        elapsed = time.perf_counter() - started
        QUOTE_SECONDS.labels(adapter.name).observe(elapsed)
        QUOTE_ERRORS.labels(adapter.name, err.code).inc()
        return QuoteFailure(adapter.name, err, int(elapsed * 1000))


def _reason(best: Quote, quotes: Sequence[Quote], failures: Sequence[QuoteFailure], request: QuoteRequest) -> str:
    symbol = request.token_out.symbol
    decimals = request.token_out.decimals
    parts = [f"{best.dex} pays {format_amount(best.amount_out, decimals)} {symbol}"]
    others = sorted((q for q in quotes if q is not best), key=lambda q: -q.amount_out)
    for other in others:
        edge = Decimal(0)
        if other.amount_out:
            edge = (Decimal(best.amount_out) / Decimal(other.amount_out) - 1) * 100
        parts.append(
            f"vs {other.dex} {format_amount(other.amount_out, decimals)} {symbol} (+{edge.quantize(Decimal('0.001'))}%)"
        )
    for failure in failures:
        parts.append(f"{failure.dex} unavailable: {failure.error}")
    return "; ".join(parts) if len(parts) > 1 else parts[0] + " (only quote)"
