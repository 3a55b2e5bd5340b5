"""Reading an order or quote request: bounded before any number is converted, every problem named.

An attacker controls every byte, so nothing here costs more than the body's length:

- the body is parsed with the standard library's scanner, but each JSON number is kept as its text
  (:class:`JsonNumber`): ``1e999999999`` is never turned into a float, an int or a ``Decimal``;
- an amount is checked as text (length, ASCII digits, exponent range) and scaled to raw units with
  integer arithmetic of bounded size, so ``"1E+999990"`` is refused at once, and ``"1E-999999999"``
  is refused rather than read as zero;
- nesting deeper than the parser allows is a malformed body, not a server error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, NoReturn

from engine.api.terms import waiting_terms
from engine.db.records import WaitingTerms
from kernel.domain import OrderType
from kernel.errors import FieldIssue, InvalidRequest, MalformedRequest
from kernel.money import U64_MAX
from kernel.tokens import Token, TokenRegistry

MAX_SLIPPAGE_BPS = 5000
MAX_BODY_BYTES = 16 * 1024
MAX_AMOUNT_CHARS = 64
MAX_TOKEN_CHARS = 64
# u64 holds 20 digits and a token has at most 9 decimals: a valid amount never needs an exponent
# beyond +-30, so anything past 40 is refused before it can cost anything.
MAX_EXPONENT = 40
AMOUNT_PATTERN = r"^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_AMOUNT = re.compile(AMOUNT_PATTERN)
_INTEGER = re.compile(r"^-?[0-9]{1,6}$")

WAITING_FIELDS = ("limitPrice", "maxPrice", "minAmountOut", "expiresAt", "expiresInS")
ORDER_FIELDS = ("type", "tokenIn", "tokenOut", "amountIn", "slippageBps", *WAITING_FIELDS)
QUOTE_FIELDS = ("tokenIn", "tokenOut", "amountIn", "slippageBps")


@dataclass(frozen=True, slots=True)
class JsonNumber:
    """A JSON number as it was written; converted only by the field that expects one, within bounds."""

    text: str


@dataclass(frozen=True, slots=True)
class ValidOrder:
    order_type: OrderType
    token_in: Token
    token_out: Token
    amount_in: int
    slippage_bps: int
    terms: WaitingTerms | None = None  # what a limit or sniper order waits for


def _bad_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def parse_body(body: bytes) -> Any:
    """The JSON document in ``body``; raises :class:`MalformedRequest`. The caller has bounded its size."""
    if not body.strip():
        raise MalformedRequest("the body is empty; send a JSON object")
    try:
        return json.loads(body, parse_float=JsonNumber, parse_int=JsonNumber, parse_constant=_bad_constant)
    except RecursionError:
        raise MalformedRequest("the body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"the body is not valid JSON: {exc}") from None


def scale_amount(value: object, decimals: int) -> int:
    """A decimal string or JSON number as raw units of a token with ``decimals``; raises ``ValueError``."""
    if isinstance(value, JsonNumber):
        text = value.text
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError("must be a decimal string or number")
    if len(text) > MAX_AMOUNT_CHARS:
        raise ValueError(f"must be at most {MAX_AMOUNT_CHARS} characters")
    match = _AMOUNT.match(text)
    if match is None:
        raise ValueError("must be a decimal number in ASCII digits, such as 1.5")
    if text.startswith("-"):
        raise ValueError("must be greater than zero")
    mantissa, _, exp_text = text.lower().partition("e")
    exponent = int(exp_text) if exp_text else 0
    if abs(exponent) > MAX_EXPONENT:
        raise ValueError(f"has an exponent outside -{MAX_EXPONENT}..{MAX_EXPONENT}")
    whole, _, fraction = mantissa.partition(".")
    digits = int(whole + fraction or "0")
    shift = decimals + exponent - len(fraction)  # raw = digits * 10**shift
    unit: int = 10 ** abs(shift)
    if shift >= 0:
        raw = digits * unit
    else:
        raw, rest = divmod(digits, unit)
        if rest:
            raise ValueError(f"has more than {decimals} decimal places")
    if raw <= 0:
        raise ValueError("must be greater than zero")
    if raw > U64_MAX:
        raise ValueError("is too large")
    return raw


def _slippage(value: object) -> int:
    if not isinstance(value, JsonNumber) or not _INTEGER.match(value.text):
        raise ValueError("must be an integer number of basis points")
    bps = int(value.text)
    if not 1 <= bps <= MAX_SLIPPAGE_BPS:
        raise ValueError(f"must be between 1 and {MAX_SLIPPAGE_BPS}")
    return bps


def validate_order(
    payload: Any,
    tokens: TokenRegistry,
    default_slippage_bps: int,
    *,
    allowed: tuple[str, ...] = ORDER_FIELDS,
    max_wait_s: int = 30 * 24 * 3600,
) -> ValidOrder:
    """Check a parsed body; raises :class:`InvalidRequest` listing every problem found."""
    if not isinstance(payload, dict):
        raise InvalidRequest([FieldIssue("body", "must be a JSON object")])
    errors = [
        FieldIssue(name[:MAX_TOKEN_CHARS], f"is not a field of this request; known: {', '.join(allowed)}")
        for name in payload
        if name not in allowed
    ]

    raw_type = payload.get("type", OrderType.MARKET.value)
    order_type: OrderType | None = None
    if not isinstance(raw_type, str) or raw_type.lower() not in {t.value for t in OrderType}:
        errors.append(FieldIssue("type", "unsupported order type; one of market, limit, sniper"))
    else:
        order_type = OrderType(raw_type.lower())

    token_in = _token(payload, "tokenIn", tokens, errors)
    token_out = _token(payload, "tokenOut", tokens, errors)
    if token_in is not None and token_out is not None and token_in.mint == token_out.mint:
        errors.append(FieldIssue("tokenOut", "must differ from tokenIn"))

    amount_in: int | None = None
    raw_amount = payload.get("amountIn")
    if raw_amount is None:
        errors.append(FieldIssue("amountIn", "is required"))
    elif token_in is not None:  # an amount means something only in the units of a known token
        try:
            amount_in = scale_amount(raw_amount, token_in.decimals)
        except ValueError as exc:
            errors.append(FieldIssue("amountIn", f"{exc} ({token_in.symbol} has {token_in.decimals} decimals)"))

    slippage: int | None = None
    try:
        slippage = _slippage(payload.get("slippageBps", JsonNumber(str(default_slippage_bps))))
    except ValueError as exc:
        errors.append(FieldIssue("slippageBps", str(exc)))

    terms = None
    if order_type is not None:
        terms = waiting_terms(payload, order_type, token_in, token_out, amount_in, errors, max_wait_s=max_wait_s)

    if errors:
        raise InvalidRequest(errors)
    assert order_type is not None and token_in is not None and token_out is not None
    assert amount_in is not None and slippage is not None
    return ValidOrder(order_type, token_in, token_out, amount_in, slippage, terms)


def _token(payload: dict[str, Any], field: str, tokens: TokenRegistry, errors: list[FieldIssue]) -> Token | None:
    value = payload.get(field)
    if value is None:
        errors.append(FieldIssue(field, "is required"))
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TOKEN_CHARS:
        errors.append(FieldIssue(field, f"must be a token symbol or mint address of at most {MAX_TOKEN_CHARS} chars"))
        return None
    token = tokens.resolve(value)
    if token is None:
        known = ", ".join(t.symbol for t in tokens)
        errors.append(FieldIssue(field, f"unknown token {value!r}; known: {known}"))
    return token
