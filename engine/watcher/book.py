"""One pair's waiting orders, ordered by trigger price, priced on the DEXes' snapshots with no I/O.

An order fires once the best DEX's exact-in quote for its whole size pays at least its trigger floor
(``trigger_min_out``: a limit's ``ceil(limitPrice * amountIn)``, a sniper's cap, or nothing). Orders are kept
sorted by the rate that floor asks (raw out per raw in), most lenient first, and walked in that order.

Stopping early: on every DEX a larger size never pays more per unit than a smaller one (fees and price impact
only grow with size), so no order can be quoted a better rate than the book's smallest size is, give or take
the integer rounding of that one quote. Once the walk reaches an order asking more than that bound, every
later order asks more still, and the walk stops without pricing them.
"""

from __future__ import annotations

import bisect
import heapq
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from engine.db.waiting import WaitingOrder
from kernel.domain import OrderType
from kernel.errors import EngineError
from kernel.venues import Quote
from kernel.watching import PairSnapshot


@dataclass(frozen=True, slots=True)
class Fire:
    """An order that may fire now: the best quote for its size, and the floor its execution keeps to."""

    order: WaitingOrder
    quote: Quote
    execute_min_out: int


@dataclass(frozen=True, slots=True)
class Pricing:
    """What one walk of the book did: the orders that may fire, and how many sizes it priced."""

    fires: list[Fire]
    priced: int
    open_dexes: int


def _rate(order: WaitingOrder) -> Fraction:
    return Fraction(order.spec.trigger_min_out or 0, order.spec.amount_in)


def execution_floor(order: WaitingOrder, quote: Quote) -> int:
    """A limit order keeps its limit floor; a sniper the first executable quote less its slippage, and never
    below its cap."""
    spec = order.spec
    if spec.order_type is OrderType.LIMIT and spec.trigger_min_out is not None:
        return spec.trigger_min_out
    return max(spec.trigger_min_out or 0, quote.min_amount_out(spec.slippage_bps))


class PairBook:
    """The waiting orders of one pair (token in, token out), sorted by the rate their floor asks."""

    def __init__(self) -> None:
        self._keys: list[tuple[Fraction, uuid.UUID]] = []
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
            bisect.insort(self._keys, (_rate(order), order.id))
            heapq.heappush(self._expiries, (order.expires_at, order.id))
            added += 1
        return added

    def remove(self, order_ids: Sequence[uuid.UUID]) -> None:
        """Forget orders (fired, expired, cancelled); unknown IDs are ignored."""
        for order_id in order_ids:
            order = self._orders.pop(order_id, None)
            if order is None:
                continue
            key = (_rate(order), order_id)
            at = bisect.bisect_left(self._keys, key)
            if at < len(self._keys) and self._keys[at] == key:
                del self._keys[at]
        # Expiry entries of removed orders are dropped lazily, as they surface.

    def replace(self, orders: Sequence[WaitingOrder]) -> None:
        """Hold exactly ``orders`` (a re-read from PostgreSQL)."""
        self._keys, self._orders, self._expiries = [], {}, []
        self.add(orders)

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

    def price(self, snapshots: Sequence[PairSnapshot]) -> Pricing:
        """Walk the book from the most lenient floor over the open DEXes' snapshots; no I/O."""
        dexes = [s for s in snapshots if s.pool is not None and s.opens is None]
        if not dexes or not self._keys:
            return Pricing([], 0, len(dexes))
        priced = 0
        smallest = min(o.spec.amount_in for o in self._orders.values())
        bound_quote = _best(dexes, smallest)
        priced += 1
        bound: Fraction | None = None  # no DEX fills the smallest size (too small to buy a unit): walk them all
        if bound_quote is not None:
            # The best rate any size can be quoted, with room for the rounding of one integer quote.
            out = bound_quote.amount_out
            bound = Fraction(out + 2 + 2 * -(-out // smallest), smallest)
        fires: list[Fire] = []
        for rate, order_id in self._keys:
            if bound is not None and rate > bound:
                break  # every order after this one asks more than any size can be quoted
            order = self._orders[order_id]
            if order.spec.amount_in == smallest:
                quote = bound_quote
            else:
                quote = _best(dexes, order.spec.amount_in)
                priced += 1
            if quote is None:
                continue
            floor = order.spec.trigger_min_out
            if floor is None or quote.amount_out >= floor:
                fires.append(Fire(order, quote, execution_floor(order, quote)))
        return Pricing(fires, priced, len(dexes))


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
