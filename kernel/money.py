"""Conversions between decimal amounts at the API edge and raw integer token units inside.

Amounts are never parsed as ``float``: a JSON number is read by the API as its literal text.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

U64_MAX = 2**64 - 1


class AmountError(ValueError):
    """An amount that is not a positive number representable in the token's units."""


def to_raw(amount: str | int | Decimal, decimals: int) -> int:
    """``"1.5"`` with 9 decimals -> ``1_500_000_000``. Rejects zero, negatives and excess precision."""
    if isinstance(amount, bool):
        raise AmountError("must be a decimal string or number")
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except InvalidOperation as exc:
        raise AmountError("must be a decimal string or number") from exc
    if not value.is_finite():
        raise AmountError("must be a finite number")
    if value <= 0:
        raise AmountError("must be greater than zero")
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise AmountError(f"has more than {decimals} decimal places")
    raw = int(scaled)
    if raw > U64_MAX:
        raise AmountError("is too large")
    return raw


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
