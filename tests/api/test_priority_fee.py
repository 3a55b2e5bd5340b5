"""An order's priority fee: a cap on the settlement's estimate or an exact fee, in whole lamports, bounded."""

from __future__ import annotations

import json

import pytest

from engine.api.orders import read_spec
from engine.api.validation import parse_body
from kernel.errors import InvalidRequest
from kernel.orders import PriorityFee
from kernel.settings import Network
from kernel.tokens import TokenRegistry

TOKENS = TokenRegistry.for_network(Network.SIMULATED)
BASE = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"}
REASON = 'must be {"maxLamports": N} or {"lamports": N}, N whole lamports from 1 to 1000000000'


def read(fee: object) -> PriorityFee | None:
    return read_spec(parse_body(json.dumps({**BASE, "priorityFee": fee}).encode()), TOKENS, 50).priority_fee


def test_a_cap_or_an_exact_fee_is_read() -> None:
    assert read({"maxLamports": 50_000}) == PriorityFee(max_lamports=50_000)
    assert read({"lamports": 7_000}) == PriorityFee(lamports=7_000)
    assert read(None) is None


@pytest.mark.parametrize(
    "fee", [{}, {"maxLamports": 0}, {"lamports": 10**9 + 1}, {"lamports": 1.5}, {"lamports": "7000"},
            {"maxLamports": 1, "lamports": 1}, {"tip": 5}, 5, "auto"],
)  # fmt: skip
def test_anything_else_is_refused_by_name(fee: object) -> None:
    with pytest.raises(InvalidRequest) as exc:
        read(fee)
    assert {i.field: i.reason for i in exc.value.fields} == {"priorityFee": REASON}


def test_the_price_follows_from_the_limit_and_never_pays_more_than_asked() -> None:
    limit = 129_813
    exact = PriorityFee(lamports=7_000).unit_price(estimate=123, cu_limit=limit)
    assert exact == 7_000 * 10**6 // limit and -(-limit * exact // 10**6) <= 7_000
    assert PriorityFee(max_lamports=1).unit_price(estimate=50_000, cu_limit=limit) == 10**6 // limit
    assert PriorityFee(max_lamports=10**6).unit_price(estimate=50_000, cu_limit=limit) == 50_000  # the estimate
