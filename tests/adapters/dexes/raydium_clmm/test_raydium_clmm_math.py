"""The CLMM math in the program's integers: tick math at its bounds and round trips (the program's own test
vectors), swap steps with their rounding and fee, and the walk across initialized ticks and tick arrays."""

from __future__ import annotations

import dataclasses
import random

import pytest
from solders.pubkey import Pubkey

from adapters.dexes.raydium_clmm.layouts import (
    TICK_ARRAY_SIZE,
    AmmConfig,
    PoolState,
    TickArrayBitmapExtension,
    TickArrayState,
    TickState,
)
from adapters.dexes.raydium_clmm.math import (
    MAX_SQRT_PRICE_X64,
    MAX_TICK,
    MIN_SQRT_PRICE_X64,
    MIN_TICK,
    Q64,
    TickArrayMissing,
    bitmaps_with,
    compute_swap_step,
    delta_amount_0,
    delta_amount_1,
    get_sqrt_price_at_tick,
    get_tick_at_sqrt_price,
    initialized_tick_arrays,
    pool_bitmap_with,
    quote_exact_in,
    quote_exact_out,
    tick_array_start_index,
)
from kernel.errors import InsufficientLiquidity, PoolNotTradable, RejectedError

KEY = Pubkey.from_bytes(bytes([7]) * 32)


def test_tick_math_meets_the_programs_bounds() -> None:
    assert get_sqrt_price_at_tick(MIN_TICK) == MIN_SQRT_PRICE_X64
    assert get_sqrt_price_at_tick(MAX_TICK) == MAX_SQRT_PRICE_X64
    assert get_sqrt_price_at_tick(0) == Q64
    assert get_tick_at_sqrt_price(MIN_SQRT_PRICE_X64) == MIN_TICK
    assert get_tick_at_sqrt_price(MAX_SQRT_PRICE_X64 - 1) == MAX_TICK - 1
    for bad in (MIN_SQRT_PRICE_X64 - 1, MAX_SQRT_PRICE_X64):
        with pytest.raises(ValueError):
            get_tick_at_sqrt_price(bad)
    with pytest.raises(ValueError):
        get_sqrt_price_at_tick(MAX_TICK + 1)


def test_tick_math_rounds_down_as_the_programs_own_vectors() -> None:
    for tick in (-28861, 28861):
        price = get_sqrt_price_at_tick(tick)
        assert get_tick_at_sqrt_price(price) == tick
        assert get_tick_at_sqrt_price(price + 1) == tick
        assert get_tick_at_sqrt_price(get_sqrt_price_at_tick(tick + 1) - 1) == tick
        assert get_tick_at_sqrt_price(price - 1) == tick - 1


def test_tick_math_round_trips() -> None:
    rng = random.Random(5)
    ticks = list(range(-1500, 1500)) + [rng.randint(MIN_TICK, MAX_TICK - 1) for _ in range(2000)]
    ticks += [MIN_TICK, MIN_TICK + 1, MAX_TICK - 2, MAX_TICK - 1]
    for tick in ticks:
        price = get_sqrt_price_at_tick(tick)
        assert get_tick_at_sqrt_price(price) == tick
        assert get_sqrt_price_at_tick(tick + 1) > price


def test_tick_array_start_rounds_towards_minus_infinity() -> None:
    assert tick_array_start_index(0, 10) == 0
    assert tick_array_start_index(599, 10) == 0
    assert tick_array_start_index(600, 10) == 600
    assert tick_array_start_index(-1, 10) == -600
    assert tick_array_start_index(-600, 10) == -600
    assert tick_array_start_index(-601, 1) == -660


def test_deltas_round_as_asked() -> None:
    lower, upper, liquidity = get_sqrt_price_at_tick(-100), get_sqrt_price_at_tick(100), 10**12
    down, up = delta_amount_0(lower, upper, liquidity, False), delta_amount_0(upper, lower, liquidity, True)
    assert down is not None and up == down + 1
    down, up = delta_amount_1(lower, upper, liquidity, False), delta_amount_1(lower, upper, liquidity, True)
    assert down is not None and up == down + 1
    assert delta_amount_1(MIN_SQRT_PRICE_X64, MAX_SQRT_PRICE_X64, 2**100, False) is None  # MaxTokenOverflow


def test_a_step_inside_the_range_spends_everything_and_rounds_for_the_pool() -> None:
    price, target, liquidity = get_sqrt_price_at_tick(0), get_sqrt_price_at_tick(-600), 10**15
    step = compute_swap_step(price, target, liquidity, 10**9, 2500, is_base_input=True, zero_for_one=True)
    assert target < step.sqrt_price_next_x64 < price
    assert step.amount_in + step.fee_amount == 10**9
    assert step.fee_amount >= 10**9 * 2500 // 10**6
    # The price the step reached is rounded up (token 0 in), so buying what it paid costs no more.
    back = compute_swap_step(price, target, liquidity, step.amount_out, 2500, is_base_input=False, zero_for_one=True)
    assert back.amount_in <= step.amount_in and back.amount_out == step.amount_out


def test_a_step_reaching_its_target_grosses_the_fee_up() -> None:
    price, target, liquidity = get_sqrt_price_at_tick(0), get_sqrt_price_at_tick(10), 10**10
    step = compute_swap_step(price, target, liquidity, 10**12, 2500, is_base_input=True, zero_for_one=False)
    assert step.sqrt_price_next_x64 == target
    assert step.amount_in == delta_amount_1(price, target, liquidity, True)
    assert step.fee_amount == -(-step.amount_in * 2500 // (10**6 - 2500))


SPACING = 10


@dataclasses.dataclass(frozen=True)
class Position:
    lower: int
    upper: int
    liquidity: int


def _tick_arrays(positions: list[Position], spacing: int) -> dict[int, TickArrayState]:
    """The tick arrays holding ``positions``: each bound's net and gross liquidity, as the program keeps them."""
    net: dict[int, int] = {}
    gross: dict[int, int] = {}
    for p in positions:
        for tick, delta in ((p.lower, p.liquidity), (p.upper, -p.liquidity)):
            net[tick], gross[tick] = net.get(tick, 0) + delta, gross.get(tick, 0) + p.liquidity
    arrays = {}
    for start in {tick_array_start_index(t, spacing) for t in gross}:
        ticks = [start + i * spacing for i in range(TICK_ARRAY_SIZE)]
        states = tuple(TickState(t, net[t], gross[t]) if t in gross else TickState() for t in ticks)
        arrays[start] = TickArrayState(KEY, start, states, sum(1 for t in ticks if t in gross))
    return arrays


POSITIONS = [Position(-1200, 1200, 10**12), Position(-300, 100, 3 * 10**12), Position(-20, 20, 10**13),
             Position(2400, 3000, 10**12)]  # fmt: skip
ARRAYS = _tick_arrays(POSITIONS, SPACING)
CONFIG = AmmConfig(trade_fee_rate=2500, tick_spacing=SPACING)


def _pool(tick: int = 5, **changes: object) -> PoolState:
    price = get_sqrt_price_at_tick(tick) + 12345
    pool = PoolState(
        amm_config=KEY, token_mint_0=KEY, token_mint_1=KEY, token_vault_0=KEY, token_vault_1=KEY, observation_key=KEY,
        tick_spacing=SPACING, liquidity=sum(p.liquidity for p in POSITIONS if p.lower <= tick < p.upper),
        sqrt_price_x64=price, tick_current=get_tick_at_sqrt_price(price),
        tick_array_bitmap=pool_bitmap_with(ARRAYS, SPACING),
    )  # fmt: skip
    return dataclasses.replace(pool, **changes)  # type: ignore[arg-type]


def test_the_bitmaps_name_the_initialized_arrays() -> None:
    assert initialized_tick_arrays(_pool()) == [-1200, -600, 0, 1200, 2400, 3000]
    bound = 60 * SPACING * 512
    extension = TickArrayBitmapExtension(KEY, (1 | 1 << 3,) + (0,) * 13, (1 | 1 << 1 | 1 << 511,) + (0,) * 13)
    beyond = initialized_tick_arrays(_pool(), extension)
    assert {bound, bound + 3 * 600, -2 * bound, -2 * bound + 600, -bound - 600} <= set(beyond)


def test_a_small_swap_stays_in_its_array_and_a_large_one_walks_and_crosses() -> None:
    small = quote_exact_in(_pool(), CONFIG, ARRAYS, 1000, zero_for_one=True)
    # Its next tick down (-20) lies in the array below: the program needs that array too.
    assert small.tick_arrays == (0, -600) and small.crossed == 0 and small.amount_in == 1000
    large = quote_exact_in(_pool(), CONFIG, ARRAYS, 10**11, zero_for_one=True)
    assert large.tick_arrays[0] == 0 and len(large.tick_arrays) >= 2 and large.crossed >= 2
    assert large.liquidity != _pool().liquidity
    up = quote_exact_in(_pool(), CONFIG, ARRAYS, 10**11, zero_for_one=False)
    assert up.tick > 2400 and 2400 in up.tick_arrays and 1800 not in up.tick_arrays  # 1800 holds no tick


def test_exact_out_of_what_exact_in_bought_costs_no_more() -> None:
    for amount in (10, 10**5, 10**8, 10**9):
        for zero_for_one in (True, False):
            bought = quote_exact_in(_pool(), CONFIG, ARRAYS, amount, zero_for_one=zero_for_one)
            costs = quote_exact_out(_pool(), CONFIG, ARRAYS, bought.amount_out, zero_for_one=zero_for_one)
            assert costs.amount_out == bought.amount_out and costs.amount_in <= amount


def test_the_fee_and_its_shares() -> None:
    quote = quote_exact_in(_pool(), CONFIG, ARRAYS, 10**8, zero_for_one=True)
    assert quote.fee >= 10**8 * 2500 // 10**6
    assert quote.protocol_fee <= quote.fee * 120_000 // 10**6 and quote.fund_fee <= quote.fee * 40_000 // 10**6
    assert quote.protocol_fee >= quote.fee * 120_000 // 10**6 - len(quote.tick_arrays) * 10


def test_refusals_match_the_programs() -> None:
    with pytest.raises(InsufficientLiquidity):
        quote_exact_in(_pool(), CONFIG, ARRAYS, 10**15, zero_for_one=True)
    with pytest.raises(RejectedError, match="too small"):
        quote_exact_in(_pool(), CONFIG, ARRAYS, 1, zero_for_one=True)
    with pytest.raises(RejectedError):
        quote_exact_in(_pool(), CONFIG, ARRAYS, 0, zero_for_one=True)
    with pytest.raises(PoolNotTradable, match="disabled"):
        quote_exact_in(_pool(status=1 << 4), CONFIG, ARRAYS, 10**6, zero_for_one=True)
    with pytest.raises(PoolNotTradable, match="opens"):
        quote_exact_in(_pool(open_time=100), CONFIG, ARRAYS, 10**6, zero_for_one=True, unix_time=100)
    missing = {k: v for k, v in ARRAYS.items() if k != -600}
    with pytest.raises(TickArrayMissing) as caught:
        quote_exact_in(_pool(), CONFIG, missing, 10**9, zero_for_one=True)
    assert caught.value.start_index == -600


def test_a_pool_priced_outside_every_array_starts_in_the_next_one() -> None:
    pool = _pool(tick=1850, liquidity=0)  # in the array at 1800, which holds no tick
    quote = quote_exact_in(pool, CONFIG, ARRAYS, 10**6, zero_for_one=False)
    assert quote.tick_arrays[0] == 2400 and quote.tick >= 2400


@pytest.mark.parametrize("spacing", [1, 10, 60])
def test_bitmaps_mark_every_array_where_the_walk_reads_it_back(spacing: int) -> None:
    count = 60 * spacing
    low, high = tick_array_start_index(MIN_TICK, spacing), tick_array_start_index(MAX_TICK, spacing)
    rng = random.Random(spacing)
    edges = {low, high, -512 * count, 512 * count, -512 * count - count, 512 * count - count}
    starts = sorted({rng.randrange(low // count, high // count + 1) * count for _ in range(2000)} | edges)
    own, extension = bitmaps_with(starts, spacing, KEY)
    assert initialized_tick_arrays(_pool(tick_array_bitmap=own, tick_spacing=spacing), extension) == starts
    assert own == pool_bitmap_with([s for s in starts if -512 * count <= s < 512 * count], spacing)
