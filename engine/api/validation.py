"""Reading an order or quote request: bounded before any number is converted, every problem named.

An attacker controls every byte, so nothing here costs more than the body's length:

- the body is parsed with the standard library's scanner, but each JSON number is kept as its text
  (:class:`JsonNumber`): ``1e999999999`` is never turned into a float, an int or a ``Decimal``;
- an amount or price is read from that text by :mod:`kernel.money`'s one parser, bounded in length and
  exponent before any number is made of it;
- nesting deeper than the parser allows is a malformed body, not a server error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

from kernel.errors import FieldIssue, MalformedRequest
from kernel.money import AmountError, positive_decimal, to_raw
from kernel.tokens import Token, TokenRegistry

MAX_SLIPPAGE_BPS = 5000
MAX_BODY_BYTES = 16 * 1024
MAX_TOKEN_CHARS = 64
_INTEGER = re.compile(r"^-?[0-9]{1,6}$")


@dataclass(frozen=True, slots=True)
class JsonNumber:
    """A JSON number as it was written; converted only by the field that expects one, within bounds."""

    text: str


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


def _text(value: object) -> object:
    """A decimal string, or the text of a JSON number, as :mod:`kernel.money` reads it."""
    return value.text if isinstance(value, JsonNumber) else value


def read_amount(payload: dict[str, Any], field: str, token: Token, errors: list[FieldIssue]) -> int | None:
    """``payload[field]`` as raw units of ``token``, or None with the problem appended to ``errors``."""
    try:
        return to_raw(_text(payload[field]), token.decimals)
    except AmountError as exc:
        errors.append(FieldIssue(field, f"{exc} ({token.symbol} has {token.decimals} decimals)"))
        return None


def read_price(payload: dict[str, Any], field: str, errors: list[FieldIssue]) -> Decimal | None:
    """``payload[field]`` as a positive exact decimal, or None with the problem appended to ``errors``."""
    try:
        return positive_decimal(_text(payload[field]))
    except AmountError as exc:
        errors.append(FieldIssue(field, str(exc)))
        return None


def read_slippage(payload: dict[str, Any], default_bps: int, errors: list[FieldIssue]) -> int | None:
    value = payload.get("slippageBps", JsonNumber(str(default_bps)))
    if not isinstance(value, JsonNumber) or not _INTEGER.match(value.text):
        errors.append(FieldIssue("slippageBps", "must be an integer number of basis points"))
        return None
    bps = int(value.text)
    if not 1 <= bps <= MAX_SLIPPAGE_BPS:
        errors.append(FieldIssue("slippageBps", f"must be between 1 and {MAX_SLIPPAGE_BPS}"))
        return None
    return bps


def read_token(payload: dict[str, Any], field: str, tokens: TokenRegistry, errors: list[FieldIssue]) -> Token | None:
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
