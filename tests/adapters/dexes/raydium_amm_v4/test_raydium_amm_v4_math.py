"""The AMM v4 quotes, unit-exact against hand-computed vectors, and their properties.

The pool holds reserves x = 1,000,000,000,000 coin and y = 150,000,000,000 pc beyond the PnL the protocol has
yet to take (which sits in the vaults too), and the default swap fee 25/10000.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from adapters.dexes.raydium_amm_v4.config import NO_ORDER_BOOK_BUILD, CeilRounding, ProgramBuild
from adapters.dexes.raydium_amm_v4.layouts import AmmInfo, AmmStatus, Fees, StateData
from adapters.dexes.raydium_amm_v4.math import program_ceil_div, quote_exact_in, quote_exact_out
from kernel.errors import InsufficientLiquidity, PoolNotTradable, RejectedError
from kernel.money import U64_MAX

X, Y = 1_000_000_000_000, 150_000_000_000
PNL_COIN, PNL_PC = 1_234_567, 89_012
COIN_VAULT, PC_VAULT = X + PNL_COIN, Y + PNL_PC
NOW = 1_750_000_000
LEGACY, CEIL = CeilRounding.NEAREST_BELOW_ONE, CeilRounding.CEIL


def _key(n: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([n]) * 32)


AMM = AmmInfo(
    status=AmmStatus.SWAP_ONLY, nonce=254, order_num=7, depth=3, coin_decimals=9, pc_decimals=6, state=1,
    reset_flag=1, min_size=1, vol_max_cut_ratio=500, amount_wave=1, coin_lot_size=1, pc_lot_size=1,
    min_price_multiplier=1, max_price_multiplier=1, sys_decimal_value=10**9, fees=Fees(),
    state_data=StateData(need_take_pnl_coin=PNL_COIN, need_take_pnl_pc=PNL_PC), coin_vault=_key(1),
    pc_vault=_key(2), coin_vault_mint=_key(3), pc_vault_mint=_key(4), lp_mint=_key(5), open_orders=_key(6),
    market=_key(7), market_program=_key(8), target_orders=_key(9), amm_owner=_key(10), lp_amount=1,
)  # fmt: skip


def _in(amount: int, coin_to_pc: bool = True, amm: AmmInfo = AMM, rounding: CeilRounding = LEGACY) -> int:
    return quote_exact_in(
        amm, COIN_VAULT, PC_VAULT, amount, coin_to_pc=coin_to_pc, now=NOW, build=ProgramBuild(rounding)
    ).amount_out


def test_coin_to_pc() -> None:
    # fee = ceil(1,234,567,891 * 25 / 10000) = ceil(3,086,419.7275) = 3,086,420; a' = 1,231,481,471
    # out = floor(y * a' / (x + a')) = floor(184,722,220,650,000,000,000 / 1,001,231,481,471) = 184,495,018
    q = quote_exact_in(AMM, COIN_VAULT, PC_VAULT, 1_234_567_891, coin_to_pc=True, now=NOW)
    assert (q.swap_fee, q.amount_swapped_in, q.amount_out) == (3_086_420, 1_231_481_471, 184_495_018)
    assert (q.reserve_in, q.reserve_out) == (X, Y)  # the PnL owed is not liquidity
    assert q.price_impact_pct == Decimal("0.122997")  # a' / (x + a') in percent


def test_pc_to_coin() -> None:
    # fee = ceil(987,654,321 * 25 / 10000) = ceil(2,469,135.8025) = 2,469,136; a' = 985,185,185
    # out = floor(x * a' / (y + a')) = floor(985,185,185,000,000,000,000 / 150,985,185,185) = 6,525,045,379
    q = quote_exact_in(AMM, COIN_VAULT, PC_VAULT, 987_654_321, coin_to_pc=False, now=NOW)
    assert (q.swap_fee, q.amount_swapped_in, q.amount_out) == (2_469_136, 985_185_185, 6_525_045_379)


def test_the_swap_fee_is_charged_not_the_trade_fee() -> None:
    amm = dataclasses.replace(AMM, fees=Fees(trade_fee_numerator=25, swap_fee_numerator=30))
    q = quote_exact_in(amm, COIN_VAULT, PC_VAULT, 1_000_000, coin_to_pc=True, now=NOW)
    assert q.swap_fee == 3_000  # 1,000,000 * 30 / 10000


def test_exact_out() -> None:
    # a' = ceil(x * 184,000,000 / (y - 184,000,000)) = ceil(184e18 / 149,816,000,000) = 1,228,173,226
    # in = ceil(a' * 10000 / 9975) = 1,231,251,355; fee = in - a' = 3,078,129
    q = quote_exact_out(AMM, COIN_VAULT, PC_VAULT, 184_000_000, coin_to_pc=True, now=NOW)
    assert (q.amount_swapped_in, q.amount_in, q.swap_fee) == (1_228_173_226, 1_231_251_355, 3_078_129)


@pytest.mark.parametrize(
    ("numerator", "denominator", "legacy", "ceil"),
    [(0, 7, 0, 0), (3, 7, 0, 1), (4, 7, 1, 1), (7, 7, 1, 1), (8, 7, 2, 2), (14, 7, 2, 2), (15, 7, 3, 3)],
)
def test_ceil_division_rounds_a_quotient_below_one_by_build(
    numerator: int, denominator: int, legacy: int, ceil: int
) -> None:
    assert program_ceil_div(numerator, denominator, LEGACY) == legacy
    assert program_ceil_div(numerator, denominator, CEIL) == ceil


def test_small_inputs_pay_no_fee_on_the_older_builds() -> None:
    # 199 * 25 = 4,975 < 10000 / 2: the older builds round the fee to 0; 200 * 25 = 5,000 rounds to 1.
    def fee(amount: int, rounding: CeilRounding) -> int:
        q = quote_exact_in(AMM, COIN_VAULT, PC_VAULT, amount, coin_to_pc=False, now=NOW, build=ProgramBuild(rounding))
        return q.swap_fee

    sizes = (2, 199, 200, 399, 400, 401)
    assert [fee(a, LEGACY) for a in sizes] == [0, 0, 1, 1, 1, 2]
    assert [fee(a, CEIL) for a in sizes] == [1, 1, 1, 1, 1, 2]


def test_status_decides_whether_the_pool_swaps() -> None:
    assert _in(10**9) > 0
    waiting = dataclasses.replace(AMM, status=AmmStatus.WAITING_TRADE,
                                  state_data=dataclasses.replace(AMM.state_data, pool_open_time=NOW))  # fmt: skip
    assert _in(10**9, amm=waiting) == _in(10**9)  # open from its open time on
    early = dataclasses.replace(waiting, state_data=dataclasses.replace(waiting.state_data, pool_open_time=NOW + 1))
    with pytest.raises(PoolNotTradable, match="opens at"):
        _in(10**9, amm=early)
    for status in (AmmStatus.INITIALIZED, AmmStatus.ORDER_BOOK_ONLY):
        with pytest.raises(PoolNotTradable, match="OpenBook"):
            _in(10**9, amm=dataclasses.replace(AMM, status=status))
    # the build without the order book swaps status 1 on its vaults, and refuses 5
    initialized = dataclasses.replace(AMM, status=AmmStatus.INITIALIZED)
    on_vaults = quote_exact_in(initialized, COIN_VAULT, PC_VAULT, 10**9, coin_to_pc=True, now=NOW,
                               build=NO_ORDER_BOOK_BUILD)  # fmt: skip
    assert on_vaults.amount_out == _in(10**9, rounding=CEIL)
    with pytest.raises(PoolNotTradable, match="disabled"):
        quote_exact_in(dataclasses.replace(AMM, status=AmmStatus.ORDER_BOOK_ONLY), COIN_VAULT, PC_VAULT, 10**9,
                       coin_to_pc=True, now=NOW, build=NO_ORDER_BOOK_BUILD)  # fmt: skip
    for closed in (0, 2, 3, 4, 9):
        with pytest.raises(PoolNotTradable, match="disabled"):
            _in(10**9, amm=dataclasses.replace(AMM, status=closed))


def test_refusals() -> None:
    with pytest.raises(RejectedError, match="positive u64"):
        _in(0)
    with pytest.raises(RejectedError, match="positive u64"):
        _in(U64_MAX + 1)
    with pytest.raises(RejectedError, match="too small") as small:
        _in(6)  # 6 lamports buy 0.9 micro-USDC
    assert small.value.code == "amount_too_small"
    with pytest.raises(InsufficientLiquidity):
        quote_exact_out(AMM, COIN_VAULT, PC_VAULT, Y, coin_to_pc=True, now=NOW)
    with pytest.raises(PoolNotTradable, match="PnL"):
        quote_exact_in(AMM, PNL_COIN - 1, PC_VAULT, 10**9, coin_to_pc=True, now=NOW)
    with pytest.raises(InsufficientLiquidity):
        quote_exact_in(AMM, PNL_COIN, PC_VAULT, 10**9, coin_to_pc=True, now=NOW)
    with pytest.raises(RejectedError) as costly:  # Y - 1 pc costs x * (Y - 1): more than a u64
        quote_exact_out(AMM, COIN_VAULT, PC_VAULT, Y - 1, coin_to_pc=True, now=NOW)
    assert costly.value.code == "amount_too_large"


amounts = st.integers(min_value=1, max_value=U64_MAX // 4)
rounding_modes = st.sampled_from([LEGACY, CEIL])


@given(amount=amounts, coin_to_pc=st.booleans(), rounding=rounding_modes)
def test_out_never_reaches_the_reserve_and_the_fee_is_the_ceiling(
    amount: int, coin_to_pc: bool, rounding: CeilRounding
) -> None:
    try:
        q = quote_exact_in(
            AMM, COIN_VAULT, PC_VAULT, amount, coin_to_pc=coin_to_pc, now=NOW, build=ProgramBuild(rounding)
        )
    except RejectedError:
        return
    assert 0 < q.amount_out < q.reserve_out
    charged = amount * 25  # the fee is charged / 10000, rounded up (to the nearest, below one unit, on older builds)
    if rounding is CEIL or charged >= 10_000:
        assert (q.swap_fee - 1) * 10_000 < charged <= q.swap_fee * 10_000
    else:
        assert q.swap_fee == (1 if 2 * charged >= 10_000 else 0)
    # constant product: the pool never loses, whatever the rounding
    assert (q.reserve_in + amount) * (q.reserve_out - q.amount_out) >= q.reserve_in * q.reserve_out


@given(amount=amounts, coin_to_pc=st.booleans(), rounding=rounding_modes)
def test_more_in_never_pays_less(amount: int, coin_to_pc: bool, rounding: CeilRounding) -> None:
    try:
        a, b = (_in(x, coin_to_pc, rounding=rounding) for x in (amount, amount + 1))
    except RejectedError:
        return
    assert b >= a


@given(out=st.integers(min_value=1, max_value=Y - 1), coin_to_pc=st.booleans(), rounding=rounding_modes)
def test_exact_out_buys_at_least_its_output_exactly_in(out: int, coin_to_pc: bool, rounding: CeilRounding) -> None:
    reserve_out = Y if coin_to_pc else X
    if out >= reserve_out:
        return
    try:
        needs = quote_exact_out(
            AMM, COIN_VAULT, PC_VAULT, out, coin_to_pc=coin_to_pc, now=NOW, build=ProgramBuild(rounding)
        )
        got = _in(needs.amount_in, coin_to_pc, rounding=rounding)
    except RejectedError:
        return
    assert got >= out  # what an exact-out leg's guard relies on
    assert needs.swap_fee == needs.amount_in - needs.amount_swapped_in >= 0
