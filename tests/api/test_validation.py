from __future__ import annotations

import json

import pytest

from adapters.simulated.feed import LAUNCH_TOKENS
from engine.api.orders import read_spec
from engine.api.validation import JsonNumber, parse_body
from kernel.errors import InvalidRequest, MalformedRequest
from kernel.money import AmountError, format_amount, to_raw
from kernel.settings import Network
from kernel.tokens import NATIVE_MINT, TokenRegistry

TOKENS = TokenRegistry.for_network(Network.SIMULATED)


def fields(exc: pytest.ExceptionInfo[InvalidRequest]) -> dict[str, str]:
    return {e.field: e.reason for e in exc.value.fields}


def test_valid_market_order_by_symbol_and_mint() -> None:
    usdc = TOKENS.resolve("usdc")
    assert usdc is not None
    order = read_spec(
        parse_body(
            b'{"type": "market", "tokenIn": "SOL", "tokenOut": "%s", "amountIn": "1.5", "slippageBps": 75}'
            % usdc.mint.encode()
        ),
        TOKENS,
        50,
    )
    assert order.token_in.mint == NATIVE_MINT
    assert order.token_out.symbol == "USDC"
    assert order.amount_in == 1_500_000_000
    assert order.slippage_bps == 75


def test_defaults_type_and_slippage() -> None:
    order = read_spec(parse_body(b'{"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": 2}'), TOKENS, 50)
    assert order.order_type.value == "market"
    assert order.slippage_bps == 50
    assert order.amount_in == 2_000_000_000


def test_json_numbers_are_kept_as_written() -> None:
    assert parse_body(b"[1e999999999, -0.5]") == [JsonNumber("1e999999999"), JsonNumber("-0.5")]
    payload = parse_body(b'{"tokenIn": "USDC", "tokenOut": "SOL", "amountIn": 0.1}')
    assert payload["amountIn"] == JsonNumber("0.1")
    assert read_spec(payload, TOKENS, 50).amount_in == 100_000


@pytest.mark.parametrize(
    ("payload", "field", "fragment"),
    [
        ({"tokenIn": "NOPE", "tokenOut": "USDC", "amountIn": "1"}, "tokenIn", "unknown token"),
        ({"tokenIn": "SOL", "tokenOut": "SOL", "amountIn": "1"}, "tokenOut", "differ"),
        ({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0"}, "amountIn", "greater than zero"),
        ({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "-1"}, "amountIn", "greater than zero"),
        ({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1.0000000001"}, "amountIn", "decimal places"),
        ({"tokenIn": "USDC", "tokenOut": "SOL", "amountIn": "0.0000001"}, "amountIn", "decimal places"),
        ({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "abc"}, "amountIn", "decimal"),
        ({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": True}, "amountIn", "decimal"),
        ({"tokenIn": "SOL", "tokenOut": "USDC"}, "amountIn", "required"),
        ({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1", "slippageBps": 0}, "slippageBps", "between"),
        ({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1", "slippageBps": 5001}, "slippageBps", "between"),
        ({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1", "slippageBps": 1.5}, "slippageBps", "integer"),
        (
            {"type": "iceberg", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"},
            "type",
            "market, limit, sniper, stop, takeProfit, trailingStop, oco",
        ),
        ({"type": "limit", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"}, "limitPrice", "required"),
        (
            {"type": "limit", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1", "limitPrice": "150"},
            "expiresInS",
            "required",
        ),
        (
            {
                "type": "limit",
                "tokenIn": "SOL",
                "tokenOut": "USDC",
                "amountIn": "1",
                "limitPrice": "-1",
                "expiresInS": 60,
            },
            "limitPrice",
            "greater than zero",
        ),
        (
            {
                "type": "limit",
                "tokenIn": "SOL",
                "tokenOut": "USDC",
                "amountIn": "1",
                "limitPrice": "1e999999",
                "expiresInS": 60,
            },
            "limitPrice",
            "exponent",
        ),
        (
            {
                "type": "limit",
                "tokenIn": "SOL",
                "tokenOut": "USDC",
                "amountIn": "1",
                "limitPrice": "1e30",
                "expiresInS": 60,
            },
            "limitPrice",
            "more USDC than can exist",
        ),
        (
            {
                "type": "limit",
                "tokenIn": "SOL",
                "tokenOut": "USDC",
                "amountIn": "1",
                "limitPrice": "150",
                "expiresInS": 0,
            },
            "expiresInS",
            "from 1 to",
        ),
        (
            {
                "type": "limit",
                "tokenIn": "SOL",
                "tokenOut": "USDC",
                "amountIn": "1",
                "limitPrice": "150",
                "expiresInS": 60,
                "expiresAt": "2099-01-01T00:00:00Z",
            },
            "expiresInS",
            "exactly one",
        ),
        (
            {
                "type": "limit",
                "tokenIn": "SOL",
                "tokenOut": "USDC",
                "amountIn": "1",
                "limitPrice": "150",
                "expiresAt": "2001-01-01T00:00:00Z",
            },
            "expiresAt",
            "in the past",
        ),
        (
            {
                "type": "limit",
                "tokenIn": "SOL",
                "tokenOut": "USDC",
                "amountIn": "1",
                "limitPrice": "150",
                "expiresAt": "2099-01-01T00:00:00",
            },
            "expiresAt",
            "time zone",
        ),
        (
            {
                "type": "limit",
                "tokenIn": "SOL",
                "tokenOut": "USDC",
                "amountIn": "1",
                "limitPrice": "150",
                "minAmountOut": "1",
                "expiresInS": 60,
            },
            "minAmountOut",
            "not a field of limit orders",
        ),
        (
            # The field of earlier versions (tokenIn per tokenOut) is refused with what replaced it.
            {
                "type": "sniper",
                "tokenIn": "USDC",
                "tokenOut": "NEWT",
                "amountIn": "1",
                "maxPrice": "0.05",
                "expiresInS": 60,
            },
            "maxPrice",
            "replaced by limitPrice, in units of tokenOut per unit of tokenIn",
        ),
        (
            {
                "type": "sniper",
                "tokenIn": "USDC",
                "tokenOut": "NEWT",
                "amountIn": "1",
                "limitPrice": "1",
                "minAmountOut": "1",
                "expiresInS": 60,
            },
            "minAmountOut",
            "not both",
        ),
        (
            {"type": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1", "limitPrice": "150"},
            "limitPrice",
            "only for waiting orders",
        ),
    ],
)
def test_rejections_name_the_field(payload: dict[str, object], field: str, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        read_spec(parse_body(json.dumps(payload).encode()), TOKENS, 50)
    assert field in fields(exc), fields(exc)
    assert fragment in fields(exc)[field]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidRequest) as exc:
        read_spec(parse_body(b'{"tokenIn": "X", "tokenOut": "Y", "amountIn": "-3", "slippageBps": 9999}'), TOKENS, 50)
    assert {"tokenIn", "tokenOut", "slippageBps"} <= set(fields(exc))


@pytest.mark.parametrize("body", [b"", b"{", b'{"tokenIn": ', b'{"amountIn": NaN}', b"[" * 100_000])
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        parse_body(body)


def test_a_body_not_an_object() -> None:
    with pytest.raises(InvalidRequest) as exc:
        read_spec(parse_body(b"[1, 2]"), TOKENS, 50)
    assert "body" in fields(exc)


@pytest.mark.parametrize(
    ("text", "decimals", "raw"),
    [("1.5", 9, 1_500_000_000), ("1.50000000000", 9, 1_500_000_000), ("2e3", 6, 2_000_000_000), (".5", 1, 5),
     ("15e-1", 1, 15), ("18446744073709551615", 0, 2**64 - 1)],
)  # fmt: skip
def test_amounts_scale_exactly(text: str, decimals: int, raw: int) -> None:
    assert to_raw(text, decimals) == raw


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("1E+999990", "exponent"), ("1E-999999999", "exponent"), ("1e-10", "decimal places"), ("0.0", "greater"),
     ("18446744073709551616", "too large"), ("1_000", "ASCII"), ("\u0661", "ASCII"), ("1" * 65, "at most")],
)  # fmt: skip
def test_amounts_out_of_bounds(text: str, fragment: str) -> None:
    with pytest.raises(AmountError, match=fragment):
        to_raw(json.loads(f'"{text}"'), 9)


def test_money_round_trip() -> None:
    assert to_raw("123.456789", 6) == 123_456_789
    assert format_amount(123_456_789, 6) == "123.456789"
    assert format_amount(1_500_000_000, 9) == "1.5"
    assert format_amount(5, 0) == "5"
    with pytest.raises(AmountError):
        to_raw(str(2**64), 0)


def test_limit_floor_is_the_ceiling_of_price_times_amount_in_raw_units() -> None:
    body = {"type": "limit", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1.5", "limitPrice": "150.5",
            "expiresInS": 60}  # fmt: skip
    order = read_spec(parse_body(json.dumps(body).encode()), TOKENS, 50)
    assert order.trigger_min_out == 225_750_000
    # 0.000000333 SOL at 1.0000001 USDC each is 0.000000333000033 USDC: rounded up to the next raw unit.
    body.update(amountIn="0.000000333", limitPrice="1.0000001")
    order = read_spec(parse_body(json.dumps(body).encode()), TOKENS, 50)
    assert order.trigger_min_out == 1


def test_sniper_limit_price_becomes_a_floor_in_the_token_out() -> None:
    tokens = TokenRegistry.for_network(Network.SIMULATED, extra=LAUNCH_TOKENS)
    body = {"type": "sniper", "tokenIn": "USDC", "tokenOut": "NEWT", "amountIn": "10", "limitPrice": "33.3333333",
            "expiresInS": 60}  # fmt: skip
    order = read_spec(parse_body(json.dumps(body).encode()), tokens, 50)
    # 10 USDC at least 33.3333333 NEWT per USDC, as a limit order's price: at least 333.333333 NEWT.
    assert order.trigger_min_out == 333_333_333
    body.pop("limitPrice")
    order = read_spec(parse_body(json.dumps(body).encode()), tokens, 50)
    assert order.trigger_min_out is None
