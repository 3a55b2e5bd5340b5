"""Stop, take-profit, trailing-stop and OCO orders read from a body: their levels in raw units, rounded the
safe way, and every field that does not belong to the type, or is missing, named."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from engine.api.orders import read_spec
from engine.api.validation import parse_body
from kernel.errors import InvalidRequest
from kernel.orders import OcoTerms, OrderSpec, StopTerms, TakeProfitTerms, TrailingStopTerms
from kernel.settings import Network
from kernel.tokens import TokenRegistry

TOKENS = TokenRegistry.for_network(Network.SIMULATED)
BASE = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "2.5", "expiresInS": 600}


def read(**body: Any) -> OrderSpec:
    return read_spec(parse_body(json.dumps({**BASE, **body}).encode()), TOKENS, 50)


def refused(**body: Any) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as exc:
        read(**body)
    return {issue.field: issue.reason for issue in exc.value.fields}


def test_a_stop_fires_at_or_below_its_price_rounded_down() -> None:
    spec = read(type="stop", stopPrice="140.0000003")
    assert isinstance(spec.terms, StopTerms)
    # 2.5 SOL at 140.0000003 USDC each is 350.00000075 USDC: a stop rounds down, to 350.000000.
    assert spec.trigger_max_out == 350_000_000 and spec.trigger_min_out is None
    assert spec.terms.stop_price == Decimal("140.0000003")


def test_a_take_profit_is_a_limit_by_another_name() -> None:
    spec = read(type="takeProfit", limitPrice="160.0000003")
    assert isinstance(spec.terms, TakeProfitTerms) and spec.order_type.value == "takeProfit"
    assert spec.trigger_min_out == 400_000_001  # rounded up, as a limit's floor is


def test_an_oco_holds_both_levels_and_its_stop_below_its_take_profit() -> None:
    spec = read(type="OCO", limitPrice="160", stopPrice="140")  # the type is read case-insensitively
    assert isinstance(spec.terms, OcoTerms)
    assert (spec.trigger_min_out, spec.trigger_max_out) == (400_000_000, 350_000_000)
    assert refused(type="oco", limitPrice="140", stopPrice="160") == {
        "stopPrice": "must be below limitPrice (a stop fires on a fall, the other on a rise)"
    }
    assert set(refused(type="oco", limitPrice="160")) == {"stopPrice"}


def test_a_trailing_stop_takes_whole_basis_points() -> None:
    spec = read(type="trailingStop", trailBps=250)
    assert isinstance(spec.terms, TrailingStopTerms) and spec.terms.trail_bps == 250 and spec.terms.peak_out is None
    for bad in (0, 5001, 2.5, "250"):
        assert refused(type="trailingStop", trailBps=bad) == {
            "trailBps": "must be a whole number of basis points from 1 to 5000"
        }, bad


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"type": "stop"}, {"stopPrice": "is required for stop orders (units of tokenOut per tokenIn)"}),
        ({"type": "trailingStop"}, {"trailBps": "is required for trailingStop orders"}),
        ({"type": "stop", "stopPrice": "140", "limitPrice": "150"}, {"limitPrice": "is not a field of stop orders"}),
        ({"type": "limit", "limitPrice": "150", "trailBps": 10}, {"trailBps": "is not a field of limit orders"}),
        ({"type": "market", "stopPrice": "140"}, {"stopPrice": "is only for waiting orders (limit, sniper, stop...)"}),
    ],
)
def test_a_term_of_another_type_or_a_missing_one_is_named(body: dict[str, Any], expected: dict[str, str]) -> None:
    if body["type"] == "market":
        body = {**body}
        got = {k: v for k, v in refused(**body, expiresInS=None).items() if k != "expiresInS"}
    else:
        got = refused(**body)
    assert got == expected
