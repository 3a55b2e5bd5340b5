"""The fields of limit and sniper orders: a limit price or a cap, and an expiry, checked into integer floors.

- ``limitPrice`` (limit orders): units of tokenOut per unit of tokenIn. The order fires once the quote for its
  whole size, after fees and price impact, pays ``ceil(limitPrice * amountIn)`` in raw units of tokenOut.
- ``maxPrice`` (sniper orders): units of tokenIn per unit of tokenOut, the most the sniper pays; or
  ``minAmountOut``, the least it takes, in tokenOut's units. Either becomes the same raw floor.
- ``expiresAt`` (ISO 8601 with a time zone) or ``expiresInS`` (whole seconds): exactly one, at most
  ``WAITING_MAX_S`` ahead.

Prices are read as exact decimals and floors computed with integer fractions, never ``float``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from engine.db.records import WaitingTerms
from engine.watcher.launch import positive_decimal
from kernel.domain import OrderType
from kernel.errors import FieldIssue
from kernel.money import U64_MAX
from kernel.tokens import Token

_SECONDS = re.compile(r"^[0-9]{1,10}$")
_MAX_TIME_CHARS = 40
LIMIT_ONLY = ("limitPrice",)
SNIPER_ONLY = ("maxPrice", "minAmountOut")
EXPIRY = ("expiresAt", "expiresInS")


def _text(value: object) -> str | None:
    text = getattr(value, "text", value)
    return text if isinstance(text, str) else None


def _expiry(payload: dict[str, Any], now: datetime, max_wait_s: int, errors: list[FieldIssue]) -> datetime | None:
    given = [f for f in EXPIRY if payload.get(f) is not None]
    if len(given) != 1:
        reason = "give exactly one of expiresAt or expiresInS" if given else "is required (or expiresAt)"
        errors.append(FieldIssue("expiresInS", reason))
        return None
    if given[0] == "expiresInS":
        value = payload["expiresInS"]
        text = value.text if hasattr(value, "text") else None
        if text is None or not _SECONDS.match(text) or not 1 <= int(text) <= max_wait_s:
            errors.append(FieldIssue("expiresInS", f"must be a whole number of seconds from 1 to {max_wait_s}"))
            return None
        return now + timedelta(seconds=int(text))
    text = _text(payload["expiresAt"])
    try:
        if text is None or len(text) > _MAX_TIME_CHARS:
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


def _price(payload: dict[str, Any], name: str, errors: list[FieldIssue]) -> Decimal | None:
    try:
        return positive_decimal(payload[name])
    except ValueError as exc:
        errors.append(FieldIssue(name, str(exc)))
        return None


def _floor(raw: Fraction, name: str, token_out: Token, errors: list[FieldIssue]) -> int | None:
    floor = -(-raw.numerator // raw.denominator)
    if floor > U64_MAX:
        errors.append(FieldIssue(name, f"asks for more {token_out.symbol} than can exist"))
        return None
    return max(1, floor)


def waiting_terms(
    payload: dict[str, Any],
    order_type: OrderType,
    token_in: Token | None,
    token_out: Token | None,
    amount_in: int | None,
    errors: list[FieldIssue],
    *,
    max_wait_s: int,
    now: datetime | None = None,
) -> WaitingTerms | None:
    """The terms of a limit or sniper order (None for a market order), appending each problem to ``errors``."""
    present = {f for f in (*LIMIT_ONLY, *SNIPER_ONLY, *EXPIRY) if payload.get(f) is not None}
    if not order_type.waits:
        errors.extend(FieldIssue(f, "is only for limit and sniper orders") for f in sorted(present))
        return None
    wrong = SNIPER_ONLY if order_type is OrderType.LIMIT else LIMIT_ONLY
    errors.extend(FieldIssue(f, f"is not a field of {order_type.value} orders") for f in wrong if f in present)
    expires_at = _expiry(payload, now or datetime.now(UTC), max_wait_s, errors)
    known = token_in is not None and token_out is not None and amount_in is not None
    scale = Fraction(10**token_out.decimals, 10**token_in.decimals) if token_in and token_out else Fraction(1)
    floor: int | None = None
    limit_price = max_price = None
    if order_type is OrderType.LIMIT:
        if "limitPrice" not in present:
            errors.append(FieldIssue("limitPrice", "is required for limit orders (units of tokenOut per tokenIn)"))
        elif (limit_price := _price(payload, "limitPrice", errors)) is not None and known:
            assert token_out is not None and amount_in is not None
            floor = _floor(Fraction(limit_price) * amount_in * scale, "limitPrice", token_out, errors)
    else:
        if "maxPrice" in present and "minAmountOut" in present:
            errors.append(FieldIssue("minAmountOut", "give maxPrice or minAmountOut, not both"))
        elif "maxPrice" in present:
            if (max_price := _price(payload, "maxPrice", errors)) is not None and known:
                assert token_out is not None and amount_in is not None
                floor = _floor(Fraction(amount_in) * scale / Fraction(max_price), "maxPrice", token_out, errors)
        elif "minAmountOut" in present and token_out is not None:
            from engine.api.validation import scale_amount

            try:
                floor = scale_amount(payload["minAmountOut"], token_out.decimals)
            except ValueError as exc:
                reason = f"{exc} ({token_out.symbol} has {token_out.decimals} decimals)"
                errors.append(FieldIssue("minAmountOut", reason))
    if expires_at is None:
        return None
    return WaitingTerms(expires_at=expires_at, trigger_min_out=floor, limit_price=limit_price, max_price=max_price)
