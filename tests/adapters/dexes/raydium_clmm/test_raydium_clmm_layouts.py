"""The CLMM layouts: every field at its offset in raydium-clmm's ``states/`` (PoolState 1544 bytes, AmmConfig
117, TickArrayState 10240, TickArrayBitmapExtension 1832, ObservationState 4483, discriminators included),
round trips and refusals."""

from __future__ import annotations

import dataclasses
import hashlib
import struct

import pytest
from solders.pubkey import Pubkey

from adapters.dexes.raydium_clmm.layouts import (
    AMM_CONFIG_DISCRIMINATOR,
    AMM_CONFIG_LEN,
    BITMAP_EXTENSION_DISCRIMINATOR,
    BITMAP_EXTENSION_LEN,
    OBSERVATION_DISCRIMINATOR,
    OBSERVATION_LEN,
    POOL_DISCRIMINATOR,
    POOL_LEN,
    TICK_ARRAY_DISCRIMINATOR,
    TICK_ARRAY_LEN,
    TICK_ARRAY_SIZE,
    TOKEN_MINT_0_OFFSET,
    TOKEN_MINT_1_OFFSET,
    AmmConfig,
    PoolState,
    TickArrayBitmapExtension,
    TickArrayState,
    TickState,
    decode_amm_config,
    decode_bitmap_extension,
    decode_pool,
    decode_tick_array,
    encode_amm_config,
    encode_bitmap_extension,
    encode_observation_state,
    encode_pool,
    encode_tick_array,
    observation_pool_id,
)
from adapters.solana.errors import MalformedAccount


def _key(n: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([n]) * 32)


# Every number distinct, so a field read from a neighbour's offset shows.
POOL = PoolState(
    bump=254, amm_config=_key(1), owner=_key(2), token_mint_0=_key(3), token_mint_1=_key(4), token_vault_0=_key(5),
    token_vault_1=_key(6), observation_key=_key(7), mint_decimals_0=9, mint_decimals_1=6, tick_spacing=60,
    liquidity=2**100 + 11, sqrt_price_x64=2**64 * 7 + 12, tick_current=-18_123, fee_growth_global_0_x64=2**90 + 13,
    fee_growth_global_1_x64=2**91 + 14, protocol_fees_token_0=15, protocol_fees_token_1=16,
    swap_in_amount_token_0=17, swap_out_amount_token_1=18, swap_in_amount_token_1=19, swap_out_amount_token_0=20,
    status=16, reward_infos=bytes(i % 253 for i in range(507)), tick_array_bitmap=(1 << 1023) | (1 << 511) | 5,
    total_fees_token_0=21, total_fees_claimed_token_0=22, total_fees_token_1=23, total_fees_claimed_token_1=24,
    fund_fees_token_0=25, fund_fees_token_1=26, open_time=27, recent_epoch=28,
    paddings=bytes(i % 199 + 1 for i in range(459)),
)  # fmt: skip

KEYS = [(9, 1), (41, 2), (73, 3), (105, 4), (137, 5), (169, 6), (201, 7)]


def test_the_discriminators_are_anchors() -> None:
    for name, value in [("PoolState", POOL_DISCRIMINATOR), ("AmmConfig", AMM_CONFIG_DISCRIMINATOR),
                        ("TickArrayState", TICK_ARRAY_DISCRIMINATOR),
                        ("TickArrayBitmapExtension", BITMAP_EXTENSION_DISCRIMINATOR),
                        ("ObservationState", OBSERVATION_DISCRIMINATOR)]:  # fmt: skip
        assert value == hashlib.sha256(f"account:{name}".encode()).digest()[:8]


def test_pool_fields_sit_at_the_programs_offsets() -> None:
    data = encode_pool(POOL)
    assert len(data) == POOL_LEN and data[:8] == POOL_DISCRIMINATOR
    assert data[8] == 254
    for offset, n in KEYS:
        assert data[offset : offset + 32] == bytes([n]) * 32
    assert (TOKEN_MINT_0_OFFSET, TOKEN_MINT_1_OFFSET) == (73, 105)
    assert (data[233], data[234]) == (9, 6)
    assert struct.unpack_from("<H", data, 235)[0] == 60
    assert int.from_bytes(data[237:253], "little") == 2**100 + 11
    assert int.from_bytes(data[253:269], "little") == 2**64 * 7 + 12
    assert struct.unpack_from("<i", data, 269)[0] == -18_123
    assert int.from_bytes(data[277:293], "little") == 2**90 + 13
    assert int.from_bytes(data[293:309], "little") == 2**91 + 14
    assert struct.unpack_from("<QQ", data, 309) == (15, 16)
    assert [int.from_bytes(data[o : o + 16], "little") for o in (325, 341, 357, 373)] == [17, 18, 19, 20]
    assert data[389] == 16
    assert data[397:904] == POOL.reward_infos
    assert int.from_bytes(data[904:1032], "little") == POOL.tick_array_bitmap
    assert struct.unpack_from("<8Q", data, 1032) == (21, 22, 23, 24, 25, 26, 27, 28)


def test_pool_round_trips_and_reads_its_status() -> None:
    data = encode_pool(POOL)
    assert decode_pool(data) == POOL
    assert encode_pool(decode_pool(data)) == data
    assert not POOL.swap_enabled
    assert dataclasses.replace(POOL, status=0b1111).swap_enabled


def test_amm_config_fields_sit_at_the_programs_offsets() -> None:
    config = AmmConfig(trade_fee_rate=2500, tick_spacing=60, protocol_fee_rate=120_000, fund_fee_rate=40_000,
                       index=3, bump=250, owner=_key(8), fund_owner=_key(9), padding_u32=7,
                       padding=bytes(range(24)))  # fmt: skip
    data = encode_amm_config(config)
    assert len(data) == AMM_CONFIG_LEN
    assert data[8] == 250 and struct.unpack_from("<H", data, 9)[0] == 3
    assert data[11:43] == bytes([8]) * 32
    assert struct.unpack_from("<IIHII", data, 43) == (120_000, 2500, 60, 40_000, 7)
    assert data[61:93] == bytes([9]) * 32 and data[93:] == bytes(range(24))
    assert decode_amm_config(data) == config


def test_tick_array_fields_sit_at_the_programs_offsets() -> None:
    ticks = [TickState(-600 + 10 * i, (-1) ** i * (i + 1) * 10**12, (i + 1) * 10**12 if i % 7 == 0 else 0,
                       i + 1, i + 2, bytes([i]) * 48, bytes([i + 1]) * 52) for i in range(TICK_ARRAY_SIZE)]  # fmt: skip
    array = TickArrayState(_key(10), -600, tuple(ticks), 9, 31, bytes(range(107)))
    data = encode_tick_array(array)
    assert len(data) == TICK_ARRAY_LEN
    assert data[8:40] == bytes([10]) * 32 and struct.unpack_from("<i", data, 40)[0] == -600
    for i in (0, 1, 59):
        at = 44 + 168 * i
        assert struct.unpack_from("<i", data, at)[0] == -600 + 10 * i
        assert int.from_bytes(data[at + 4 : at + 20], "little", signed=True) == (-1) ** i * (i + 1) * 10**12
        assert int.from_bytes(data[at + 20 : at + 36], "little") == ticks[i].liquidity_gross
        assert int.from_bytes(data[at + 36 : at + 52], "little") == i + 1
        assert int.from_bytes(data[at + 52 : at + 68], "little") == i + 2
    assert data[10124] == 9 and struct.unpack_from("<Q", data, 10125)[0] == 31
    decoded = decode_tick_array(data)
    assert decoded == array
    assert [t.initialized for t in decoded.ticks][:8] == [True] + [False] * 6 + [True]


def test_bitmap_extension_and_observation_state() -> None:
    extension = TickArrayBitmapExtension(_key(11), tuple(2**i + 1 for i in range(14)),
                                         tuple(2**511 + i for i in range(14)))  # fmt: skip
    data = encode_bitmap_extension(extension)
    assert len(data) == BITMAP_EXTENSION_LEN and data[8:40] == bytes([11]) * 32
    assert int.from_bytes(data[40:104], "little") == 2 and int.from_bytes(data[40 + 64 * 14 : 104 + 64 * 14],
                                                                          "little") == 2**511  # fmt: skip
    assert decode_bitmap_extension(data) == extension
    observation = encode_observation_state(_key(12))
    assert len(observation) == OBSERVATION_LEN and observation[8] == 1
    assert observation_pool_id(observation) == _key(12)


@pytest.mark.parametrize(
    ("decode", "data"),
    [
        (decode_pool, encode_pool(POOL)[:-1]),
        (decode_pool, bytes(8) + encode_pool(POOL)[8:]),
        (decode_amm_config, bytes(AMM_CONFIG_LEN)),
        (decode_tick_array, bytes(TICK_ARRAY_LEN)),
        (decode_bitmap_extension, bytes(BITMAP_EXTENSION_LEN)),
        (observation_pool_id, bytes(OBSERVATION_LEN)),
    ],
)
def test_wrong_size_or_kind_is_malformed(decode: object, data: bytes) -> None:
    with pytest.raises(MalformedAccount):
        decode(data)  # type: ignore[operator]
