"""The Whirlpool quote math: tick math at its bounds and round trips, the step's rounding against the closed forms,
and the walk over initialized ticks and up to three tick arrays, exact in and exact out."""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal, getcontext
from typing import Any

import pytest
from solders.pubkey import Pubkey

from adapters.dexes.orca_whirlpool.layouts import TickArray
from adapters.dexes.orca_whirlpool.math import (
    MAX_SQRT_PRICE_X64,
    MAX_TICK_INDEX,
    MIN_SQRT_PRICE_X64,
    MIN_TICK_INDEX,
    ProgramArithmeticError,
    compute_swap_step,
    is_valid_start_tick,
    next_sqrt_price,
    quote_exact_in,
    quote_exact_out,
    sqrt_price_from_tick_index,
    swap,
    tick_array_starts,
    tick_index_from_sqrt_price,
    try_amount_delta_a,
    try_amount_delta_b,
)
from kernel.errors import InsufficientLiquidity, PoolNotTradable, RejectedError
from kernel.money import U64_MAX
from tests.adapters.contract.orca_whirlpool import LocalWhirlpool, Position, sqrt_price_of, whirlpool_state

MINT_A = Pubkey.from_bytes(bytes([1]) * 32)
MINT_B = Pubkey.from_bytes(bytes([2]) * 32)
SPACING = 8
WIDTH = 88 * SPACING
Q64 = 1 << 64


def _ceil(n: int, d: int) -> int:
    return -(-n // d)


def _pool(positions: list[Position], price: float = 150.0, **options: Any) -> LocalWhirlpool:
    return whirlpool_state(MINT_A, MINT_B, sqrt_price_of(price, 9, 6), positions, tick_spacing=SPACING, **options)


def _layered() -> LocalWhirlpool:
    """Liquidity in layers over the arrays around the price, a tick right on an array's start among them and one
    array below the price holding no tick (so no account)."""
    return _pool(POSITIONS)


BASE = _pool([]).state.tick_current_index // WIDTH * WIDTH
POSITIONS = [
    Position(BASE - 4 * WIDTH, BASE + 4 * WIDTH, 10**12),
    Position(BASE - 2 * WIDTH, BASE + WIDTH + 3 * SPACING, 3 * 10**12),
    Position(BASE + 10 * SPACING, BASE + 30 * SPACING, 5 * 10**12),
    Position(BASE + SPACING, BASE + 3 * SPACING, 2 * 10**12),
]


def test_tick_math_meets_its_bounds_and_round_trips() -> None:
    assert sqrt_price_from_tick_index(0) == Q64
    assert sqrt_price_from_tick_index(MAX_TICK_INDEX) == MAX_SQRT_PRICE_X64
    assert sqrt_price_from_tick_index(MIN_TICK_INDEX) == MIN_SQRT_PRICE_X64
    rng = random.Random(7)
    ticks = [*range(-300, 300), MIN_TICK_INDEX, MAX_TICK_INDEX] + [rng.randint(MIN_TICK_INDEX, MAX_TICK_INDEX)
                                                                   for _ in range(3000)]  # fmt: skip
    getcontext().prec = 50
    for tick in ticks:
        price = sqrt_price_from_tick_index(tick)
        assert tick_index_from_sqrt_price(price) == tick
        if tick > MIN_TICK_INDEX:
            assert tick_index_from_sqrt_price(price - 1) == tick - 1
        exact = Decimal("1.0001") ** (Decimal(tick) / 2) * Q64
        assert abs(Decimal(price) - exact) < 1 + exact * Decimal("1e-12"), tick


def test_amount_deltas_round_as_asked() -> None:
    lower, upper, liquidity = sqrt_price_from_tick_index(-100), sqrt_price_from_tick_index(100), 10**15 + 7
    a = liquidity * (upper - lower) * Q64
    assert try_amount_delta_a(upper, lower, liquidity, False) == a // (upper * lower)
    assert try_amount_delta_a(lower, upper, liquidity, True) == _ceil(a, upper * lower)
    assert try_amount_delta_b(lower, upper, liquidity, False) == liquidity * (upper - lower) >> 64
    assert try_amount_delta_b(lower, upper, liquidity, True) == _ceil(liquidity * (upper - lower), Q64)
    assert try_amount_delta_b(lower, upper, 0, True) == 0
    assert try_amount_delta_a(MIN_SQRT_PRICE_X64, MAX_SQRT_PRICE_X64, 2**64, False) is None  # beyond a u64
    assert try_amount_delta_b(MIN_SQRT_PRICE_X64, MAX_SQRT_PRICE_X64, 2**64, False) is None
    with pytest.raises(ProgramArithmeticError, match="MultiplicationOverflow"):  # beyond 192 bits before the shift
        try_amount_delta_a(MIN_SQRT_PRICE_X64, MAX_SQRT_PRICE_X64, 2**100, False)


def test_next_prices_round_away_from_the_trader() -> None:
    price, liquidity = sqrt_price_from_tick_index(-18_973), 4 * 10**12
    a_in = next_sqrt_price(price, liquidity, 10**9, amount_is_input=True, a_to_b=True)
    assert a_in == _ceil(liquidity * price * Q64, (liquidity << 64) + price * 10**9)
    b_in = next_sqrt_price(price, liquidity, 10**8, amount_is_input=True, a_to_b=False)
    assert b_in == price + (10**8 << 64) // liquidity
    b_out = next_sqrt_price(price, liquidity, 10**8, amount_is_input=False, a_to_b=True)
    assert b_out == price - _ceil(10**8 << 64, liquidity)


@pytest.mark.parametrize("fee_rate", [0, 100, 3000, 60_000])
def test_a_step_inside_one_range_matches_the_closed_forms(fee_rate: int) -> None:
    price, liquidity, target = sqrt_price_from_tick_index(-18_973), 4 * 10**12, MIN_SQRT_PRICE_X64
    amount = 12_345_678_901
    step = compute_swap_step(amount, fee_rate, liquidity, price, target, amount_is_input=True, a_to_b=True)
    after_fee = amount * (10**6 - fee_rate) // 10**6
    nxt = _ceil(liquidity * price * Q64, (liquidity << 64) + price * after_fee)
    assert step.next_price == nxt
    assert step.amount_out == liquidity * (price - nxt) >> 64
    assert step.amount_in == _ceil(liquidity * (price - nxt) * Q64, price * nxt)
    assert step.amount_in + step.fee_amount == amount  # a step short of its target takes all that remains
    out = compute_swap_step(step.amount_out, fee_rate, liquidity, price, target, amount_is_input=False, a_to_b=True)
    assert out.amount_out == step.amount_out
    assert out.fee_amount == _ceil(out.amount_in * fee_rate, 10**6 - fee_rate)
    assert out.amount_in + out.fee_amount <= amount


def test_a_step_that_reaches_its_target_pays_the_fee_on_what_it_took() -> None:
    price, liquidity = sqrt_price_from_tick_index(0), 10**12
    target = sqrt_price_from_tick_index(8)
    step = compute_swap_step(10**12, 3000, liquidity, price, target, amount_is_input=True, a_to_b=False)
    assert step.next_price == target
    assert step.amount_in == _ceil(liquidity * (target - price), Q64)
    assert step.fee_amount == _ceil(step.amount_in * 3000, 10**6 - 3000)


def test_the_walk_starts_at_the_current_array_and_goes_three_deep() -> None:
    pool = _layered().state
    base = pool.tick_current_index // WIDTH * WIDTH
    assert tick_array_starts(pool, a_to_b=True) == [base, base - WIDTH, base - 2 * WIDTH]
    assert tick_array_starts(pool, a_to_b=False) == [base, base + WIDTH, base + 2 * WIDTH]
    last = dataclasses.replace(pool, tick_current_index=base + WIDTH - SPACING)  # the array's last usable tick
    assert tick_array_starts(last, a_to_b=False) == [base + WIDTH, base + 2 * WIDTH, base + 3 * WIDTH]
    assert tick_array_starts(last, a_to_b=True) == [base, base - WIDTH, base - 2 * WIDTH]
    top = dataclasses.replace(pool, tick_current_index=MAX_TICK_INDEX - 1)
    assert len(tick_array_starts(top, a_to_b=False)) == 1
    # the one start below the lowest tick: MIN_TICK_INDEX - (MIN_TICK_INDEX % width + width), Rust's remainder
    assert is_valid_start_tick(-444_224, SPACING) and not is_valid_start_tick(-444_224 - WIDTH, SPACING)
    assert is_valid_start_tick(-444_928, 64) and not is_valid_start_tick(-444_224, 64)


def test_crossing_ticks_changes_the_liquidity_and_a_quote_inverts() -> None:
    local = _layered()
    pool, arrays = local.state, local.arrays
    for a_to_b in (True, False):
        crossed = 0
        for amount in (10**3, 10**6, 10**9, 10**10, 5 * 10**10, 10**11):
            amount = amount if a_to_b else amount // 20
            try:
                quote = quote_exact_in(pool, arrays, amount, a_to_b=a_to_b)
            except InsufficientLiquidity:
                continue
            result = swap(pool, arrays, amount, a_to_b=a_to_b, amount_is_input=True)
            assert (result.amount_in, result.amount_out) == (amount, quote.amount_out)
            assert result.protocol_fee <= result.fee * 1300 // 10_000
            crossed = max(crossed, result.ticks_crossed)
            tick = result.next_tick_index
            assert result.next_liquidity == sum(p.liquidity for p in POSITIONS if p.lower <= tick < p.upper)
            needs = quote_exact_out(pool, arrays, quote.amount_out, a_to_b=a_to_b)
            assert needs.amount_out == quote.amount_out and needs.amount_in <= amount
        assert crossed >= 1


def test_an_array_with_no_account_is_walked_as_empty() -> None:
    local = _layered()
    base = local.state.tick_current_index // WIDTH * WIDTH
    assert base - WIDTH not in local.arrays  # no position's tick sits there
    result = swap(local.state, local.arrays, 5 * 10**11, a_to_b=True, amount_is_input=True)
    assert result.filled and result.ticks_crossed == 2  # both in the first array; none in the second
    assert result.next_tick_index < base - WIDTH


def test_sizes_beyond_the_walk_or_the_pool_are_refused() -> None:
    local = _layered()
    with pytest.raises(InsufficientLiquidity, match="TickArraySequenceInvalidIndex"):
        quote_exact_in(local.state, local.arrays, 10**13, a_to_b=True)
    with pytest.raises(InsufficientLiquidity):
        quote_exact_out(local.state, local.arrays, U64_MAX, a_to_b=False)
    with pytest.raises(RejectedError, match="too small"):
        quote_exact_in(local.state, local.arrays, 1, a_to_b=True)
    with pytest.raises(RejectedError):
        quote_exact_in(local.state, local.arrays, 0, a_to_b=True)


def test_a_pool_with_no_liquidity_in_range_moves_to_the_next_tick_for_free() -> None:
    base = _pool([]).state.tick_current_index // WIDTH * WIDTH
    local = _pool([Position(base - 10 * SPACING, base - 5 * SPACING, 10**12)])
    assert local.state.liquidity == 0
    quote = quote_exact_in(local.state, local.arrays, 10**6, a_to_b=True)
    assert quote.amount_out > 0 and quote.ticks_crossed == 1
    empty = {s: TickArray(s, Pubkey.default()) for s in tick_array_starts(local.state, a_to_b=False)}
    with pytest.raises(InsufficientLiquidity):
        quote_exact_in(local.state, empty, 10**6, a_to_b=False)


def test_a_pool_of_an_adaptive_fee_tier_is_refused() -> None:
    local = _layered()
    adaptive = dataclasses.replace(local.state, tick_spacing_seed=(1024 + SPACING).to_bytes(2, "little"))
    for quote in (quote_exact_in, quote_exact_out):
        with pytest.raises(PoolNotTradable, match="adaptive fee"):
            quote(adaptive, local.arrays, 10**6, a_to_b=True)
