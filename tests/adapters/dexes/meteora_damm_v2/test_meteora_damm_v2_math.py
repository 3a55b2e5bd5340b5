"""The DAMM v2 quotes by hand: the constant-product and concentrated curves with their rounding, fees on the
input or the output, the fee schedules (time, market cap, rate limiter), the dynamic fee, the cap, activation
and exact out. The real program is the judge in ``test_meteora_damm_v2_program.py``."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import pytest
from solders.pubkey import Pubkey

from adapters.dexes.meteora_damm_v2.layouts import (
    ActivationType,
    BaseFeeMode,
    CollectFeeMode,
    DynamicFee,
    FeeMarketCapScheduler,
    FeeRateLimiter,
    FeeTimeScheduler,
    Pool,
    PoolFees,
)
from adapters.dexes.meteora_damm_v2.math import (
    dynamic_fee_numerator,
    fee_in_period,
    fee_rate,
    quote_exact_in,
    quote_exact_out,
    rate_limiter_numerator,
    split_fee,
    transfer_fee_included,
)
from adapters.solana.accounts import TransferFee, TransferFeeConfig
from kernel.errors import InsufficientLiquidity, PoolNotTradable, RejectedError

MIN_SQRT_PRICE = 4_295_048_016
MAX_SQRT_PRICE = 79_226_673_521_066_979_257_578_248_091
FLAT = FeeTimeScheduler(2_500_000)  # 0.25%


def _key(n: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([n]) * 32)


def _compounding(fee: object = FLAT, **changes: Any) -> Pool:
    pool = Pool(
        PoolFees(fee, compounding_fee_bps=5000),  # type: ignore[arg-type]
        _key(1), _key(2), _key(3), _key(4), liquidity=10**30, sqrt_min_price=0, sqrt_max_price=2**128 - 1,
        sqrt_price=2**64, collect_fee_mode=CollectFeeMode.COMPOUNDING, token_a_amount=1_000_000,
        token_b_amount=2_000_000,
    )  # fmt: skip
    return dataclasses.replace(pool, **changes)


def _concentrated(lower: int = MIN_SQRT_PRICE, upper: int = MAX_SQRT_PRICE, **changes: Any) -> Pool:
    pool = Pool(
        PoolFees(FLAT), _key(1), _key(2), _key(3), _key(4), liquidity=10**18 << 64, sqrt_min_price=lower,
        sqrt_max_price=upper, sqrt_price=2**64 * 3 // 2, token_a_amount=10**18, token_b_amount=10**18,
    )  # fmt: skip
    return dataclasses.replace(pool, **changes)


def _in(pool: Pool, amount: int, *, a_to_b: bool, point: int = 1_000) -> int:
    return quote_exact_in(pool, amount, a_to_b=a_to_b, slot=point, unix_time=point).amount_out


def test_constant_product_fee_on_the_output_a_to_b() -> None:
    # out = floor(2e6 * 1e4 / 1.01e6) = 19801; the fee ceil(19801 * 0.25%) = 50 comes off it
    q = quote_exact_in(_compounding(), 10_000, a_to_b=True, slot=0, unix_time=0)
    assert (q.amount_swapped_out, q.fee, q.amount_out, q.fee_on_input) == (19_801, 50, 19_751, False)
    # the protocol takes 20% of the fee, the pool compounds half the rest
    assert q.split == split_fee(_compounding().pool_fees, 50)
    assert (q.split.protocol, q.split.compounding, q.split.claiming) == (10, 20, 20)


def test_constant_product_fee_on_the_input_b_to_a() -> None:
    # fee ceil(1e4 * 0.25%) = 25; out = floor(1e6 * 9975 / 2009975) = 4962
    q = quote_exact_in(_compounding(), 10_000, a_to_b=False, slot=0, unix_time=0)
    assert (q.fee, q.amount_swapped_in, q.amount_out, q.fee_on_input) == (25, 9_975, 4_962, True)


def test_constant_product_exact_out_rounds_the_input_up() -> None:
    # in' = ceil(2e6 * 4962 / (1e6 - 4962)) = 9974, grossed up ceil(9974 / 0.9975) = 9999
    q = quote_exact_out(_compounding(), 4_962, a_to_b=False, slot=0, unix_time=0)
    assert (q.amount_swapped_in, q.amount_in, q.fee) == (9_974, 9_999, 25)
    # A to B: the output fee is grossed up first, ceil(19751 / 0.9975) = 19801, then ceil(1e6 * 19801 / 1980199)
    q = quote_exact_out(_compounding(), 19_751, a_to_b=True, slot=0, unix_time=0)
    assert (q.fee, q.amount_in) == (50, 10_000)
    with pytest.raises(InsufficientLiquidity):
        quote_exact_out(_compounding(), 2_000_000, a_to_b=True, slot=0, unix_time=0)


def test_the_concentrated_curve_rounds_against_the_trader() -> None:
    pool = _concentrated()
    p, liquidity = Fraction(pool.sqrt_price, 2**64), Fraction(pool.liquidity, 2**64)
    for amount in (999, 10**9, 10**15):
        # A in: the exact price after is L*p/(L + a*p); B out = L*(p - p'); the program rounds p' up, out down
        exact_out_b = liquidity * (p - liquidity * p / (liquidity + amount * p))
        assert exact_out_b - 2 < _swapped_out(pool, amount, a_to_b=True) <= exact_out_b
        # B in: p' = p + b/L; A out = L*(1/p - 1/p')
        exact_out_a = liquidity * (1 / p - 1 / (p + amount / liquidity))
        assert exact_out_a - 2 < _swapped_out(pool, amount, a_to_b=False) <= exact_out_a


def _swapped_out(pool: Pool, amount: int, *, a_to_b: bool) -> int:
    return quote_exact_in(pool, amount, a_to_b=a_to_b, slot=0, unix_time=0).amount_swapped_out


def test_exact_out_never_costs_more_than_the_exact_in_that_buys_it() -> None:
    for pool in (_concentrated(), _compounding(), _concentrated(collect_fee_mode=CollectFeeMode.ONLY_B)):
        for a_to_b in (True, False):
            for amount in (1_000, 12_345, 99_999):
                bought = quote_exact_in(pool, amount, a_to_b=a_to_b, slot=0, unix_time=0).amount_out
                if bought == 0:
                    continue
                cost = quote_exact_out(pool, bought, a_to_b=a_to_b, slot=0, unix_time=0).amount_in
                assert cost <= amount


def test_a_swap_leaving_the_price_range_is_refused() -> None:
    p = 2**64 * 3 // 2
    narrow = _concentrated(lower=p - p // 1000, upper=p + p // 1000)
    assert _in(narrow, 10**6, a_to_b=True) > 0
    with pytest.raises(InsufficientLiquidity, match="outside the pool's range"):
        _in(narrow, 10**17, a_to_b=True)
    with pytest.raises(InsufficientLiquidity, match="outside the pool's range"):
        _in(narrow, 10**17, a_to_b=False)


def test_a_pool_pays_no_more_than_the_reserve_it_tracks() -> None:
    with pytest.raises(InsufficientLiquidity, match="tracks"):
        _in(_concentrated(token_b_amount=5), 10**6, a_to_b=True)


def test_the_linear_time_schedule_steps_down_per_period() -> None:
    fee = FeeTimeScheduler(500_000_000, BaseFeeMode.FEE_TIME_SCHEDULER_LINEAR, 30, 60, 10_000_000)
    pool = _compounding(fee, activation_point=1_000, activation_type=ActivationType.TIMESTAMP)
    at = {t: fee_rate(pool, t, a_to_b=True, amount_in=1).base for t in (1_000, 1_059, 1_060, 1_000 + 60 * 29, 10**6)}
    assert at == {1_000: 500_000_000, 1_059: 500_000_000, 1_060: 490_000_000, 2_740: 210_000_000, 10**6: 200_000_000}
    assert fee_rate(pool, 999, a_to_b=True, amount_in=1).base == 200_000_000  # before activation: the lowest


def test_the_exponential_time_schedule_compounds_in_q64() -> None:
    assert fee_in_period(500_000_000, 265, 0) == 500_000_000
    one = fee_in_period(500_000_000, 265, 1)  # 500M * (1 - 2.65%) = 486,750,000, truncated in Q64.64
    assert 486_749_998 <= one <= 486_750_000
    many = fee_in_period(500_000_000, 265, 120)
    assert abs(many - 500_000_000 * (1 - 0.0265) ** 120) < 100
    assert fee_in_period(500_000_000, 0, 50) == 500_000_000


def test_the_market_cap_schedule_counts_price_steps() -> None:
    init = 2**64
    fee = FeeMarketCapScheduler(300_000_000, BaseFeeMode.FEE_MARKET_CAP_SCHEDULER_LINEAR, 10, 100, 3_600,
                                20_000_000)  # fmt: skip
    pool = _compounding(fee, activation_point=0)
    pool = dataclasses.replace(pool, pool_fees=dataclasses.replace(pool.pool_fees, init_sqrt_price=init))
    rose = dataclasses.replace(pool, sqrt_price=init + init * 501 // 10_000)  # 501 bps up: 5 steps of 100
    assert fee_rate(rose, 10, a_to_b=True, amount_in=1).base == 300_000_000 - 5 * 20_000_000
    assert fee_rate(dataclasses.replace(pool, sqrt_price=init // 2), 10, a_to_b=True, amount_in=1).base == 300_000_000
    assert fee_rate(rose, 3_601, a_to_b=True, amount_in=1).base == 100_000_000  # expired: the lowest


def test_the_rate_limiter_charges_more_per_reference_amount_on_b_to_a_swaps() -> None:
    fee = FeeRateLimiter(10_000_000, fee_increment_bps=10, max_limiter_duration=100, max_fee_bps=5000,
                         reference_amount=1_000)  # fmt: skip
    # 2500 in: 1000 at 1%, 1000 at 1.1%, 500 at 1.2%: a fee of 27, as a numerator ceil(27e9 / 2500)
    assert rate_limiter_numerator(fee, 2_500) == 10_800_000
    assert rate_limiter_numerator(fee, 1_000) == 10_000_000
    pool = _compounding(fee, collect_fee_mode=CollectFeeMode.ONLY_B, activation_point=50)
    limited = fee_rate(pool, 60, a_to_b=False, amount_in=2_500)
    assert (limited.numerator, limited.rate_limited) == (10_800_000, True)
    # far beyond the last increment the maximum (50%) applies to the rest: the numerator nears it
    assert 490_000_000 < rate_limiter_numerator(fee, 10**9) < 500_000_000
    assert fee_rate(pool, 60, a_to_b=True, amount_in=2_500).base == 10_000_000  # A to B: never
    assert fee_rate(pool, 151, a_to_b=False, amount_in=2_500).base == 10_000_000  # after its window
    with pytest.raises(PoolNotTradable, match="rate limiter"):
        quote_exact_out(pool, 100, a_to_b=False, slot=60, unix_time=60)


def test_the_dynamic_fee_adds_the_volatility_the_last_swap_left_and_the_cap_holds() -> None:
    dynamic = DynamicFee(initialized=1, bin_step=1, variable_fee_control=1913, volatility_accumulator=1_380_000)
    fees = PoolFees(FLAT, dynamic_fee=dynamic)
    # (1380000 * 1)^2 * 1913 / 1e11 = 36431.172, rounded up
    assert dynamic_fee_numerator(fees) == 36_432
    pool = dataclasses.replace(_compounding(), pool_fees=fees)
    assert fee_rate(pool, 0, a_to_b=True, amount_in=1).numerator == 2_500_000 + 36_432
    assert dynamic_fee_numerator(PoolFees(FLAT, dynamic_fee=dataclasses.replace(dynamic, initialized=0))) == 0
    steep = dataclasses.replace(pool, pool_fees=PoolFees(FeeTimeScheduler(499_990_000), dynamic_fee=dynamic))
    assert fee_rate(steep, 0, a_to_b=True, amount_in=1).numerator == 500_000_000  # fee version 0: 50%
    assert fee_rate(dataclasses.replace(steep, fee_version=1), 0, a_to_b=True, amount_in=1).numerator == 500_026_432


def test_a_pool_not_yet_activated_or_disabled_refuses_swaps() -> None:
    by_time = _compounding(activation_point=1_000)
    with pytest.raises(PoolNotTradable, match="activates at unix time 1000"):
        quote_exact_in(by_time, 10, a_to_b=True, slot=5_000, unix_time=999)
    assert quote_exact_in(by_time, 10_000, a_to_b=True, slot=0, unix_time=1_000).amount_out > 0
    by_slot = _compounding(activation_point=1_000, activation_type=ActivationType.SLOT)
    with pytest.raises(PoolNotTradable, match="slot 1000"):
        quote_exact_in(by_slot, 10, a_to_b=True, slot=999, unix_time=5_000)
    with pytest.raises(PoolNotTradable, match="disabled"):
        quote_exact_in(_compounding(pool_status=1), 10, a_to_b=True, slot=0, unix_time=0)


def test_amounts_that_buy_nothing_are_refused() -> None:
    with pytest.raises(RejectedError) as caught:
        quote_exact_in(_compounding(), 1, a_to_b=True, slot=0, unix_time=0)
    assert caught.value.code == "amount_too_small"
    with pytest.raises(RejectedError):
        quote_exact_in(_compounding(), 0, a_to_b=True, slot=0, unix_time=0)


def test_transfer_fees_come_off_the_input_first_and_are_added_back_in_exact_out() -> None:
    one_percent = TransferFeeConfig(TransferFee(0, 50, 100), TransferFee(0, 50, 100))
    # 99 arrives when 100 is sent (fee ceil(100 * 1%) = 1); past the maximum fee, amount + 50
    assert transfer_fee_included(one_percent, 99, 0) == 100
    assert transfer_fee_included(one_percent, 10**6, 0) == 10**6 + 50
    assert transfer_fee_included(None, 99, 0) == 99
    pool = _compounding()
    q = quote_exact_in(pool, 10_000, a_to_b=False, slot=0, unix_time=0, transfer_fee_b=one_percent)
    assert (q.transfer_fee_in, q.fee) == (50, 25)  # 1% capped at 50, then 0.25% of the 9,950 left
    # buying exactly what 10,000 in bought costs at most 10,000
    needs = quote_exact_out(pool, q.amount_out, a_to_b=False, slot=0, unix_time=0, transfer_fee_b=one_percent)
    assert needs.amount_in <= 10_000
