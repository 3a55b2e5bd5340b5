"""Validating an order request: every problem is reported with the field it concerns and why.

The body is parsed with ``Decimal`` for JSON numbers, so ``"amountIn": 0.1`` is exactly one tenth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from kernel.domain import OrderType
from kernel.money import AmountError, to_raw
from kernel.tokens import Token, TokenRegistry

MAX_SLIPPAGE_BPS = 5000
MAX_BODY_BYTES = 16 * 1024


class ExecuteOrderRequest(BaseModel):
    """The body of ``POST /api/orders/execute`` (documentation; validation is :func:`validate_order`)."""

    type: str = Field(default="market", description="Order type. Only `market` is executed today.")
    tokenIn: str = Field(description="Symbol (SOL, USDC, ...) or mint address of the token sold.")
    tokenOut: str = Field(description="Symbol or mint address of the token bought.")
    amountIn: str = Field(description="Amount of tokenIn, as a decimal string (a JSON number is also accepted).")
    slippageBps: int = Field(default=50, ge=1, le=MAX_SLIPPAGE_BPS, description="Slippage tolerance, basis points.")


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ValidOrder:
    order_type: OrderType
    token_in: Token
    token_out: Token
    amount_in: int
    amount_in_text: str
    slippage_bps: int


class InvalidOrder(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


def parse_body(body: bytes) -> Any:
    if len(body) > MAX_BODY_BYTES:
        raise InvalidOrder([FieldError("body", f"is larger than {MAX_BODY_BYTES} bytes")])
    if not body.strip():
        raise InvalidOrder([FieldError("body", "is empty; send a JSON object")])
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidOrder([FieldError("body", f"is not valid JSON: {exc}")]) from exc


def validate_order(payload: Any, tokens: TokenRegistry, default_slippage_bps: int) -> ValidOrder:
    """Check a parsed body; raises :class:`InvalidOrder` listing every problem found."""
    if not isinstance(payload, dict):
        raise InvalidOrder([FieldError("body", "must be a JSON object")])
    errors: list[FieldError] = []

    raw_type = payload.get("type", OrderType.MARKET.value)
    order_type: OrderType | None = None
    if not isinstance(raw_type, str) or raw_type.lower() not in {t.value for t in OrderType}:
        errors.append(FieldError("type", "unsupported order type; `market` is the type executed today"))
    else:
        order_type = OrderType(raw_type.lower())

    token_in = _token(payload, "tokenIn", tokens, errors)
    token_out = _token(payload, "tokenOut", tokens, errors)
    if token_in is not None and token_out is not None and token_in.mint == token_out.mint:
        errors.append(FieldError("tokenOut", "must differ from tokenIn"))

    amount_in: int | None = None
    amount_text = ""
    raw_amount = payload.get("amountIn")
    if raw_amount is None:
        errors.append(FieldError("amountIn", "is required"))
    elif isinstance(raw_amount, bool) or not isinstance(raw_amount, str | int | Decimal):
        errors.append(FieldError("amountIn", "must be a decimal string or number"))
    elif token_in is not None:
        try:
            amount_in = to_raw(raw_amount, token_in.decimals)
            amount_text = str(raw_amount).strip()
        except AmountError as exc:
            errors.append(FieldError("amountIn", f"{exc} ({token_in.symbol} has {token_in.decimals} decimals)"))

    slippage = payload.get("slippageBps", default_slippage_bps)
    if isinstance(slippage, bool) or not isinstance(slippage, int | Decimal | str):
        errors.append(FieldError("slippageBps", "must be an integer number of basis points"))
        slippage = None
    else:
        try:
            as_decimal = Decimal(str(slippage))
        except ArithmeticError:
            as_decimal = Decimal("NaN")
        if not as_decimal.is_finite() or as_decimal != as_decimal.to_integral_value():
            errors.append(FieldError("slippageBps", "must be an integer number of basis points"))
            slippage = None
        elif not 1 <= int(as_decimal) <= MAX_SLIPPAGE_BPS:
            errors.append(FieldError("slippageBps", f"must be between 1 and {MAX_SLIPPAGE_BPS}"))
            slippage = None
        else:
            slippage = int(as_decimal)

    if errors:
        raise InvalidOrder(errors)
    assert order_type is not None and token_in is not None and token_out is not None
    assert amount_in is not None and isinstance(slippage, int)
    return ValidOrder(order_type, token_in, token_out, amount_in, amount_text, slippage)


def _token(payload: dict[str, Any], field: str, tokens: TokenRegistry, errors: list[FieldError]) -> Token | None:
    value = payload.get(field)
    if value is None:
        errors.append(FieldError(field, "is required"))
        return None
    if not isinstance(value, str) or not value.strip():
        errors.append(FieldError(field, "must be a token symbol or mint address"))
        return None
    token = tokens.resolve(value)
    if token is None:
        known = ", ".join(t.symbol for t in tokens)
        errors.append(FieldError(field, f"unknown token {value!r}; known: {known}"))
    return token
