"""The simulated pools' integer math, against hand-computed vectors."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from adapters.simulated.curves import Q64, BinPool, ConstantProductPool, bin_price_q64, bin_step_log
from kernel.errors import InsufficientLiquidity
from kernel.money import ceil_div


def test_ceil_div() -> None:
    assert ceil_div(10, 5) == 2
    assert ceil_div(11, 5) == 3
    assert ceil_div(0, 5) == 0


# --- constant product ---------------------------------------------------------------------------


def test_cpmm_exact_in_vector() -> None:
    pool = ConstantProductPool(1_000_000, 2_000_000, fee_ppm=2500)
    result = pool.quote(10_000, x_to_y=True)
    # fee = ceil(10_000 * 2500 / 1e6) = 25; a' = 9_975; out = floor(9_975 * 2e6 / 1_009_975) = 19_752
    assert result.fee == 25
    assert result.amount_out == 19_752
    assert result.amount_in == 10_000
    assert result.price_impact_pct == Decimal(9_975) * 100 / Decimal(1_009_975)


def test_cpmm_fee_rounds_up() -> None:
    pool = ConstantProductPool(1_000_000, 2_000_000, fee_ppm=2500)
    # 399 * 2500 / 1e6 = 0.9975 -> 1
    assert pool.quote(399, x_to_y=True).fee == 1
    # 1 * 2500 / 1e6 -> 1: the whole input is fee, nothing comes out
    dust = pool.quote(1, x_to_y=True)
    assert (dust.fee, dust.amount_out) == (1, 0)


def test_cpmm_y_to_x_vector() -> None:
    pool = ConstantProductPool(1_000_000, 2_000_000, fee_ppm=3000)
    result = pool.quote(50_000, x_to_y=False)
    # fee = 150; a' = 49_850; out = floor(49_850 * 1e6 / 2_049_850) = 24_318
    assert result.fee == 150
    assert result.amount_out == 24_318


def test_cpmm_apply_moves_reserves_and_keeps_the_fee() -> None:
    pool = ConstantProductPool(1_000_000, 2_000_000, fee_ppm=2500)
    k_before = pool.reserve_x * pool.reserve_y
    result = pool.apply(10_000, x_to_y=True)
    assert (pool.reserve_x, pool.reserve_y) == (1_010_000, 2_000_000 - 19_752)
    assert result.amount_out == 19_752
    assert pool.reserve_x * pool.reserve_y > k_before
    # The next identical swap pays less: the fill moved the price.
    assert pool.quote(10_000, x_to_y=True).amount_out < 19_752


def test_cpmm_quote_does_not_mutate() -> None:
    pool = ConstantProductPool(1_000_000, 2_000_000)
    pool.quote(10_000, x_to_y=True)
    assert (pool.reserve_x, pool.reserve_y) == (1_000_000, 2_000_000)


def test_cpmm_impact_grows_with_size() -> None:
    pool = ConstantProductPool(10**12, 150 * 10**9)
    impacts = [pool.quote(size, x_to_y=True).price_impact_pct for size in (10**6, 10**8, 10**10, 10**11)]
    assert impacts == sorted(impacts)
    assert len(set(impacts)) == len(impacts)


def test_cpmm_at_price() -> None:
    pool = ConstantProductPool.at_price(Decimal("0.15"), 1_000_000_001)
    assert pool.reserve_y == 150_000_000  # floor(1_000_000_001 * 0.15)
    assert abs(pool.spot_price() - Decimal("0.15")) < Decimal("1e-9")
    assert abs(pool.log_price() - Decimal("0.15").ln()) < Decimal("1e-8")


def test_cpmm_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        ConstantProductPool(0, 1)
    with pytest.raises(ValueError):
        ConstantProductPool(1, 1).quote(0, x_to_y=True)


# --- bins ---------------------------------------------------------------------------------------


def test_bin_prices_are_q64() -> None:
    assert bin_price_q64(10, 0) == Q64
    assert bin_price_q64(10, 1) == Q64 * 1001 // 1000
    assert bin_price_q64(10, -1) == Q64 * 1000 // 1001
    assert bin_price_q64(25, 2) == Q64 * 10025**2 // 10000**2


def _flat_pool(**fees: int) -> BinPool:
    """Active bin 0 at price 1 with 1000 of each; two bins of 5000 on each side."""
    bins = {0: (1000, 1000), -1: (0, 5000), -2: (0, 5000), 1: (5000, 0), 2: (5000, 0)}
    return BinPool(10, 0, bins, **fees)


def test_bin_swap_inside_the_active_bin_is_constant_sum() -> None:
    pool = _flat_pool(base_fee_ppm=0, variable_fee_ppm=0)
    result = pool.quote(500, x_to_y=True)
    assert (result.amount_out, result.fee, result.bins_crossed) == (500, 0, 0)
    assert result.price_impact_pct == 0
    pool.apply(500, x_to_y=True)
    assert pool.bins[0] == (1500, 500)
    assert pool.active_id == 0


def test_bin_swap_walks_down_across_bins() -> None:
    pool = _flat_pool(base_fee_ppm=0, variable_fee_ppm=0)
    result = pool.quote(3000, x_to_y=True)
    # Bin 0 gives its 1000 y for 1000 x; the other 2000 x buy floor(2000 / 1.001) = 1998 y in bin -1.
    assert 2000 * bin_price_q64(10, -1) >> 64 == 1998
    assert (result.amount_out, result.bins_crossed) == (1000 + 1998, 1)
    assert result.price_impact_pct > 0
    assert pool.active_id == 0 and pool.bins[0] == (1000, 1000)  # a quote changes nothing
    pool.apply(3000, x_to_y=True)
    assert pool.active_id == -1
    assert pool.bins[0] == (2000, 0)
    assert pool.bins[-1] == (2000, 5000 - 1998)


def test_bin_swap_walks_up_for_y_to_x() -> None:
    pool = _flat_pool(base_fee_ppm=0, variable_fee_ppm=0)
    result = pool.apply(3000, x_to_y=False)
    # Bin 0 gives 1000 x for 1000 y; 2000 y buy floor(2000 / 1.001) = 1998 x in bin 1.
    assert (2000 << 64) // bin_price_q64(10, 1) == 1998
    assert result.amount_out == 2998
    assert pool.active_id == 1
    assert pool.bins[1] == (5000 - 1998, 2000)


def test_bin_fee_grows_with_bins_crossed() -> None:
    pool = _flat_pool(base_fee_ppm=10_000, variable_fee_ppm=10_000)
    assert [pool.fee_ppm(n) for n in range(4)] == [10_000, 20_000, 50_000, 100_000]
    assert pool.fee_ppm(10) == pool.max_fee_ppm
    result = pool.quote(2000, x_to_y=True)
    # Bin 0 at 1%: draining 1000 y takes 1000 net x, ceil(1000 * 1e6 / 990_000) = 1011 gross, fee 11.
    # Bin -1 at 2%: 989 left, fee ceil(19.78) = 20, net 969, out floor(969 / 1.001) = 968.
    assert (result.fee, result.amount_out, result.bins_crossed) == (31, 1000 + 968, 1)


def test_bin_effective_fee_rate_rises_with_size() -> None:
    pool = BinPool.at_price(Decimal("0.15"), 10**12, 150 * 10**9, bins_per_side=50)
    small = pool.quote(10**9, x_to_y=True)
    large = pool.quote(3 * 10**11, x_to_y=True)
    assert small.bins_crossed == 0 and large.bins_crossed > 5
    assert Decimal(large.fee) / large.amount_in > Decimal(small.fee) / small.amount_in
    assert large.price_impact_pct > small.price_impact_pct


def test_bin_pool_runs_out_of_bins() -> None:
    pool = _flat_pool(base_fee_ppm=0, variable_fee_ppm=0)
    with pytest.raises(InsufficientLiquidity):
        pool.quote(20_000, x_to_y=True)
    with pytest.raises(InsufficientLiquidity):
        pool.apply(20_000, x_to_y=False)
    assert pool.active_id == 0 and pool.bins[0] == (1000, 1000)


def test_bin_pool_at_price_sits_inside_its_bin() -> None:
    price = Decimal("0.1503")
    pool = BinPool.at_price(price, 10**12, 150 * 10**9, bin_step_bps=10, bins_per_side=20)
    position = price.ln() / bin_step_log(10)
    assert abs(pool.position() - position) < Decimal("1e-6")
    assert abs(pool.log_price() - price.ln()) < Decimal("1e-9")
    # The active bin is the one whose price is nearest, within half a bin.
    assert abs(pool.spot_price() / price - 1) <= Decimal("0.0005")
    assert len(pool.bins) == 41
    amount_x, amount_y = pool.bins[pool.active_id]
    assert amount_x > 0 and amount_y > 0


def test_bin_position_moves_continuously_with_fills() -> None:
    pool = BinPool.at_price(Decimal(1), 10**9, 10**9, bins_per_side=10, base_fee_ppm=0)
    positions = [pool.position()]
    for _ in range(30):
        pool.apply(3 * 10**7, x_to_y=True)
        positions.append(pool.position())
    steps = [a - b for a, b in itertools.pairwise(positions)]
    assert all(Decimal("0.2") < step < Decimal("0.4") for step in steps)  # ~0.3 of a bin each
    assert pool.active_id < -5
