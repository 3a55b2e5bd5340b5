"""An order as the engine knows it: what the client asked, as typed terms, money in raw integer units.

:class:`OrderSpec` is written once at the edge (the API parses a body into it) and read back by every layer
(storage maps it onto columns, the worker executes it, the watcher waits on it, the presenter shows it).
A market order has no terms; every waiting order (limit, take-profit, sniper, stop, trailing stop, OCO)
carries its own terms type, so a field of one order type cannot appear on another. A new field of an order
is added here, in the API's order schema, in the storage mapping and in a migration, and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from kernel.domain import OrderType
from kernel.tokens import Token

# A field whose metadata says ``request=False`` is not part of what makes two submissions the same request:
# an expiry given as "in 60 s" is another instant for each retry of one submission.
_NOT_REQUEST = {"request": False}


@dataclass(frozen=True, slots=True)
class LimitTerms:
    """A limit order fires once the quote for its whole size pays ``trigger_min_out`` (raw units of the token
    out, ``ceil(limit_price * amount_in)``) and never fills below it. ``limit_price`` is the client's, in units
    of the token out per unit of the token in."""

    limit_price: Decimal
    trigger_min_out: int
    expires_at: datetime = field(metadata=_NOT_REQUEST)

    order_type = OrderType.LIMIT


@dataclass(frozen=True, slots=True)
class SniperTerms:
    """A sniper waits for its pair's pool to open and fires at the first executable quote paying at least
    ``trigger_min_out`` (``ceil(limit_price * amount_in)``, ``limit_price`` in units of the token out per unit of
    the token in as every price is, or the client's own minimum out); None takes any quote within the slippage."""

    expires_at: datetime = field(metadata=_NOT_REQUEST)
    trigger_min_out: int | None = None
    limit_price: Decimal | None = None

    order_type = OrderType.SNIPER


@dataclass(frozen=True, slots=True)
class TakeProfitTerms(LimitTerms):
    """A take-profit fires as a limit order does, once its size pays ``trigger_min_out``, and never fills below
    it: the name says why it was placed (to sell into a rise), the engine treats it as a limit."""

    order_type = OrderType.TAKE_PROFIT


@dataclass(frozen=True, slots=True)
class StopTerms:
    """A stop fires once the best quote for its whole size pays at most ``trigger_max_out`` (raw units of the
    token out, ``floor(stop_price * amount_in)``, ``stop_price`` in units of the token out per unit in), then
    executes like a market order from that quote, within its slippage."""

    stop_price: Decimal
    trigger_max_out: int
    expires_at: datetime = field(metadata=_NOT_REQUEST)

    order_type = OrderType.STOP


@dataclass(frozen=True, slots=True)
class TrailingStopTerms:
    """A trailing stop follows the best quote for its whole size since it was placed (``peak_out``, raw, kept
    by the watcher) and fires once a quote pays at most ``trail_bps`` below that peak, then executes like a
    stop. The peak is state, not part of the request."""

    trail_bps: int
    expires_at: datetime = field(metadata=_NOT_REQUEST)
    peak_out: int | None = field(default=None, metadata=_NOT_REQUEST)

    order_type = OrderType.TRAILING_STOP

    def stop_out(self) -> int | None:
        """The quote at or below which it fires now: ``floor(peak * (1 - trail))``; None before any quote."""
        if self.peak_out is None:
            return None
        return self.peak_out * (10_000 - self.trail_bps) // 10_000


@dataclass(frozen=True, slots=True)
class OcoTerms:
    """One cancels the other: a take-profit at ``limit_price`` and a stop at ``stop_price`` on one amount. The
    order fires once, at whichever is met first (its event says which), so the other can never fire too."""

    limit_price: Decimal
    trigger_min_out: int
    stop_price: Decimal
    trigger_max_out: int
    expires_at: datetime = field(metadata=_NOT_REQUEST)

    order_type = OrderType.OCO


@dataclass(frozen=True, slots=True)
class DcaTerms:
    """Dollar-cost averaging: the order's amount placed as ``children`` market orders, one every ``interval_s``
    seconds from acceptance, each only while the quote for its size is within the band (``band_min`` to
    ``band_max``, units of the token out per unit in, either optional); outside it the schedule pauses.
    ``placed`` counts the children placed so far (state, kept by the scheduler). It has no expiry: it ends with
    its last child, or a cancel, which stops the rest."""

    children: int
    interval_s: int
    band_min: Decimal | None = None
    band_max: Decimal | None = None
    placed: int = field(default=0, metadata=_NOT_REQUEST)

    order_type = OrderType.DCA
    expires_at: None = None

    def child_amount(self, amount_in: int, index: int) -> int:
        """The raw amount of child ``index`` (from 0): equal shares, the last taking what rounding left."""
        share = amount_in // self.children
        return amount_in - share * (self.children - 1) if index == self.children - 1 else share


Terms = LimitTerms | SniperTerms | StopTerms | TrailingStopTerms | OcoTerms | DcaTerms

MICRO_LAMPORTS_PER_LAMPORT = 1_000_000


@dataclass(frozen=True, slots=True)
class PriorityFee:
    """What an order pays for priority on a cluster, in lamports for the whole transaction: at most
    ``max_lamports`` on top of the settlement's own estimate (auto, capped), or exactly ``lamports``. The
    compute-unit price follows from the transaction's compute-unit limit, rounded down so the fee never exceeds
    what was asked."""

    max_lamports: int | None = None
    lamports: int | None = None

    def unit_price(self, estimate: int, cu_limit: int) -> int:
        """The micro-lamports per compute unit to pay, given the settlement's ``estimate`` for that price."""
        if self.lamports is not None:
            return self.lamports * MICRO_LAMPORTS_PER_LAMPORT // max(1, cu_limit)
        if self.max_lamports is not None:
            return min(estimate, self.max_lamports * MICRO_LAMPORTS_PER_LAMPORT // max(1, cu_limit))
        return estimate


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """What a client asked: sell ``amount_in`` raw units of ``token_in`` for ``token_out`` within
    ``slippage_bps``, at once (no ``terms``) or on a trigger (``terms``). ``client_ref`` is the client's own
    reference for the order, kept and returned as given."""

    token_in: Token
    token_out: Token
    amount_in: int
    slippage_bps: int
    terms: Terms | None = None
    client_ref: str | None = None
    priority_fee: PriorityFee | None = None

    @property
    def order_type(self) -> OrderType:
        return OrderType.MARKET if self.terms is None else self.terms.order_type

    @property
    def waits(self) -> bool:
        """Whether the order waits for a trigger before it executes."""
        return self.terms is not None

    @property
    def trigger_min_out(self) -> int | None:
        """The least the order's size must be quoted to pay before it fires on a rise (limit, take-profit,
        sniper, an OCO's take-profit); None: no such level (a sniper's: any executable quote)."""
        return getattr(self.terms, "trigger_min_out", None)

    @property
    def trigger_max_out(self) -> int | None:
        """The most the order's size may be quoted to pay for it to fire on a fall (stop, an OCO's stop)."""
        return getattr(self.terms, "trigger_max_out", None)

    @property
    def expires_at(self) -> datetime | None:
        return None if self.terms is None else self.terms.expires_at

    def same_request(self, other: OrderSpec) -> bool:
        """Whether ``other`` asks for the same order: every field of the request, tokens by mint."""
        return bool(_request_key(self) == _request_key(other))


def _request_key(value: Any) -> Any:
    if isinstance(value, Token):
        return value.mint
    if hasattr(value, "__dataclass_fields__"):
        return (
            type(value).__name__,
            tuple(_request_key(getattr(value, f.name)) for f in fields(value) if f.metadata.get("request", True)),
        )
    return value
