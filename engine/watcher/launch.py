"""Launching a simulated pool (what sniper orders wait for), from the API or the command line, checked alike."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kernel.errors import FieldIssue, InvalidRequest, PoolExists
from kernel.money import AmountError, positive_decimal
from kernel.tokens import Token, TokenRegistry
from kernel.watching import PoolLauncher

MAX_OPENS_IN_S = 7 * 24 * 3600


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
            "opensAt": datetime.fromtimestamp(self.opens_at, UTC).isoformat(),
        }


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
        parsed_price = positive_decimal(getattr(price, "text", price))  # a JSON number is read as written
    except AmountError as exc:
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
    """Apply a checked launch: every process of the deployment quotes the pool from now on. A pair launched
    already is refused (:class:`PoolExists`): launching it again would move the price under its waiting orders."""
    if await launcher.launched(request.base, request.quote):
        pair = f"{request.base.symbol}/{request.quote.symbol}"
        raise PoolExists(f"a {pair} pool is launched already; it is not launched or re-priced again")
    await launcher.launch(request.base, request.quote, request.price, request.opens_at)
