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
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any, Literal

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
from kernel.orders import (
    DcaTerms,
    LimitTerms,
    OcoTerms,
    OrderSpec,
    PriorityFee,
    SniperTerms,
    StopTerms,
    TakeProfitTerms,
    Terms,
    TrailingStopTerms,
)
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
MAX_DCA_CHILDREN = 1000
MAX_PRIORITY_LAMPORTS = 10**9  # 1 SOL for one transaction's priority: far above any sane fee
_ONE_FEE_TERM: dict[str, Any] = {"minProperties": 1, "maxProperties": 1,
                                 "propertyNames": {"enum": ["maxLamports", "lamports"]}}  # fmt: skip
MAX_DCA_INTERVAL_S = 7 * 24 * 3600


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

    type: Literal["market", "limit", "sniper", "stop", "takeProfit", "trailingStop", "oco", "dca"] = Field(
        default="market",
        description="`market` executes at once; `limit` and `takeProfit` wait until the quote for their whole size "
        "pays limitPrice; `sniper` waits for its pair's pool to open and fires at the first executable quote; "
        "`stop` waits until the quote pays no more than stopPrice; `trailingStop` until it pays trailBps below "
        "the best quote since placement; `oco` is a takeProfit and a stop on one amount, firing once; `dca` places "
        "amountIn as `children` market orders, one every `intervalS` seconds.",
    )
    limitPrice: Any = price_field(
        "Limit and sniper orders: the least units of tokenOut per unit of tokenIn; fires once the quote, after "
        "fees and impact, pays ceil(limitPrice * amountIn), and never fills below that. Optional for snipers."
    )
    minAmountOut: Any = price_field("Sniper orders, instead of limitPrice: the least tokenOut taken.")
    stopPrice: Any = price_field(
        "Stop and OCO orders: units of tokenOut per unit of tokenIn; fires once the quote for the whole size pays "
        "floor(stopPrice * amountIn) or less, then executes within slippageBps of that quote."
    )
    trailBps: int | None = Field(
        default=None, ge=1, le=5000,
        description="Trailing stops: fires once the quote for the whole size pays this many basis points below "
        "the best quote seen since the order was placed.",
    )  # fmt: skip
    children: int | None = Field(
        default=None,
        ge=2,
        le=MAX_DCA_CHILDREN,
        description="DCA orders: how many market orders amountIn is split into.",
    )
    intervalS: int | None = Field(
        default=None, ge=1, le=MAX_DCA_INTERVAL_S, description="DCA orders: seconds between two children."
    )
    bandMin: Any = price_field(
        "DCA orders: a child is placed only while its quote pays at least this (tokenOut per tokenIn)."
    )
    bandMax: Any = price_field(
        "DCA orders: a child is placed only while its quote pays at most this (tokenOut per tokenIn)."
    )
    expiresAt: str | None = Field(
        default=None, max_length=40, description="Limit and sniper orders: when it expires (ISO 8601, with zone)."
    )
    expiresInS: int | None = Field(
        default=None, ge=1, description="Limit and sniper orders, instead of expiresAt: seconds until it expires."
    )
    # An object of one whole-lamport entry, written out inline (no $ref, so the body schema stands alone).
    priorityFee: dict[str, Annotated[int, Field(ge=1, le=MAX_PRIORITY_LAMPORTS)]] | None = Field(
        default=None,
        json_schema_extra={
            "minProperties": 1,
            "maxProperties": 1,
            "propertyNames": {"enum": ["maxLamports", "lamports"]},
        },
        description='What the order pays for priority on a cluster: `{"maxLamports": N}` caps the settlement\'s '
        'own estimate, `{"lamports": N}` pays exactly that (lamports for the whole transaction, 1 to '
        f"{MAX_PRIORITY_LAMPORTS:,}). Ignored by the simulated ledger.",
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
# The terms each waiting order type takes ("*" marks a required one), beside an expiry.
TYPE_TERMS: dict[OrderType, dict[str, bool]] = {
    OrderType.LIMIT: {"limitPrice": True},
    OrderType.TAKE_PROFIT: {"limitPrice": True},
    OrderType.SNIPER: {"limitPrice": False, "minAmountOut": False},
    OrderType.STOP: {"stopPrice": True},
    OrderType.TRAILING_STOP: {"trailBps": True},
    OrderType.OCO: {"limitPrice": True, "stopPrice": True},
    OrderType.DCA: {"children": True, "intervalS": True, "bandMin": False, "bandMax": False},
}
TERM_FIELDS = ("limitPrice", "minAmountOut", "stopPrice", "trailBps", "children", "intervalS", "bandMin", "bandMax")
_TYPES = {t.value.lower(): t for t in OrderType}
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
    limitPrice: str | None = Field(description="A limit, take-profit, sniper or OCO price: tokenOut per tokenIn.")
    stopPrice: str | None = Field(description="A stop or OCO order's stop price: tokenOut per tokenIn.")
    trailBps: int | None = Field(description="A trailing stop's distance below the best quote, in basis points.")
    triggerMaxOut: Amount = Field(description="The most the order's size may be quoted to pay for a stop to fire.")
    peakAmountOut: Amount = Field(description="A trailing stop: the best quote for its size seen so far.")
    children: int | None = Field(description="A DCA: how many market orders its amount is split into.")
    intervalS: int | None = Field(description="A DCA: seconds between two children.")
    childrenPlaced: int | None = Field(description="A DCA: the children placed so far.")
    bandMin: str | None = Field(
        description="A DCA's band: the least a child's quote pays per unit (tokenOut per tokenIn)."
    )
    bandMax: str | None = Field(
        description="A DCA's band: the most a child's quote pays per unit (tokenOut per tokenIn)."
    )
    parentId: str | None = Field(description="A DCA child: the DCA order that placed it.")
    triggerMinOut: Amount = Field(description="The least the order's size must be quoted to pay before it fires.")
    expiresAt: str | None
    triggeredAt: str | None = Field(description="When a limit or sniper order fired.")
    createdAt: str | None
    updatedAt: str | None
    clientRef: str | None = Field(description="The client's own reference, as given; null when none was.")
    priorityFee: dict[str, int] | None = Field(
        default=None,
        description="The order's priority fee terms, as given ({maxLamports} or {lamports}); null: the estimate.",
    )


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
        "limitPrice": decimal_text(getattr(terms, "limit_price", None)),
        "stopPrice": decimal_text(getattr(terms, "stop_price", None)),
        "trailBps": getattr(terms, "trail_bps", None),
        "triggerMaxOut": format_amount(spec.trigger_max_out, dout),
        "peakAmountOut": format_amount(getattr(terms, "peak_out", None), dout),
        "children": getattr(terms, "children", None),
        "intervalS": getattr(terms, "interval_s", None),
        "childrenPlaced": getattr(terms, "placed", None),
        "bandMin": decimal_text(getattr(terms, "band_min", None)),
        "bandMax": decimal_text(getattr(terms, "band_max", None)),
        "parentId": None if order.parent_id is None else str(order.parent_id),
        "triggerMinOut": format_amount(spec.trigger_min_out, dout),
        "expiresAt": iso(spec.expires_at),
        "triggeredAt": iso(order.triggered_at),
        "createdAt": iso(order.created_at),
        "updatedAt": iso(order.updated_at),
        "clientRef": spec.client_ref,
        "priorityFee": _priority_view(spec.priority_fee),
    }


def _priority_view(fee: PriorityFee | None) -> dict[str, int] | None:
    if fee is None:
        return None
    return {"maxLamports": fee.max_lamports} if fee.max_lamports is not None else {"lamports": int(fee.lamports or 0)}


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
    order_type = _TYPES.get(raw_type.lower()) if isinstance(raw_type, str) else None
    if order_type is None:
        errors.append(FieldIssue("type", f"unsupported order type; one of {', '.join(t.value for t in OrderType)}"))

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
    priority = _priority(payload.get("priorityFee"), errors)
    terms = None
    if order_type is not None:
        terms = _terms(
            payload, order_type, token_in, token_out, amount_in, errors, max_wait_s, now or datetime.now(UTC)
        )
    if errors:
        raise InvalidRequest(errors)
    assert token_in is not None and token_out is not None and amount_in is not None and slippage is not None
    return OrderSpec(token_in, token_out, amount_in, slippage, terms, client_ref, priority)


def _terms(
    payload: dict[str, Any],
    order_type: OrderType,
    token_in: Token | None,
    token_out: Token | None,
    amount_in: int | None,
    errors: list[FieldIssue],
    max_wait_s: int,
    now: datetime,
) -> Terms | None:
    """The terms of a waiting order (None for a market order), appending each problem to ``errors``."""
    present = {f for f in (*TERM_FIELDS, *EXPIRY) if payload.get(f) is not None}
    if not order_type.waits:
        errors.extend(FieldIssue(f, "is only for waiting orders (limit, sniper, stop...)") for f in sorted(present))
        return None
    takes = TYPE_TERMS[order_type]
    errors.extend(FieldIssue(f, f"is not a field of {order_type.value} orders") for f in TERM_FIELDS
                  if f in present and f not in takes)  # fmt: skip
    for name, required in takes.items():
        if required and name not in present:
            unit = " (units of tokenOut per tokenIn)" if name.endswith("Price") else ""
            errors.append(FieldIssue(name, f"is required for {order_type.value} orders{unit}"))
    if order_type is OrderType.DCA:
        return _dca(payload, amount_in, present, errors)
    expires_at = _expiry(payload, now, max_wait_s, errors)
    known = token_in is not None and token_out is not None and amount_in is not None
    scale = Fraction(10**token_out.decimals, 10**token_in.decimals) if token_in and token_out else Fraction(1)
    worth = Fraction(amount_in or 0) * scale  # a price times this is raw units of tokenOut

    def level(name: str, *, up: bool) -> tuple[Decimal | None, int | None]:
        """A price term and the raw amount out it stands for: rounded up for a floor, down for a stop."""
        if name not in present or name not in takes:
            return None, None
        price = read_price(payload, name, errors)
        if price is None or not known:
            return price, None
        assert token_out is not None
        raw = Fraction(price) * worth
        return price, _floor(raw if up else Fraction(int(raw)), name, token_out, errors)

    limit_price, floor = level("limitPrice", up=True)
    stop_price, stop_out = level("stopPrice", up=False)
    if order_type is OrderType.SNIPER and "limitPrice" in present and "minAmountOut" in present:
        errors.append(FieldIssue("minAmountOut", "give limitPrice or minAmountOut, not both"))
    elif order_type is OrderType.SNIPER and "minAmountOut" in present and token_out is not None:
        floor = read_amount(payload, "minAmountOut", token_out, errors)
    if floor is not None and stop_out is not None and stop_out >= floor:
        errors.append(FieldIssue("stopPrice", "must be below limitPrice (a stop fires on a fall, the other on a rise)"))
    trail_bps = None
    if "trailBps" in present and "trailBps" in takes:
        trail_bps = _whole(payload, "trailBps", 1, 5000, "basis points", errors)
    if expires_at is None or errors:
        return None
    match order_type:
        case OrderType.LIMIT | OrderType.TAKE_PROFIT:
            assert limit_price is not None and floor is not None
            kind = LimitTerms if order_type is OrderType.LIMIT else TakeProfitTerms
            return kind(limit_price, floor, expires_at)
        case OrderType.SNIPER:
            return SniperTerms(expires_at, floor, limit_price)
        case OrderType.STOP:
            assert stop_price is not None and stop_out is not None
            return StopTerms(stop_price, stop_out, expires_at)
        case OrderType.TRAILING_STOP:
            assert trail_bps is not None
            return TrailingStopTerms(trail_bps, expires_at)
        case OrderType.OCO:
            assert limit_price is not None and floor is not None and stop_price is not None and stop_out is not None
            return OcoTerms(limit_price, floor, stop_price, stop_out, expires_at)
    raise AssertionError(order_type)


def _priority(value: Any, errors: list[FieldIssue]) -> PriorityFee | None:
    """``{"maxLamports": N}`` or ``{"lamports": N}``, whole lamports from 1 to :data:`MAX_PRIORITY_LAMPORTS`."""
    if value is None:
        return None
    reason = f'must be {{"maxLamports": N}} or {{"lamports": N}}, N whole lamports from 1 to {MAX_PRIORITY_LAMPORTS}'
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in ("maxLamports", "lamports"):
        errors.append(FieldIssue("priorityFee", reason))
        return None
    ((name, number),) = value.items()
    text = getattr(number, "text", None)
    if text is None or not _SECONDS.match(text) or not 1 <= int(text) <= MAX_PRIORITY_LAMPORTS:
        errors.append(FieldIssue("priorityFee", reason))
        return None
    return PriorityFee(max_lamports=int(text)) if name == "maxLamports" else PriorityFee(lamports=int(text))


def _whole(payload: dict[str, Any], name: str, low: int, high: int, what: str, errors: list[FieldIssue]) -> int | None:
    text = getattr(payload.get(name), "text", None)
    if text is None or not _SECONDS.match(text) or not low <= int(text) <= high:
        errors.append(FieldIssue(name, f"must be a whole number of {what} from {low} to {high}"))
        return None
    return int(text)


def _dca(
    payload: dict[str, Any], amount_in: int | None, present: set[str], errors: list[FieldIssue]
) -> DcaTerms | None:
    """A DCA's schedule: it has no expiry (it ends with its last child), and every child buys something."""
    errors.extend(FieldIssue(f, "is not a field of dca orders (a DCA ends with its last child)")
                  for f in EXPIRY if f in present)  # fmt: skip
    children = _whole(payload, "children", 2, MAX_DCA_CHILDREN, "orders", errors) if "children" in present else None
    interval = (
        _whole(payload, "intervalS", 1, MAX_DCA_INTERVAL_S, "seconds", errors) if "intervalS" in present else None
    )
    low = read_price(payload, "bandMin", errors) if "bandMin" in present else None
    high = read_price(payload, "bandMax", errors) if "bandMax" in present else None
    if low is not None and high is not None and low >= high:
        errors.append(FieldIssue("bandMax", "must be above bandMin"))
    if children is not None and amount_in is not None and amount_in // children < 1:
        errors.append(FieldIssue("children", f"leaves a child less than one raw unit of tokenIn; at most {amount_in}"))
    if errors or children is None or interval is None:
        return None
    return DcaTerms(children, interval, low, high)


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
