"""An order as the engine knows it: what the client asked, as typed terms, money in raw integer units.

:class:`OrderSpec` is written once at the edge (the API parses a body into it) and read back by every layer
(storage maps it onto columns, the worker executes it, the watcher waits on it, the presenter shows it).
A market order has no terms; a limit or sniper order carries its own terms type, so a field of one order
type cannot appear on another. A new field of an order is added here, in the API's order schema, in the
storage mapping and in a migration, and nowhere else.
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


Terms = LimitTerms | SniperTerms


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

    @property
    def order_type(self) -> OrderType:
        return OrderType.MARKET if self.terms is None else self.terms.order_type

    @property
    def waits(self) -> bool:
        """Whether the order waits for a trigger before it executes."""
        return self.terms is not None

    @property
    def trigger_min_out(self) -> int | None:
        """The least the order's size must be quoted to pay before it fires (None: any executable quote)."""
        return None if self.terms is None else self.terms.trigger_min_out

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
