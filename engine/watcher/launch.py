"""Launching a simulated pool (what sniper orders wait for), from the API or the command line, checked alike."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kernel.errors import FieldIssue, InvalidRequest
from kernel.tokens import Token, TokenRegistry
from kernel.watching import PoolLauncher

MAX_OPENS_IN_S = 7 * 24 * 3600
MAX_PRICE_CHARS = 64
_MAX_EXPONENT = 40
_DECIMAL = re.compile(r"([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """A checked launch: ``price`` is units of ``quote`` per unit of ``base``; the pool opens at ``opens_at``."""

    base: Token
    quote: Token
    price: Decimal
    opens_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "base": self.base.as_dict(),
            "quote": self.quote.as_dict(),
            "price": format(self.price.normalize(), "f"),
            "opensAt": self.opens_at,
        }


def positive_decimal(value: object) -> Decimal:
    """A positive decimal from a string or the text of a JSON number, bounded in length and exponent."""
    text = getattr(value, "text", value)
    if not isinstance(text, str) or not text.strip():
        raise ValueError("must be a decimal string or number")
    if len(text) > MAX_PRICE_CHARS:
        raise ValueError(f"must be at most {MAX_PRICE_CHARS} characters")
    if text.startswith("-") and _DECIMAL.match(text[1:]):
        raise ValueError("must be greater than zero")
    if not _DECIMAL.fullmatch(text):
        raise ValueError("must be a decimal number in ASCII digits, such as 0.05")
    _, _, exponent_text = text.lower().partition("e")
    # The written exponent is bounded before any number is made of it (a huge one is refused, never computed).
    if exponent_text and (len(exponent_text) > 4 or abs(int(exponent_text)) > _MAX_EXPONENT):
        raise ValueError(f"has an exponent outside -{_MAX_EXPONENT}..{_MAX_EXPONENT}")
    number = Decimal(text)
    if abs(number.adjusted()) > 2 * _MAX_EXPONENT:
        raise ValueError(f"is outside 1e-{2 * _MAX_EXPONENT}..1e{2 * _MAX_EXPONENT}")
    if number <= 0:
        raise ValueError("must be greater than zero")
    return number


def check_launch(
    tokens: TokenRegistry, base: object, quote: object, price: object, opens_in_s: object, *, now: float | None = None
) -> LaunchRequest:
    """Check a launch's fields; raises :class:`InvalidRequest` naming each bad one."""
    errors: list[FieldIssue] = []
    found: dict[str, Token] = {}
    for field, value in (("base", base), ("quote", quote)):
        token = tokens.resolve(value) if isinstance(value, str) and 0 < len(value) <= 64 else None
        if token is None:
            errors.append(FieldIssue(field, "must be a known token symbol or mint"))
        else:
            found[field] = token
    if "base" in found and "quote" in found and found["base"].mint == found["quote"].mint:
        errors.append(FieldIssue("quote", "must differ from base"))
    parsed_price: Decimal | None = None
    try:
        parsed_price = positive_decimal(price)
    except ValueError as exc:
        errors.append(FieldIssue("price", str(exc)))
    seconds = 0.0
    raw_seconds = getattr(opens_in_s, "text", opens_in_s)
    try:
        seconds = float(Decimal(str(raw_seconds))) if raw_seconds is not None else 0.0
        if not 0 <= seconds <= MAX_OPENS_IN_S:
            raise ValueError
    except (ValueError, ArithmeticError):
        errors.append(FieldIssue("opensInS", f"must be a number of seconds from 0 to {MAX_OPENS_IN_S}"))
    if errors:
        raise InvalidRequest(errors)
    assert parsed_price is not None
    return LaunchRequest(found["base"], found["quote"], parsed_price, (now or time.time()) + seconds)


async def launch(launcher: PoolLauncher, request: LaunchRequest) -> None:
    """Apply a checked launch: every process of the deployment quotes the pool from now on."""
    await launcher.launch(request.base, request.quote, request.price, request.opens_at)
