"""One pair's waiting orders, ordered by trigger price, priced on the DEXes' snapshots with no I/O.

An order fires on the best DEX's exact-in quote for its whole size:

- **on a rise** (limit, take-profit, sniper, an OCO's take-profit): once the quote pays at least its floor
  (``trigger_min_out``; a sniper may have none, and takes any executable quote);
- **on a fall** (stop, an OCO's stop): once the quote pays at most ``trigger_max_out``;
- **trailing** (trailing stop): once the quote pays ``trail_bps`` below the best quote its size was given since
  it was placed (the peak, which the book keeps and reports when it rises, so a restart resumes from it).

Orders are kept sorted by the rate their level asks (raw out per raw in) and walked from the one nearest to
firing. Stopping early: on every DEX a larger size never pays more per unit than a smaller one (fees and
price impact only grow with size), so no size is quoted a better rate than the book's smallest size is, nor a
worse one than its largest, give or take the integer rounding of one quote. A rise walk stops at the first
floor above the first bound, a fall walk at the first stop below the second: every later order asks more
still, and is not priced. An OCO sits in both walks and fires once, on whichever side is met first.
"""

from __future__ import annotations

import bisect
import heapq
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from engine.db.waiting import WaitingOrder
from kernel.domain import OrderType
from kernel.errors import EngineError
from kernel.orders import LimitTerms, OcoTerms, TrailingStopTerms
from kernel.venues import Quote
from kernel.watching import PairSnapshot


@dataclass(frozen=True, slots=True)
class Fire:
    """An order that may fire now: the best quote for its size, the floor its execution keeps to, and what
    fired it (``rise``, ``fall`` or ``trail``)."""

    order: WaitingOrder
    quote: Quote
    execute_min_out: int
    side: str = "rise"
    peak: int | None = None  # a trailing stop's peak it fired below


@dataclass(frozen=True, slots=True)
class Pricing:
    """What one walk of the book did: the orders that may fire, how many sizes it priced, and the trailing
    stops whose peak rose (order ID to the new peak, raw)."""

    fires: list[Fire]
    priced: int
    open_dexes: int
    peaks: dict[uuid.UUID, int] = field(default_factory=dict)


def _rises(order: WaitingOrder) -> bool:
    return order.spec.trigger_min_out is not None or order.spec.order_type is OrderType.SNIPER


def _falls(order: WaitingOrder) -> bool:
    return order.spec.trigger_max_out is not None


def _trails(order: WaitingOrder) -> bool:
    return isinstance(order.spec.terms, TrailingStopTerms)


def _rate(order: WaitingOrder) -> Fraction:
    return Fraction(order.spec.trigger_min_out or 0, order.spec.amount_in)


def _stop_rate(order: WaitingOrder) -> Fraction:
    """Negated, so the highest stop (the first to fire as prices fall) sorts first."""
    return -Fraction(order.spec.trigger_max_out or 0, order.spec.amount_in)


def execution_floor(order: WaitingOrder, quote: Quote, side: str = "rise") -> int:
    """A limit or take-profit (an OCO fired on its rise too) keeps its floor; a sniper the first executable
    quote less its slippage, never below its cap; a stop or trailing stop the quote it fired on less its
    slippage."""
    spec = order.spec
    from_quote = quote.min_amount_out(spec.slippage_bps)
    if side != "rise":
        return from_quote
    if isinstance(spec.terms, LimitTerms | OcoTerms):
        return spec.trigger_min_out or from_quote
    return max(spec.trigger_min_out or 0, from_quote)


class PairBook:
    """The waiting orders of one pair (token in, token out), sorted by the rate their level asks."""

    def __init__(self) -> None:
        self._keys: list[tuple[Fraction, uuid.UUID]] = []
        self._stops: list[tuple[Fraction, uuid.UUID]] = []
        self._trailing: dict[uuid.UUID, WaitingOrder] = {}
        self._peaks: dict[uuid.UUID, int] = {}
        self._orders: dict[uuid.UUID, WaitingOrder] = {}
        self._expiries: list[tuple[datetime, uuid.UUID]] = []

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def add(self, orders: Sequence[WaitingOrder]) -> int:
        """Add orders not held yet; returns how many were new."""
        added = 0
        for order in orders:
            if order.id in self._orders:
                continue
            self._orders[order.id] = order
            if _rises(order):
                bisect.insort(self._keys, (_rate(order), order.id))
            if _falls(order):
                bisect.insort(self._stops, (_stop_rate(order), order.id))
            if _trails(order):
                self._trailing[order.id] = order
                peak = getattr(order.spec.terms, "peak_out", None)
                if peak is not None:
                    self._peaks[order.id] = max(peak, self._peaks.get(order.id, 0))
            heapq.heappush(self._expiries, (order.expires_at, order.id))
            added += 1
        return added

    def remove(self, order_ids: Sequence[uuid.UUID]) -> None:
        """Forget orders (fired, expired, cancelled); unknown IDs are ignored."""
        for order_id in order_ids:
            order = self._orders.pop(order_id, None)
            if order is None:
                continue
            for keys, key in ((self._keys, (_rate(order), order_id)), (self._stops, (_stop_rate(order), order_id))):
                at = bisect.bisect_left(keys, key)
                if at < len(keys) and keys[at] == key:
                    del keys[at]
            self._trailing.pop(order_id, None)
            self._peaks.pop(order_id, None)
        # Expiry entries of removed orders are dropped lazily, as they surface.

    def replace(self, orders: Sequence[WaitingOrder]) -> None:
        """Hold exactly ``orders`` (a re-read from PostgreSQL); the peaks seen stay with the orders still held."""
        peaks = self._peaks
        self._keys, self._stops, self._trailing, self._peaks, self._orders, self._expiries = [], [], {}, {}, {}, []
        self.add(orders)
        for order_id, peak in peaks.items():
            if order_id in self._trailing:
                self._peaks[order_id] = max(peak, self._peaks.get(order_id, 0))

    def due(self, now: datetime) -> list[WaitingOrder]:
        """Orders whose expiry is at or before ``now`` (they stay held until removed)."""
        found: list[WaitingOrder] = []
        while self._expiries and self._expiries[0][0] <= now:
            _, order_id = heapq.heappop(self._expiries)
            order = self._orders.get(order_id)
            if order is not None:
                found.append(order)
        return found

    def next_expiry(self) -> datetime | None:
        """The earliest expiry of an order still held."""
        while self._expiries and self._expiries[0][1] not in self._orders:
            heapq.heappop(self._expiries)
        return self._expiries[0][0] if self._expiries else None

    def peak(self, order_id: uuid.UUID) -> int | None:
        """A trailing stop's best quote seen so far (raw), or None before its first."""
        return self._peaks.get(order_id)

    def price(self, snapshots: Sequence[PairSnapshot]) -> Pricing:
        """Walk the book over the open DEXes' snapshots, from the orders nearest to firing; no I/O."""
        dexes = [s for s in snapshots if s.pool is not None and s.opens is None]
        if not dexes or not self._orders:
            return Pricing([], 0, len(dexes))
        quotes: dict[int, Quote | None] = {}  # by size: one pricing per size per update

        def best(amount_in: int) -> Quote | None:
            if amount_in not in quotes:
                quotes[amount_in] = _best(dexes, amount_in)
            return quotes[amount_in]

        fired: dict[uuid.UUID, Fire] = {}
        self._walk_rises(best, fired)
        self._walk_falls(best, fired)
        peaks = self._walk_trailing(best, fired)
        return Pricing(list(fired.values()), len(quotes), len(dexes), peaks)

    def _walk_rises(self, best: Callable[[int], Quote | None], fired: dict[uuid.UUID, Fire]) -> None:
        if not self._keys:
            return
        smallest = min(self._orders[i].spec.amount_in for _, i in self._keys)
        bound_quote = best(smallest)
        bound: Fraction | None = None  # no DEX fills the smallest size (too small to buy a unit): walk them all
        if bound_quote is not None:
            # The best rate any size can be quoted, with room for the rounding of one integer quote.
            out = bound_quote.amount_out
            bound = Fraction(out + 2 + 2 * -(-out // smallest), smallest)
        for rate, order_id in self._keys:
            if bound is not None and rate > bound:
                break  # every order after this one asks more than any size can be quoted
            order = self._orders[order_id]
            quote = best(order.spec.amount_in)
            if quote is None:
                continue
            floor = order.spec.trigger_min_out
            if floor is None or quote.amount_out >= floor:
                fired[order_id] = Fire(order, quote, execution_floor(order, quote))

    def _walk_falls(self, best: Callable[[int], Quote | None], fired: dict[uuid.UUID, Fire]) -> None:
        if not self._stops:
            return
        largest = max(self._orders[i].spec.amount_in for _, i in self._stops)
        bound_quote = best(largest)
        bound: Fraction | None = None  # no DEX fills the largest size: walk them all
        if bound_quote is not None:
            # The worst rate any smaller size can be quoted, with room for the rounding of one integer quote.
            out = bound_quote.amount_out
            bound = Fraction(max(0, out - 2 - 2 * -(-out // largest)), largest)
        for negated, order_id in self._stops:
            if bound is not None and -negated < bound:
                break  # every later stop sits lower than any size is quoted now
            if order_id in fired:
                continue  # an OCO whose take-profit fired on this update
            order = self._orders[order_id]
            quote = best(order.spec.amount_in)
            ceiling = order.spec.trigger_max_out
            if quote is not None and ceiling is not None and quote.amount_out <= ceiling:
                fired[order_id] = Fire(order, quote, execution_floor(order, quote, "fall"), "fall")

    def _walk_trailing(self, best: Callable[[int], Quote | None], fired: dict[uuid.UUID, Fire]) -> dict[uuid.UUID, int]:
        risen: dict[uuid.UUID, int] = {}
        for order_id, order in self._trailing.items():
            quote = best(order.spec.amount_in)
            terms = order.spec.terms
            if quote is None or not isinstance(terms, TrailingStopTerms):
                continue
            peak = self._peaks.get(order_id)
            if peak is None or quote.amount_out > peak:
                self._peaks[order_id] = peak = quote.amount_out
                risen[order_id] = peak
            if quote.amount_out <= peak * (10_000 - terms.trail_bps) // 10_000:
                fired[order_id] = Fire(order, quote, execution_floor(order, quote, "trail"), "trail", peak)
        return risen


def _best(dexes: Sequence[PairSnapshot], amount_in: int) -> Quote | None:
    """The DEX quote paying most for ``amount_in`` (ties: lower impact), or None when none can fill it."""
    best: Quote | None = None
    for snapshot in dexes:
        try:
            quote = snapshot.quote(amount_in)
        except EngineError:
            continue  # this DEX cannot fill this size (too small, too deep): the others may
        if best is None or (quote.amount_out, -quote.price_impact_pct) > (best.amount_out, -best.price_impact_pct):
            best = quote
    return best
