"""The Pool layout: every field a quote reads at its offset in cp-amm's ``state/pool.rs`` and ``state/fee.rs``
(1112 bytes with the Anchor discriminator, packed), the three base fee kinds, round trips and refusals."""

from __future__ import annotations

import dataclasses
import hashlib
import struct

import pytest
from solders.pubkey import Pubkey

from adapters.dexes.meteora_damm_v2.layouts import (
    POOL_DISCRIMINATOR,
    POOL_LEN,
    TOKEN_A_MINT_OFFSET,
    TOKEN_B_MINT_OFFSET,
    BaseFeeMode,
    DynamicFee,
    FeeMarketCapScheduler,
    FeeRateLimiter,
    FeeTimeScheduler,
    Pool,
    PoolFees,
    UnknownBaseFee,
    decode_base_fee,
    decode_pool,
    encode_base_fee,
    encode_pool,
)
from adapters.solana.errors import MalformedAccount


def _key(n: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([n]) * 32)


# Every number distinct, so a field read from a neighbour's offset shows.
POOL = Pool(
    pool_fees=PoolFees(
        base_fee=FeeTimeScheduler(500_000_000, BaseFeeMode.FEE_TIME_SCHEDULER_EXPONENTIAL, 120, 60, 265),
        protocol_fee_percent=21, referral_fee_percent=22, compounding_fee_bps=23,
        dynamic_fee=DynamicFee(
            initialized=1, max_volatility_accumulator=14_460_000, variable_fee_control=1913, bin_step=2,
            filter_period=10, decay_period=120, reduction_factor=5000, last_update_timestamp=1_750_195_943,
            bin_step_u128=1_844_674_407_370_955, sqrt_price_reference=2**100 + 1, volatility_accumulator=1_380_000,
            volatility_reference=2**127 + 3,
        ),
        init_sqrt_price=2**64 + 5, base_fee_padding=77,
    ),
    token_a_mint=_key(1), token_b_mint=_key(2), token_a_vault=_key(3), token_b_vault=_key(4),
    whitelisted_vault=_key(5), liquidity=2**126 + 6, protocol_a_fee=7, protocol_b_fee=8, sqrt_min_price=4_295_048_016,
    sqrt_max_price=79_226_673_521_066_979_257_578_248_091, sqrt_price=2**90 + 9, activation_point=1_749_122_805,
    activation_type=1, pool_status=1, token_a_flag=1, token_b_flag=0, collect_fee_mode=2, pool_type=1,
    fee_version=1, fee_a_per_liquidity=2**200 + 10, fee_b_per_liquidity=2**255 + 11, permanent_lock_liquidity=12,
    metrics=bytes(range(80)), creator=_key(6), token_a_amount=13, token_b_amount=14, layout_version=1,
    reward_infos=bytes(i % 251 for i in range(384)), paddings=bytes(range(1, 108)),
)  # fmt: skip

KEYS = [(168, 1), (200, 2), (232, 3), (264, 4), (296, 5), (648, 6)]
U8 = [(48, 21), (50, 22), (56, 1), (480, 1), (481, 1), (482, 1), (483, 0), (484, 2), (485, 1), (486, 1), (696, 1)]
U16 = [(54, 23), (72, 2), (74, 10), (76, 120), (78, 5000)]
U32 = [(64, 14_460_000), (68, 1913)]
U64 = [(40, 77), (80, 1_750_195_943), (392, 7), (400, 8), (472, 1_749_122_805), (680, 13), (688, 14)]
U128 = [
    (88, 1_844_674_407_370_955), (104, 2**100 + 1), (120, 1_380_000), (136, 2**127 + 3), (152, 2**64 + 5),
    (360, 2**126 + 6), (424, 4_295_048_016), (440, 79_226_673_521_066_979_257_578_248_091), (456, 2**90 + 9),
    (552, 12),
]  # fmt: skip


def test_the_discriminator_is_anchors() -> None:
    assert POOL_DISCRIMINATOR == hashlib.sha256(b"account:Pool").digest()[:8]


def test_every_field_sits_at_its_offset() -> None:
    raw = encode_pool(POOL)
    assert len(raw) == POOL_LEN == 8 + 1104
    assert raw[:8] == POOL_DISCRIMINATOR
    assert (TOKEN_A_MINT_OFFSET, TOKEN_B_MINT_OFFSET) == (168, 200)
    for offset, n in KEYS:
        assert raw[offset : offset + 32] == bytes([n]) * 32, offset
    for fmt, fields in (("<B", U8), ("<H", U16), ("<I", U32), ("<Q", U64)):
        for offset, value in fields:
            assert struct.unpack_from(fmt, raw, offset)[0] == value, offset
    for offset, value in U128:
        assert int.from_bytes(raw[offset : offset + 16], "little") == value, offset
    assert int.from_bytes(raw[488:520], "little") == 2**200 + 10
    assert int.from_bytes(raw[520:552], "little") == 2**255 + 11
    assert raw[568:648] == bytes(range(80))
    assert raw[728:1112] == POOL.reward_infos
    # the base fee: cliff numerator, mode at byte 8, number_of_period u16 at 14, frequency and reduction u64
    assert struct.unpack_from("<QB5xHQQ", raw, 8) == (500_000_000, 1, 120, 60, 265)
    # paddings keep their bytes, in field order
    pads = raw[49:50] + raw[51:54] + raw[57:64] + raw[328:360] + raw[376:392] + raw[408:424] + raw[487:488]
    assert pads + raw[697:704] + raw[704:728] == POOL.paddings


def test_round_trips() -> None:
    assert decode_pool(encode_pool(POOL)) == POOL
    plain = Pool(PoolFees(FeeTimeScheduler(2_500_000)), _key(1), _key(2), _key(3), _key(4), 10**20, 1, 2**100, 2**64)
    assert decode_pool(encode_pool(plain)) == plain


@pytest.mark.parametrize(
    "fee",
    [
        FeeTimeScheduler(2_500_000),
        FeeTimeScheduler(400_000_000, BaseFeeMode.FEE_TIME_SCHEDULER_LINEAR, 30, 10, 13_000_000),
        FeeRateLimiter(10_000_000, fee_increment_bps=10, max_limiter_duration=10, max_fee_bps=5000,
                       reference_amount=1_000_000_000),
        FeeMarketCapScheduler(200_000_000, BaseFeeMode.FEE_MARKET_CAP_SCHEDULER_EXPONENTIAL, 100, 250, 86_400, 100),
        UnknownBaseFee(bytes(8) + b"\x09" + bytes(23)),
    ],
)  # fmt: skip
def test_each_base_fee_kind_round_trips_in_its_32_bytes(fee: object) -> None:
    raw = encode_base_fee(fee)  # type: ignore[arg-type]
    assert len(raw) == 32
    assert decode_base_fee(raw) == fee


def test_the_rate_limiter_and_market_cap_fields_sit_where_the_pod_structs_put_them() -> None:
    limiter = encode_base_fee(FeeRateLimiter(10_000_000, 11, 12, 5000, 13))
    assert struct.unpack("<QB5xHIIQ", limiter) == (10_000_000, 2, 11, 12, 5000, 13)
    market = encode_base_fee(FeeMarketCapScheduler(20_000_000, BaseFeeMode.FEE_MARKET_CAP_SCHEDULER_LINEAR, 14,
                                                   15, 16, 17))  # fmt: skip
    assert struct.unpack("<QB5xHIIQ", market) == (20_000_000, 3, 14, 15, 16, 17)


def test_foreign_bytes_are_refused() -> None:
    raw = encode_pool(POOL)
    with pytest.raises(MalformedAccount, match="discriminator"):
        decode_pool(bytes(8) + raw[8:])
    with pytest.raises(MalformedAccount):
        decode_pool(raw[:-1])
    with pytest.raises(ValueError, match="paddings"):
        encode_pool(dataclasses.replace(POOL, paddings=b""))
