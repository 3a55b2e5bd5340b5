"""The CPMM exact-out quote (``swap_base_output``), lamport-exact against hand-computed vectors, and its
consistency with the exact-in quote. The pool is the exact-in tests' (x = 1e12, y = 1.5e11 effective)."""

from __future__ import annotations

import dataclasses

import pytest

from adapters.dexes.raydium_cpmm.math import quote_exact_in, quote_exact_out
from kernel.errors import InsufficientLiquidity, PoolNotTradable, RejectedError
from tests.adapters.dexes.raydium_cpmm.test_raydium_cpmm_math import CONFIG, NOW, POOL, VAULT_0, VAULT_1, X, Y


def test_token_0_to_1_exact_out() -> None:
    # out = 1e9 of token 1: in' = ceil(x*out/(y-out)) = ceil(1e21 / 149e9) = ceil(6,711,409,395.97) = 6,711,409,396
    # in = ceil(in' * 1e6 / 997,500) = ceil(6,728,229,970.93) = 6,728,229,971
    # trade fee = ceil(in * 2500 / 1e6) = 16,820,575; protocol = 2,018,469; fund = 672,823
    q = quote_exact_out(POOL, CONFIG, VAULT_0, VAULT_1, 10**9, zero_for_one=True, now=NOW)
    assert (q.amount_swapped_in, q.amount_in) == (6_711_409_396, 6_728_229_971)
    assert (q.trade_fee, q.protocol_fee, q.fund_fee) == (16_820_575, 2_018_469, 672_823)


def test_token_1_to_0_exact_out() -> None:
    # out = 1e9 of token 0: in' = ceil(1.5e20 / 999e9) = 150,150,151; in = ceil(150,526,467.17) = 150,526,468
    q = quote_exact_out(POOL, CONFIG, VAULT_0, VAULT_1, 10**9, zero_for_one=False, now=NOW)
    assert (q.amount_swapped_in, q.amount_in, q.trade_fee) == (150_150_151, 150_526_468, 376_317)


@pytest.mark.parametrize("wanted", [1_000, 987_654_321, 12_345_678_901, 70_000_000_000])
@pytest.mark.parametrize("zero_for_one", [True, False])
def test_spending_the_exact_out_input_exactly_in_buys_at_least_the_output(wanted: int, zero_for_one: bool) -> None:
    """What an exact-out leg's guard relies on: the inverse quote's input, spent exact-in, buys the output."""
    exact = quote_exact_out(POOL, CONFIG, VAULT_0, VAULT_1, wanted, zero_for_one=zero_for_one, now=NOW)
    forward = quote_exact_in(POOL, CONFIG, VAULT_0, VAULT_1, exact.amount_in, zero_for_one=zero_for_one, now=NOW)
    assert forward.amount_out >= wanted
    # and the inverse is tight: a few units less buys less
    fewer = quote_exact_in(POOL, CONFIG, VAULT_0, VAULT_1, exact.amount_in - 3, zero_for_one=zero_for_one, now=NOW)
    assert fewer.amount_out < wanted or wanted < 10_000


def test_refusals() -> None:
    with pytest.raises(InsufficientLiquidity):
        quote_exact_out(POOL, CONFIG, VAULT_0, VAULT_1, Y, zero_for_one=True, now=NOW)
    with pytest.raises(RejectedError):
        quote_exact_out(POOL, CONFIG, VAULT_0, VAULT_1, 0, zero_for_one=True, now=NOW)
    with pytest.raises(PoolNotTradable):
        quote_exact_out(dataclasses.replace(POOL, status=4), CONFIG, VAULT_0, VAULT_1, 10, zero_for_one=True, now=NOW)
    with pytest.raises(PoolNotTradable, match="creator fee"):
        creator = dataclasses.replace(POOL, enable_creator_fee=True)
        quote_exact_out(creator, CONFIG, VAULT_0, VAULT_1, 10**9, zero_for_one=True, now=NOW)


def test_a_quotient_below_one_rounds_to_the_nearest_as_the_program_does() -> None:
    # Buying token 0 for token 1, x*out < y-out for tiny outputs: cp-swap's checked_ceil_div gives 1 when
    # 2*x*out >= y-out, else 0. out = 3: 2 * 1.5e11 * 3 = 9e11 < 1e12 - 3, nothing to spend: refused.
    with pytest.raises(RejectedError, match="cannot be bought"):
        quote_exact_out(POOL, CONFIG, VAULT_0, VAULT_1, 3, zero_for_one=False, now=NOW)
    # out = 4: 1.2e12 >= 1e12 - 4, so one unit in, grossed up by the fee: ceil(1e6 / 997,500) = 2
    q = quote_exact_out(POOL, CONFIG, VAULT_0, VAULT_1, 4, zero_for_one=False, now=NOW)
    assert (q.amount_swapped_in, q.amount_in) == (1, 2)
    assert X == 10**12 and Y == 15 * 10**10
