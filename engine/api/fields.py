"""Pieces the API's documented shapes share: field declarations, and how raw values are written for clients
(amounts as decimal strings in each token's units, times in ISO 8601)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.api.validation import MAX_SLIPPAGE_BPS, MAX_TOKEN_CHARS
from kernel.money import AMOUNT_PATTERN, MAX_AMOUNT_CHARS

Amount = str | None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenView(Strict):
    symbol: str
    mint: str
    decimals: int


_DECIMAL_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": AMOUNT_PATTERN, "maxLength": MAX_AMOUNT_CHARS},
        {"type": "number", "exclusiveMinimum": 0},
    ]
}


def amount_in_field() -> Any:
    return Field(
        description="Amount of tokenIn in its units: a decimal string (ASCII digits, at most the token's "
        "decimals) or a JSON number, read as written.",
        json_schema_extra=_DECIMAL_SCHEMA,
    )


def token_field(what: str) -> Any:
    return Field(
        description=f"Symbol (SOL, USDC, ...) or mint address of the token {what}.",
        min_length=1,
        max_length=MAX_TOKEN_CHARS,
    )


def price_field(description: str) -> Any:
    return Field(default=None, description=description, json_schema_extra=_DECIMAL_SCHEMA)


SLIPPAGE = Field(default=50, ge=1, le=MAX_SLIPPAGE_BPS, description="Slippage tolerance in basis points.")


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def decimal_text(value: Decimal | None) -> str | None:
    """A decimal in plain notation, without trailing zeros."""
    if value is None:
        return None
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
