"""Conversions between decimal amounts at the API edge and raw integer token units inside.

Amounts are never parsed as ``float``: a JSON number is read by the API as its literal text, and every amount
and price a client sends is read by the one parser here.
"""

from __future__ import annotations

import re
from decimal import Decimal

U64_MAX = 2**64 - 1


MAX_AMOUNT_CHARS = 64
# u64 holds 20 digits and a token has at most 9 decimals: a valid amount never needs an exponent beyond
# +-30, so anything past 40 is refused before it can cost anything.
MAX_EXPONENT = 40
AMOUNT_PATTERN = r"^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_AMOUNT = re.compile(AMOUNT_PATTERN)


class AmountError(ValueError):
    """An amount or price that cannot be read; its message says why, in words a client reads after the field."""


class MalformedAmount(AmountError):
    """Not a decimal number in ASCII digits, or longer than :data:`MAX_AMOUNT_CHARS`."""


class AmountOutOfRange(AmountError):
    """A written exponent (or magnitude) past what any token amount or price needs."""


class AmountNotPositive(AmountError):
    """Zero or negative."""


class AmountTooPrecise(AmountError):
    """More decimal places than the token has."""


class AmountTooLarge(AmountError):
    """More raw units than a u64 holds."""


def _digits(text: object, example: str) -> tuple[int, int]:
    """``text`` as ``(digits, exponent)`` with ``value = digits * 10**exponent``, checked as text first: its
    length and its written exponent are bounded before any number is made of it."""
    if not isinstance(text, str):
        raise MalformedAmount("must be a decimal string or number")
    if len(text) > MAX_AMOUNT_CHARS:
        raise MalformedAmount(f"must be at most {MAX_AMOUNT_CHARS} characters")
    if _AMOUNT.match(text) is None:
        raise MalformedAmount(f"must be a decimal number in ASCII digits, such as {example}")
    if text.startswith("-"):
        raise AmountNotPositive("must be greater than zero")
    mantissa, _, exp_text = text.lower().partition("e")
    exponent = int(exp_text) if exp_text else 0
    if abs(exponent) > MAX_EXPONENT:
        raise AmountOutOfRange(f"has an exponent outside -{MAX_EXPONENT}..{MAX_EXPONENT}")
    whole, _, fraction = mantissa.partition(".")
    digits = int(whole + fraction or "0")
    if digits == 0:
        raise AmountNotPositive("must be greater than zero")
    return digits, exponent - len(fraction)


def to_raw(text: object, decimals: int) -> int:
    """A decimal amount written as text (``"1.5"``, ``"15e-1"``) as raw units of a token with ``decimals``:
    ``"1.5"`` with 9 decimals is ``1_500_000_000``. Integer arithmetic of bounded size only: ``"1E+999990"``
    is refused at once and ``"1E-999999999"`` is refused rather than read as zero. Raises an
    :class:`AmountError`."""
    digits, exponent = _digits(text, "1.5")
    shift = decimals + exponent  # raw = digits * 10**shift
    unit: int = 10 ** abs(shift)
    if shift >= 0:
        raw = digits * unit
    else:
        raw, rest = divmod(digits, unit)
        if rest:
            raise AmountTooPrecise(f"has more than {decimals} decimal places")
    if raw > U64_MAX:
        raise AmountTooLarge("is too large")
    return raw


def positive_decimal(text: object) -> Decimal:
    """A positive price written as text, exact, within ``1e-80..1e80``. Raises an :class:`AmountError`."""
    digits, exponent = _digits(text, "0.05")
    number = Decimal(digits).scaleb(exponent)
    if abs(number.adjusted()) > 2 * MAX_EXPONENT:
        raise AmountOutOfRange(f"is outside 1e-{2 * MAX_EXPONENT}..1e{2 * MAX_EXPONENT}")
    return number


def to_decimal(raw: int, decimals: int) -> Decimal:
    """Raw units back to a token amount, exact."""
    return Decimal(raw).scaleb(-decimals)


def format_amount(raw: int | None, decimals: int) -> str | None:
    """Raw units as a plain decimal string (no exponent, no trailing zeros)."""
    if raw is None:
        return None
    text = format(to_decimal(raw, decimals), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def price(amount_in: int, decimals_in: int, amount_out: int, decimals_out: int) -> Decimal:
    """Units of the output token paid per unit of the input token, to 12 significant digits."""
    if amount_in == 0:
        return Decimal(0)
    value = to_decimal(amount_out, decimals_out) / to_decimal(amount_in, decimals_in)
    return value.quantize(Decimal(1).scaleb(value.adjusted() - 11)).normalize()


def ceil_div(numerator: int, denominator: int) -> int:
    """``ceil(numerator / denominator)`` in integers, as on-chain programs round fees up."""
    return -(-numerator // denominator)
