"""DLMM exact-in quotes: bin prices exactly as the program stores them, the bitmap walk, quotes crossing bins
and bin arrays both ways, fees and impact, and agreement with the ``meteora-dlmm`` package to the unit."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import meteora_dlmm
import pytest
from meteora_dlmm import MintInfo, TransferFee
from meteora_dlmm import fees as package_fees

from adapters.dexes.meteora_dlmm.layouts import (
    BinArray,
    BitmapExtension,
    LbPair,
    RewardInfo,
    StaticParameters,
    encode_bin_array,
    encode_lb_pair,
)
from adapters.dexes.meteora_dlmm.math import Bitmap, NeedBinArrays, PairAccounts, price_from_id, quote_exact_in
from adapters.dexes.meteora_dlmm.package import pool_state
from adapters.solana.accounts import Clock
from kernel.errors import InsufficientLiquidity, PoolNotTradable
from tests.adapters.contract.meteora_dlmm import (
    SOL,
    SOL_PER_BIN,
    SOL_USDC_ACTIVE_ID,
    USDC,
    USDC_PER_BIN,
    LocalPair,
    build_pair,
    build_sol_usdc,
    pubkey_for,
)

CLOCK = Clock(slot=1_000, unix_timestamp=1_700_000_000)
POOL = build_sol_usdc()
package_quote: Any = meteora_dlmm.quote
package_total_fee: Any = package_fees.total_fee


def quote(pool: LocalPair = POOL, amount: int = 10**9, swap_for_y: bool = True, **options: Any) -> Any:
    arrays = options.pop("arrays", pool.array_bytes())
    return quote_exact_in(pool.accounts(), arrays, amount, swap_for_y, clock=options.pop("clock", CLOCK), **options)


def package(pool: LocalPair, amount: int, swap_for_y: bool, **options: Any) -> int:
    """The package alone, on every bin array of the pool, as its README shows."""
    state = pool_state(encode_lb_pair(pool.pair), list(pool.array_bytes().values()))
    state.exhaustive = True
    return int(package_quote(state, amount, swap_for_y, timestamp=CLOCK.unix_timestamp, **options).amount_out)


# --- bin prices ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bin_id", "bin_step", "stored"),
    [
        (0, 10, 2**64),
        (-70, 10, 17_200_231_768_266_385_305),
        (-1, 10, 18_428_315_757_951_600_016),
        (69, 10, 19_763_828_131_875_509_275),
        (-1, 250, 17_996_823_486_545_904_015),
        (69, 250, 101_359_960_942_596_611_675),
    ],
)
def test_bin_prices_equal_what_the_program_stored(bin_id: int, bin_step: int, stored: int) -> None:
    # Prices the program wrote into real mainnet bin arrays (commons/tests/fixtures of MeteoraAg/dlmm-sdk).
    assert price_from_id(bin_id, bin_step) == stored


def test_bin_prices_follow_the_bin_step() -> None:
    for bin_id in (-1955, -1, 1, 500, 4000):
        exact = (Decimal(1) + Decimal(10) / 10_000) ** bin_id * 2**64
        assert abs(price_from_id(bin_id, 10) - exact) / exact < Decimal("1e-15")
    assert price_from_id(SOL_USDC_ACTIVE_ID, 10) == 2_613_955_864_455_173_476  # ~141.70 USDC per SOL
    with pytest.raises(ValueError):
        price_from_id(0x80000, 1)


# --- the bitmap ------------------------------------------------------------------------------------------


def _bitmap(*indexes: int, extension: bool = True) -> Bitmap:
    inner = sum(1 << (i + 512) for i in indexes if -512 <= i < 512)
    positive, negative = [0] * 12, [0] * 12
    for i in indexes:
        if i >= 512:
            positive[i // 512 - 1] |= 1 << (i % 512)
        elif i < -512:
            negative[(-i - 1) // 512 - 1] |= 1 << ((-i - 1) % 512)
    ext = BitmapExtension(pubkey_for("pair"), tuple(positive), tuple(negative)) if extension else None
    return Bitmap(LbPair(bin_array_bitmap=inner), ext)


def test_bitmap_walks_existing_arrays_in_either_direction() -> None:
    bitmap = _bitmap(-6656, -1025, -513, -512, -29, -28, -25, 0, 511, 512, 6655)
    assert list(bitmap.walk(-28, swap_for_y=False)) == [-28, -25, 0, 511, 512, 6655]
    assert list(bitmap.walk(-26, swap_for_y=True)) == [-28, -29, -512, -513, -1025, -6656]
    assert bitmap.next_from(-27, swap_for_y=False) == -25
    assert bitmap.next_from(6656, swap_for_y=False) is None
    assert bitmap.next_from(-6657, swap_for_y=True) is None
    assert bitmap.has(-513) and bitmap.has(6655) and not bitmap.has(-514)
    assert [Bitmap.in_default_range(i) for i in (-513, -512, 511, 512)] == [False, True, True, False]
    # Without the extension only the LbPair's own bitmap counts.
    assert list(_bitmap(-513, -29, 512, extension=False).walk(0, swap_for_y=True)) == [-29]


# --- quotes --------------------------------------------------------------------------------------------


def test_one_sol_fills_in_the_active_bin_at_the_base_fee() -> None:
    q = quote(amount=10**9)
    # Base fee: base_factor 10_000 * bin_step 10 * 10 = 1e6 of 1e9 (0.1%); no volatility in the first bin.
    assert q.fee == 1_000_000 and q.fee_on_input
    assert q.amount_out == (999_000_000 * price_from_id(SOL_USDC_ACTIVE_ID, 10)) >> 64 == 141_561_128
    assert (q.bin_arrays, q.bins_crossed, q.price_impact_pct) == ((-28,), 1, Decimal(0))
    assert not q.needs_extension


def test_selling_sol_walks_down_into_the_next_array() -> None:
    q = quote(amount=50 * 10**9, swap_for_y=True)
    assert q.bin_arrays == (-28, -29)  # walk order: the active bin's array first
    assert q.bins_crossed == 24
    assert q.amount_out == package(POOL, 50 * 10**9, True) == 6_990_856_502
    # The active bin held half a bin; each bin below holds 300 USDC: 23.5 bins' worth paid out, minus rounding.
    assert 23 * USDC_PER_BIN < q.amount_out < 24 * USDC_PER_BIN


def test_buying_sol_walks_up_and_over_a_missing_array() -> None:
    q = quote(amount=12_000 * 10**6, swap_for_y=False)
    assert q.bin_arrays == (-28, -27, -25)  # -26 was never created: the walk skips it, swap2 does not list it
    assert q.amount_out == package(POOL, 12_000 * 10**6, False) == 77_147_326_646
    assert q.bins_crossed == 155
    assert q.amount_out < 155 * SOL_PER_BIN


def test_second_bin_pays_the_variable_fee() -> None:
    # Draining the active bin moves one bin away: volatility accumulator 10_000, variable fee
    # ceil(40_000 * (10_000 * 10)^2 / 1e11) = 4_000, so the rate is 1_004_000 of 1e9 there.
    sp = package_fees.StaticParams(10_000, 0, 40_000, 350_000, 30, 600, 5_000)
    vp = package_fees.VariableParams(10_000, 0, SOL_USDC_ACTIVE_ID, 0)
    assert package_total_fee(10, sp, vp) == 1_004_000
    q = quote(amount=2 * 10**9)
    assert q.bins_crossed == 2
    price_0, price_1 = price_from_id(SOL_USDC_ACTIVE_ID, 10), price_from_id(SOL_USDC_ACTIVE_ID - 1, 10)
    used_0 = -(-(USDC_PER_BIN // 2) * 2**64 // price_0)  # what buys the active bin's 150 USDC, rounded up
    fee_0 = -(-used_0 * 1_000_000 // (10**9 - 1_000_000))
    rest = 2 * 10**9 - used_0 - fee_0
    fee_1 = -(-rest * 1_004_000 // 10**9)
    assert q.fee == fee_0 + fee_1
    assert q.amount_out == USDC_PER_BIN // 2 + ((rest - fee_1) * price_1 >> 64)


@pytest.mark.parametrize("swap_for_y", [True, False], ids=["sell-sol", "buy-sol"])
def test_impact_grows_with_size_and_amounts_match_the_package(swap_for_y: bool) -> None:
    sizes = [10**6, 10**8, 10**9, 5 * 10**9, 80 * 10**9] if swap_for_y else [10**5, 10**7, 10**9, 5 * 10**9]
    impacts = []
    for amount in sizes:
        q = quote(amount=amount, swap_for_y=swap_for_y)
        assert q.amount_out == package(POOL, amount, swap_for_y)
        impacts.append(q.price_impact_pct)
    assert impacts == sorted(impacts) and impacts[-1] > impacts[0] + 1


def test_only_the_arrays_the_walk_needs_are_asked_for() -> None:
    arrays = POOL.array_bytes()
    with pytest.raises(NeedBinArrays) as need:
        quote(amount=12_000 * 10**6, swap_for_y=False, arrays={-28: arrays[-28]})
    assert need.value.indexes == (-27, -25)  # the next arrays that exist, up to the prefetch count
    with pytest.raises(NeedBinArrays) as need:
        quote(amount=12_000 * 10**6, swap_for_y=False, arrays={-28: arrays[-28]}, prefetch=1)
    assert need.value.indexes == (-27,)
    with pytest.raises(NeedBinArrays) as need:
        quote(amount=12_000 * 10**6, swap_for_y=False, arrays={-28: arrays[-28], -27: arrays[-27]})
    assert need.value.indexes == (-25,)
    with pytest.raises(NeedBinArrays) as need:
        quote(amount=10**9, arrays={})
    assert need.value.indexes == (-28, -29)
    # A swap that stays in the arrays given needs no more, and does not list arrays it does not reach.
    assert quote(amount=10**9, arrays={-28: arrays[-28]}).bin_arrays == (-28,)


def test_more_than_the_pool_holds_is_insufficient_liquidity() -> None:
    with pytest.raises(InsufficientLiquidity):
        quote(amount=10_000 * 10**9, swap_for_y=True)
    with pytest.raises(InsufficientLiquidity):
        quote(amount=40_000 * 10**6, swap_for_y=False)
    drained_below = build_pair(
        pubkey_for("up-only"), SOL, USDC, active_id=-1960, arrays=[-27], x_per_bin=10, y_per_bin=0
    )
    with pytest.raises(InsufficientLiquidity, match="no liquidity"):
        quote(drained_below, amount=10**9, swap_for_y=True)


def test_pairs_closed_to_swaps_are_refused() -> None:
    with pytest.raises(PoolNotTradable, match="disabled"):
        quote(_variant(status=1))
    later = _variant(pair_type=1, activation_type=1, activation_point=CLOCK.unix_timestamp + 1)
    with pytest.raises(PoolNotTradable, match="activates"):
        quote(later)
    assert quote(_variant(pair_type=1, activation_type=0, activation_point=CLOCK.slot)).amount_out > 0
    assert quote(_variant(pair_type=0, activation_point=2**60)).amount_out > 0  # only permissioned pairs wait


def test_fee_collected_in_y_comes_off_the_output_when_selling_x() -> None:
    only_y = _variant(parameters=StaticParameters(collect_fee_mode=1))
    sell = quote(only_y, amount=10**9, swap_for_y=True)
    gross = (10**9 * price_from_id(SOL_USDC_ACTIVE_ID, 10)) >> 64
    assert not sell.fee_on_input
    assert sell.fee == -(-gross * 1_000_000 // 10**9)
    assert sell.amount_out == gross - sell.fee == package(only_y, 10**9, True)
    buy = quote(only_y, amount=100 * 10**6, swap_for_y=False)
    assert buy.fee_on_input and buy.amount_out == package(only_y, 100 * 10**6, False)


def test_token_2022_transfer_fees_apply_outside_the_walk() -> None:
    fee = TransferFee(basis_points=150, max_fee=10**12)
    mint_in = MintInfo(decimals=9, is_token_2022=True, transfer_fee=fee)
    q = quote(amount=10**9, mint_in=mint_in)
    plain = quote(amount=10**9 - 15_000_000)  # 1.5% of the input never reaches the pool
    assert (q.amount_out, q.fee) == (plain.amount_out, plain.fee)
    mint_out = MintInfo(decimals=6, is_token_2022=True, transfer_fee=fee)
    out = quote(amount=10**9, mint_out=mint_out)
    full = quote(amount=10**9).amount_out
    assert out.amount_out == full - fee.fee_on(full)  # 1.5% of what the pool pays never reaches the user


def test_limit_orders_fill_after_market_making_liquidity() -> None:
    active = SOL_USDC_ACTIVE_ID
    array = POOL.arrays[-28]
    slot = active - array.lower_bin_id
    with_orders = dataclasses.replace(array.bins[slot], open_order_amount=1_000 * 10**6, limit_order_ask_side=0)
    bins = (*array.bins[:slot], with_orders, *array.bins[slot + 1 :])
    arrays = {**POOL.array_bytes(), -28: encode_bin_array(BinArray(-28, POOL.address, bins))}
    q = quote(amount=5 * 10**9, arrays=arrays)
    assert q.bins_crossed == 1  # the bid orders in the active bin take the whole sale
    state = pool_state(encode_lb_pair(POOL.pair), list(arrays.values()))
    state.exhaustive = True
    assert q.amount_out == package_quote(state, 5 * 10**9, True, timestamp=CLOCK.unix_timestamp).amount_out
    # A liquidity-mining pair (a reward set) ignores limit orders: the sale walks down as before.
    farming = _variant(reward_infos=(RewardInfo(mint=pubkey_for("reward")), RewardInfo()))
    assert quote(farming, amount=5 * 10**9, arrays=arrays).bins_crossed == 3


def test_arrays_of_another_pair_are_refused() -> None:
    stranger = BinArray(-28, pubkey_for("someone-else"), POOL.arrays[-28].bins)
    with pytest.raises(Exception, match="do not belong"):
        quote(amount=10**9, arrays={-28: encode_bin_array(stranger)})


def _variant(**fields: Any) -> LocalPair:
    """The SOL/USDC pair with some LbPair fields changed (same bins)."""
    pair = dataclasses.replace(POOL.pair, **fields)
    return dataclasses.replace(POOL, pair=pair)


def test_accounts_view_matches_the_encoded_pair() -> None:
    accounts = PairAccounts.from_bytes(POOL.address, encode_lb_pair(POOL.pair))
    assert accounts.pair == POOL.pair
    assert accounts.active_array == -28
    assert accounts.arrays_ahead(True, 5) == (-28, -29)
    assert accounts.arrays_ahead(False, 2) == (-28, -27)
    assert accounts.arrays_ahead(False, 5, skip=frozenset({-27})) == (-28, -25)
