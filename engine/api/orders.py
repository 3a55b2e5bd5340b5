"""The order's API schema, in one place: the documented request and summary, how a body is read into an
:class:`~kernel.orders.OrderSpec`, and how a stored order is shown.

A new order field is declared here three times, side by side: in :class:`ExecuteOrderRequest` (what clients
send, documented), in :func:`read_spec` (how it is read, bounded), and in :class:`OrderSummary` /
:func:`order_summary` (how it is shown). The fields a request accepts are the request model's own.

Limit and sniper terms, read into integer floors (prices are exact decimals; floors use integer fractions,
never ``float``):

- ``limitPrice`` (limit and sniper orders): units of tokenOut per unit of tokenIn, the one convention of every
  price here (``executedPrice`` too). The order fires once the quote for its whole size, after fees and price
  impact, pays ``ceil(limitPrice * amountIn)`` in raw units of tokenOut. A sniper may give ``minAmountOut``
  instead, the least it takes, in tokenOut's units; either becomes the same raw floor.
- ``expiresAt`` (ISO 8601 with a time zone) or ``expiresInS`` (whole seconds): exactly one, at most
  ``WAITING_MAX_S`` ahead.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, Literal

from pydantic import ConfigDict, Field

from engine.api.fields import (
    SLIPPAGE,
    Amount,
    Strict,
    TokenView,
    amount_in_field,
    decimal_text,
    iso,
    price_field,
    token_field,
)
from engine.api.validation import MAX_TOKEN_CHARS, read_amount, read_price, read_slippage, read_token
from engine.db.records import StoredOrder
from kernel.domain import OrderStatus, OrderType
from kernel.errors import FieldIssue, InvalidRequest
from kernel.money import U64_MAX, format_amount
from kernel.orders import LimitTerms, OrderSpec, SniperTerms
from kernel.tokens import Token, TokenRegistry

_EXAMPLE: dict[str, Any] = {
    "type": "market",
    "tokenIn": "SOL",
    "tokenOut": "USDC",
    "amountIn": "1.5",
    "slippageBps": 50,
}
_SECONDS = re.compile(r"^[0-9]{1,10}$")
_MAX_TIME_CHARS = 40
MAX_CLIENT_REF_CHARS = 64
CLIENT_REF_PATTERN = r"^[\x21-\x7e]{1,64}$"
_CLIENT_REF = re.compile(CLIENT_REF_PATTERN)
DEFAULT_MAX_WAIT_S = 30 * 24 * 3600


class QuoteRequest(Strict):
    """The body of ``POST /api/quotes``: what an order would ask, without placing it."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{k: v for k, v in _EXAMPLE.items() if k != "type"}]}
    )

    tokenIn: str = token_field("sold")
    tokenOut: str = token_field("bought")
    amountIn: Any = amount_in_field()
    slippageBps: int = SLIPPAGE


class ExecuteOrderRequest(QuoteRequest):
    """The body of ``POST /api/orders/execute``. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    type: Literal["market", "limit", "sniper"] = Field(
        default="market",
        description="`market` executes at once; `limit` waits until the quote for its whole size pays limitPrice; "
        "`sniper` waits for its pair's pool to open and fires at the first executable quote.",
    )
    limitPrice: Any = price_field(
        "Limit and sniper orders: the least units of tokenOut per unit of tokenIn; fires once the quote, after "
        "fees and impact, pays ceil(limitPrice * amountIn), and never fills below that. Optional for snipers."
    )
    minAmountOut: Any = price_field("Sniper orders, instead of limitPrice: the least tokenOut taken.")
    expiresAt: str | None = Field(
        default=None, max_length=40, description="Limit and sniper orders: when it expires (ISO 8601, with zone)."
    )
    expiresInS: int | None = Field(
        default=None, ge=1, description="Limit and sniper orders, instead of expiresAt: seconds until it expires."
    )
    clientRef: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CLIENT_REF_CHARS,
        pattern=CLIENT_REF_PATTERN,
        description="Your own reference for the order (1 to 64 visible ASCII characters), stored and returned.",
    )


QUOTE_FIELDS = tuple(QuoteRequest.model_fields)
ORDER_FIELDS = (
    "type",
    *QUOTE_FIELDS,
    *(f for f in ExecuteOrderRequest.model_fields if f not in (*QUOTE_FIELDS, "type")),
)
SNIPER_ONLY = ("minAmountOut",)
# Fields of earlier versions, refused with what replaced them.
REPLACED = {"maxPrice": "is replaced by limitPrice, in units of tokenOut per unit of tokenIn (1 / maxPrice)"}
EXPIRY = ("expiresAt", "expiresInS")


class Settlement(Strict):
    """Where the order's transaction settles: ``chain`` (a Solana cluster) or ``simulated`` (the simulated
    ledger, which moves no tokens); null until a transaction is built. ``note`` says why, when not as configured."""

    kind: Literal["simulated", "chain"] | None
    note: str | None


class OrderSummary(Strict):
    """An order as listings show it."""

    orderId: str
    type: str
    status: OrderStatus
    tokenIn: TokenView
    tokenOut: TokenView
    amountIn: str
    slippageBps: int
    dex: str | None
    minAmountOut: Amount
    amountOut: Amount
    executedPrice: str | None
    txHash: str | None
    failureReason: str | None
    settlement: Settlement
    limitPrice: str | None = Field(description="A limit or sniper order's price: tokenOut per tokenIn.")
    triggerMinOut: Amount = Field(description="The least the order's size must be quoted to pay before it fires.")
    expiresAt: str | None
    triggeredAt: str | None = Field(description="When a limit or sniper order fired.")
    createdAt: str | None
    updatedAt: str | None
    clientRef: str | None = Field(description="The client's own reference, as given; null when none was.")


def order_summary(order: StoredOrder) -> dict[str, Any]:
    """The fields every order listing shows."""
    spec = order.spec
    terms = spec.terms
    dout = spec.token_out.decimals
    return {
        "orderId": str(order.id),
        "type": spec.order_type.value,
        "status": order.status,
        "tokenIn": spec.token_in.as_dict(),
        "tokenOut": spec.token_out.as_dict(),
        "amountIn": format_amount(spec.amount_in, spec.token_in.decimals),
        "slippageBps": spec.slippage_bps,
        "dex": order.dex,
        "minAmountOut": format_amount(order.min_amount_out, dout),
        "amountOut": format_amount(order.amount_out, dout),
        "executedPrice": decimal_text(order.executed_price),
        "txHash": order.tx_signature,
        "failureReason": order.failure_reason,
        "settlement": {
            "kind": None if order.settlement_kind is None else order.settlement_kind.value,
            "note": order.settlement_note,
        },
        "limitPrice": None if terms is None else decimal_text(terms.limit_price),
        "triggerMinOut": format_amount(spec.trigger_min_out, dout),
        "expiresAt": iso(spec.expires_at),
        "triggeredAt": iso(order.triggered_at),
        "createdAt": iso(order.created_at),
        "updatedAt": iso(order.updated_at),
        "clientRef": spec.client_ref,
    }


def read_spec(
    payload: Any,
    tokens: TokenRegistry,
    default_slippage_bps: int,
    *,
    allowed: tuple[str, ...] = ORDER_FIELDS,
    max_wait_s: int = DEFAULT_MAX_WAIT_S,
    now: datetime | None = None,
) -> OrderSpec:
    """Check a parsed body into the order it asks; raises :class:`InvalidRequest` listing every problem found."""
    if not isinstance(payload, dict):
        raise InvalidRequest([FieldIssue("body", "must be a JSON object")])
    errors = [
        FieldIssue(name, REPLACED[name])
        if name in REPLACED
        else FieldIssue(name[:MAX_TOKEN_CHARS], f"is not a field of this request; known: {', '.join(allowed)}")
        for name in payload
        if name not in allowed
    ]
    raw_type = payload.get("type", OrderType.MARKET.value)
    order_type: OrderType | None = None
    if not isinstance(raw_type, str) or raw_type.lower() not in {t.value for t in OrderType}:
        errors.append(FieldIssue("type", "unsupported order type; one of market, limit, sniper"))
    else:
        order_type = OrderType(raw_type.lower())

    token_in = read_token(payload, "tokenIn", tokens, errors)
    token_out = read_token(payload, "tokenOut", tokens, errors)
    if token_in is not None and token_out is not None and token_in.mint == token_out.mint:
        errors.append(FieldIssue("tokenOut", "must differ from tokenIn"))
    amount_in: int | None = None
    if payload.get("amountIn") is None:
        errors.append(FieldIssue("amountIn", "is required"))
    elif token_in is not None:  # an amount means something only in the units of a known token
        amount_in = read_amount(payload, "amountIn", token_in, errors)
    slippage = read_slippage(payload, default_slippage_bps, errors)
    client_ref = payload.get("clientRef")
    if client_ref is not None and (not isinstance(client_ref, str) or not _CLIENT_REF.match(client_ref)):
        errors.append(FieldIssue("clientRef", f"must be 1 to {MAX_CLIENT_REF_CHARS} visible ASCII characters"))
    terms = None
    if order_type is not None:
        terms = _terms(
            payload, order_type, token_in, token_out, amount_in, errors, max_wait_s, now or datetime.now(UTC)
        )
    if errors:
        raise InvalidRequest(errors)
    assert token_in is not None and token_out is not None and amount_in is not None and slippage is not None
    return OrderSpec(token_in, token_out, amount_in, slippage, terms, client_ref)


def _terms(
    payload: dict[str, Any],
    order_type: OrderType,
    token_in: Token | None,
    token_out: Token | None,
    amount_in: int | None,
    errors: list[FieldIssue],
    max_wait_s: int,
    now: datetime,
) -> LimitTerms | SniperTerms | None:
    """The terms of a limit or sniper order (None for a market order), appending each problem to ``errors``."""
    present = {f for f in ("limitPrice", *SNIPER_ONLY, *EXPIRY) if payload.get(f) is not None}
    if not order_type.waits:
        errors.extend(FieldIssue(f, "is only for limit and sniper orders") for f in sorted(present))
        return None
    if order_type is OrderType.LIMIT:
        errors.extend(FieldIssue(f, "is not a field of limit orders") for f in SNIPER_ONLY if f in present)
    expires_at = _expiry(payload, now, max_wait_s, errors)
    known = token_in is not None and token_out is not None and amount_in is not None
    scale = Fraction(10**token_out.decimals, 10**token_in.decimals) if token_in and token_out else Fraction(1)
    floor: int | None = None
    limit_price = None
    if order_type is OrderType.LIMIT and "limitPrice" not in present:
        errors.append(FieldIssue("limitPrice", "is required for limit orders (units of tokenOut per tokenIn)"))
    elif order_type is OrderType.SNIPER and "limitPrice" in present and "minAmountOut" in present:
        errors.append(FieldIssue("minAmountOut", "give limitPrice or minAmountOut, not both"))
    elif "limitPrice" in present:
        if (limit_price := read_price(payload, "limitPrice", errors)) is not None and known:
            assert token_out is not None and amount_in is not None
            floor = _floor(Fraction(limit_price) * amount_in * scale, "limitPrice", token_out, errors)
    elif "minAmountOut" in present and token_out is not None:
        floor = read_amount(payload, "minAmountOut", token_out, errors)
    if expires_at is None or errors:
        return None
    if order_type is OrderType.LIMIT:
        assert limit_price is not None and floor is not None
        return LimitTerms(limit_price, floor, expires_at)
    return SniperTerms(expires_at, floor, limit_price)


def _expiry(payload: dict[str, Any], now: datetime, max_wait_s: int, errors: list[FieldIssue]) -> datetime | None:
    given = [f for f in EXPIRY if payload.get(f) is not None]
    if len(given) != 1:
        reason = "give exactly one of expiresAt or expiresInS" if given else "is required (or expiresAt)"
        errors.append(FieldIssue("expiresInS", reason))
        return None
    if given[0] == "expiresInS":
        text = getattr(payload["expiresInS"], "text", None)
        if text is None or not _SECONDS.match(text) or not 1 <= int(text) <= max_wait_s:
            errors.append(FieldIssue("expiresInS", f"must be a whole number of seconds from 1 to {max_wait_s}"))
            return None
        return now + timedelta(seconds=int(text))
    text = getattr(payload["expiresAt"], "text", payload["expiresAt"])
    try:
        if not isinstance(text, str) or len(text) > _MAX_TIME_CHARS:
            raise ValueError
        at = datetime.fromisoformat(text)
    except ValueError:
        errors.append(FieldIssue("expiresAt", "must be an ISO 8601 time with a time zone, e.g. 2030-01-01T00:00:00Z"))
        return None
    if at.tzinfo is None:
        errors.append(FieldIssue("expiresAt", "must carry a time zone (Z or +hh:mm)"))
        return None
    if at <= now:
        errors.append(FieldIssue("expiresAt", "is in the past"))
        return None
    if at > now + timedelta(seconds=max_wait_s):
        errors.append(FieldIssue("expiresAt", f"is more than {max_wait_s} seconds ahead"))
        return None
    return at.astimezone(UTC)


def _floor(raw: Fraction, name: str, token_out: Token, errors: list[FieldIssue]) -> int | None:
    floor = -(-raw.numerator // raw.denominator)
    if floor > U64_MAX:
        errors.append(FieldIssue(name, f"asks for more {token_out.symbol} than can exist"))
        return None
    return max(1, floor)
