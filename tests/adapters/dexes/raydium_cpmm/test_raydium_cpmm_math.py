"""The CPMM exact-in quote, lamport-exact against hand-computed vectors.

Every pool below holds effective reserves x = 1,000,000,000,000 (token 0) and y = 150,000,000,000 (token 1),
plus protocol, fund (and creator) fees accrued in its vaults, which are not liquidity. The fee tier is
mainnet config 0: trade 2500 ppm, protocol 120000 and fund 40000 ppm of the trade fee.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from solders.pubkey import Pubkey

from adapters.dexes.raydium_cpmm.layouts import AmmConfig, PoolState
from adapters.dexes.raydium_cpmm.math import is_creator_fee_on_input, quote_exact_in, swap_base_input
from adapters.solana.accounts import TransferFee, TransferFeeConfig
from kernel.errors import InsufficientLiquidity, PoolNotTradable, RejectedError

X, Y = 1_000_000_000_000, 150_000_000_000
PROTOCOL_0, FUND_0, PROTOCOL_1, FUND_1 = 1_200_000, 400_000, 30_000, 10_000
CONFIG = AmmConfig(
    bump=255, disable_create_pool=False, index=0, trade_fee_rate=2500, protocol_fee_rate=120_000,
    fund_fee_rate=40_000, create_pool_fee=150_000_000, protocol_owner=Pubkey.default(), fund_owner=Pubkey.default(),
    creator_fee_rate=500,
)  # fmt: skip
NOW = 1_750_000_000


def _key(n: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([n]) * 32)


POOL = PoolState(
    amm_config=_key(1), pool_creator=_key(2), token_0_vault=_key(3), token_1_vault=_key(4), lp_mint=_key(5),
    token_0_mint=_key(6), token_1_mint=_key(7), token_0_program=_key(8), token_1_program=_key(8),
    observation_key=_key(9), auth_bump=253, status=0, lp_mint_decimals=9, mint_0_decimals=9, mint_1_decimals=6,
    lp_supply=10**12, protocol_fees_token_0=PROTOCOL_0, protocol_fees_token_1=PROTOCOL_1, fund_fees_token_0=FUND_0,
    fund_fees_token_1=FUND_1, open_time=NOW - 60, recent_epoch=700,
)  # fmt: skip
VAULT_0 = X + PROTOCOL_0 + FUND_0
VAULT_1 = Y + PROTOCOL_1 + FUND_1


def test_token_0_to_1_with_protocol_and_fund_fees_accrued() -> None:
    # a = 1,234,567,891; trade fee = ceil(a*2500/1e6) = ceil(3,086,419.7275) = 3,086,420
    # protocol = floor(3,086,420*0.12) = 370,370; fund = floor(3,086,420*0.04) = 123,456
    # a' = a - 3,086,420 = 1,231,481,471
    # out = floor(a'*y/(x+a')) = floor(184,722,220,650,000,000,000 / 1,001,231,481,471) = 184,495,018
    q = quote_exact_in(POOL, CONFIG, VAULT_0, VAULT_1, 1_234_567_891, zero_for_one=True, now=NOW)
    assert (q.reserve_in, q.reserve_out) == (X, Y)
    assert (q.fees.trade, q.fees.protocol, q.fees.fund, q.fees.creator) == (3_086_420, 370_370, 123_456, 0)
    assert q.amount_swapped_in == 1_231_481_471
    assert q.amount_out == q.amount_swapped_out == 184_495_018
    assert q.fees.input_side == 3_086_420
    # impact = a'/(x+a') = 1,231,481,471 / 1,001,231,481,471 = 0.12299667...%
    assert q.price_impact_pct == Decimal("0.122997")


def test_token_1_to_0() -> None:
    # a = 250,000,000; trade = ceil(625,000) = 625,000; protocol 75,000; fund 25,000; a' = 249,375,000
    # out = floor(249,375,000 * 1e12 / (150e9 + 249,375,000)) = 1,659,740,681
    q = quote_exact_in(POOL, CONFIG, VAULT_0, VAULT_1, 250_000_000, zero_for_one=False, now=NOW)
    assert (q.reserve_in, q.reserve_out) == (Y, X)
    assert (q.fees.trade, q.fees.protocol, q.fees.fund) == (625_000, 75_000, 25_000)
    assert q.amount_swapped_in == 249_375_000
    assert q.amount_out == 1_659_740_681
    assert q.price_impact_pct == Decimal("0.165974")


CREATOR_0, CREATOR_1 = 50_000, 7_000
CREATOR_POOL = dataclasses.replace(
    POOL, enable_creator_fee=True, creator_fees_token_0=CREATOR_0, creator_fees_token_1=CREATOR_1
)


def test_creator_fee_on_the_input_side() -> None:
    # creator_fee_on = 0 (either token): charged on the input. t + c = 3000 ppm.
    # a = 987,654,321; total = ceil(a*3000/1e6) = ceil(2,962,962.963) = 2,962,963
    # creator = floor(2,962,963*500/3000) = 493,827; trade = 2,469,136; protocol 296,296; fund 98,765
    # a' = a - 2,962,963 = 984,691,358; out = floor(a'*y/(x+a')) = 147,558,404
    q = quote_exact_in(
        CREATOR_POOL, CONFIG, VAULT_0 + CREATOR_0, VAULT_1 + CREATOR_1, 987_654_321, zero_for_one=True, now=NOW
    )
    assert (q.reserve_in, q.reserve_out) == (X, Y)  # accrued creator fees are not liquidity either
    assert q.fees.creator_on_input
    assert (q.fees.creator, q.fees.trade, q.fees.protocol, q.fees.fund) == (493_827, 2_469_136, 296_296, 98_765)
    assert q.amount_swapped_in == 984_691_358
    assert q.amount_out == 147_558_404
    assert q.fees.input_side == 2_962_963
    assert q.price_impact_pct == Decimal("0.098372")


def test_creator_fee_on_the_output_side() -> None:
    # creator_fee_on = 2 (token 1 only) and a token 0 -> 1 trade: charged on the output.
    # a = 987,654,321; trade = ceil(2,469,135.8025) = 2,469,136; protocol 296,296; fund 98,765
    # a' = 985,185,185; swapped out = floor(a'*y/(x+a')) = 147,632,332
    # creator = ceil(147,632,332*500/1e6) = ceil(73,816.166) = 73,817; out = 147,558,515
    pool = dataclasses.replace(CREATOR_POOL, creator_fee_on=2)
    q = quote_exact_in(pool, CONFIG, VAULT_0 + CREATOR_0, VAULT_1 + CREATOR_1, 987_654_321, zero_for_one=True, now=NOW)
    assert not q.fees.creator_on_input
    assert (q.fees.trade, q.fees.protocol, q.fees.fund) == (2_469_136, 296_296, 98_765)
    assert q.amount_swapped_in == 985_185_185
    assert q.amount_swapped_out == 147_632_332
    assert q.fees.creator == 73_817
    assert q.amount_out == 147_558_515
    assert q.fees.input_side == 2_469_136


def test_creator_fee_off_when_the_pool_does_not_enable_it() -> None:
    pool = dataclasses.replace(CREATOR_POOL, enable_creator_fee=False)
    q = quote_exact_in(
        pool, CONFIG, VAULT_0 + CREATOR_0, VAULT_1 + CREATOR_1, 1_234_567_891, zero_for_one=True, now=NOW
    )
    assert q.fees.creator == 0
    assert q.amount_out == 184_495_018  # the same as without any creator fee


@pytest.mark.parametrize(
    ("creator_fee_on", "zero_for_one", "on_input"),
    [(0, True, True), (0, False, True), (1, True, True), (1, False, False), (2, True, False), (2, False, True)],
)
def test_creator_fee_side(creator_fee_on: int, zero_for_one: bool, on_input: bool) -> None:
    assert is_creator_fee_on_input(creator_fee_on, zero_for_one) is on_input


def test_unknown_creator_fee_model_is_refused() -> None:
    with pytest.raises(PoolNotTradable):
        is_creator_fee_on_input(3, True)


TRANSFER_FEE = TransferFeeConfig(
    older=TransferFee(epoch=0, maximum_fee=5_000_000, basis_points=100),
    newer=TransferFee(epoch=10, maximum_fee=1_000_000, basis_points=50),
)


def test_token_2022_input_transfer_fee_comes_off_first() -> None:
    # epoch 5: the older fee applies. transfer fee = min(ceil(123,456,789*100/10000), 5,000,000) = 1,234,568
    # a = 122,222,221; trade = ceil(305,555.5525) = 305,556; protocol 36,666; fund 12,222; a' = 121,916,665
    # out = floor(121,916,665*y/(x+121,916,665)) = 18,285,270
    q = quote_exact_in(
        POOL, CONFIG, VAULT_0, VAULT_1, 123_456_789, zero_for_one=True, now=NOW, epoch=5, transfer_fee_0=TRANSFER_FEE
    )
    assert q.fees.transfer_in == 1_234_568
    assert q.amount_in_after_transfer_fee == 122_222_221
    assert (q.fees.trade, q.fees.protocol, q.fees.fund) == (305_556, 36_666, 12_222)
    assert q.amount_swapped_in == 121_916_665
    assert q.amount_out == 18_285_270
    assert q.fees.input_side == 1_234_568 + 305_556


def test_token_2022_newer_fee_applies_from_its_epoch_and_is_capped() -> None:
    # epoch 12: newer fee, min(ceil(10e9*50/10000), 1,000,000) = 1,000,000 (capped from 50,000,000)
    # a = 9,999,000,000; trade = ceil(24,997,500) = 24,997,500; protocol 2,999,700; fund 999,900
    # a' = 9,974,002,500; out = floor(a'*y/(x+a')) = 1,481,325,629
    q = quote_exact_in(
        POOL,
        CONFIG,
        VAULT_0,
        VAULT_1,
        10_000_000_000,
        zero_for_one=True,
        now=NOW,
        epoch=12,
        transfer_fee_0=TRANSFER_FEE,
    )
    assert q.fees.transfer_in == 1_000_000
    assert (q.fees.trade, q.fees.protocol, q.fees.fund) == (24_997_500, 2_999_700, 999_900)
    assert q.amount_swapped_in == 9_974_002_500
    assert q.amount_out == 1_481_325_629


def test_token_2022_output_transfer_fee_comes_off_what_the_trader_receives() -> None:
    # The program takes the output mint's transfer fee from the amount it sends (its 6005 check is on the
    # rest). Token 1 to 0 of 250,000,000: swapped out 1,659,740,681 (as above); at epoch 5 the fee is
    # min(ceil(1,659,740,681*100/10000), 5,000,000) = 5,000,000 (capped); received 1,654,740,681.
    q = quote_exact_in(
        POOL, CONFIG, VAULT_0, VAULT_1, 250_000_000, zero_for_one=False, now=NOW, epoch=5, transfer_fee_0=TRANSFER_FEE
    )
    assert q.fees.transfer_in == 0
    assert q.amount_swapped_out == 1_659_740_681
    assert q.fees.transfer_out == 5_000_000
    assert q.amount_out == 1_654_740_681


def test_transfer_fee_rounding() -> None:
    fee = TransferFee(epoch=0, maximum_fee=10**12, basis_points=1)
    assert [fee.fee(n) for n in (0, 1, 9_999, 10_000, 10_001)] == [0, 1, 1, 1, 2]
    assert TransferFee(epoch=0, maximum_fee=10, basis_points=0).fee(10**9) == 0


def test_curve_alone_matches_the_constant_product() -> None:
    result = swap_base_input(1_000_000, 10**9, 10**9, trade_fee_rate=0, protocol_fee_rate=0, fund_fee_rate=0)
    # no fees: floor(1e6 * 1e9 / (1e9 + 1e6)) = 999,000 (999,000.999...)
    assert (result.amount_out, result.trade_fee) == (999_000, 0)


def test_swaps_disabled_by_status_bit_4() -> None:
    with pytest.raises(PoolNotTradable, match="disabled"):
        quote_exact_in(dataclasses.replace(POOL, status=4), CONFIG, VAULT_0, VAULT_1, 10**9, zero_for_one=True, now=NOW)
    # deposits (1) and withdrawals (2) disabled do not stop swaps
    q = quote_exact_in(dataclasses.replace(POOL, status=3), CONFIG, VAULT_0, VAULT_1, 10**9, zero_for_one=True, now=NOW)
    assert q.amount_out > 0


def test_pool_not_open_yet() -> None:
    pool = dataclasses.replace(POOL, open_time=NOW + 1)
    with pytest.raises(PoolNotTradable, match="opens at"):
        quote_exact_in(pool, CONFIG, VAULT_0, VAULT_1, 10**9, zero_for_one=True, now=NOW)
    assert quote_exact_in(pool, CONFIG, VAULT_0, VAULT_1, 10**9, zero_for_one=True, now=NOW + 1).amount_out > 0


def test_refusals_are_rejections() -> None:
    with pytest.raises(RejectedError) as small:
        quote_exact_in(POOL, CONFIG, VAULT_0, VAULT_1, 1, zero_for_one=False, now=NOW)
    assert small.value.code == "amount_too_small"
    with pytest.raises(RejectedError) as zero:
        quote_exact_in(POOL, CONFIG, VAULT_0, VAULT_1, 0, zero_for_one=True, now=NOW)
    assert zero.value.code == "invalid_amount"
    with pytest.raises(InsufficientLiquidity):
        quote_exact_in(POOL, CONFIG, PROTOCOL_0 + FUND_0, VAULT_1, 10**9, zero_for_one=True, now=NOW)
