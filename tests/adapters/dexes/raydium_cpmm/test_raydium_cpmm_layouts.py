"""Account layouts: every field at its documented offset, round trips, and refusals of foreign bytes."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import struct
from pathlib import Path

import pytest
from solders.account import Account
from solders.pubkey import Pubkey

from adapters.dexes.raydium_cpmm.layouts import (
    AMM_CONFIG_LEN,
    OBSERVATION_STATE_LEN,
    POOL_STATE_LEN,
    AmmConfig,
    PoolState,
    decode_amm_config,
    decode_pool_state,
    encode_amm_config,
    encode_observation_state,
    encode_pool_state,
)
from adapters.solana.accounts import (
    Clock,
    TransferFee,
    TransferFeeConfig,
    decode_clock,
    decode_mint,
    decode_token_account,
    encode_clock,
    encode_mint,
    encode_token_account,
)
from adapters.solana.errors import MalformedAccount
from adapters.solana.spl import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID
from kernel.errors import FatalError
from localnet.accounts import mint_data, parse_mint, parse_token_account


def _key(n: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([n]) * 32)


POOL = PoolState(
    amm_config=_key(1), pool_creator=_key(2), token_0_vault=_key(3), token_1_vault=_key(4), lp_mint=_key(5),
    token_0_mint=_key(6), token_1_mint=_key(7), token_0_program=_key(8), token_1_program=_key(9),
    observation_key=_key(10), auth_bump=253, status=4, lp_mint_decimals=9, mint_0_decimals=9, mint_1_decimals=6,
    lp_supply=0x0102030405060708, protocol_fees_token_0=11, protocol_fees_token_1=12, fund_fees_token_0=13,
    fund_fees_token_1=14, open_time=1_700_000_000, recent_epoch=777, creator_fee_on=2, enable_creator_fee=True,
    creator_fees_token_0=15, creator_fees_token_1=16,
)  # fmt: skip


def _u64(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<Q", data, offset)[0])


def test_pool_state_fields_sit_at_the_documented_offsets() -> None:
    data = encode_pool_state(POOL)
    assert len(data) == POOL_STATE_LEN == 637
    assert data[:8] == bytes([247, 237, 227, 245, 215, 195, 222, 70])
    for offset, n in ((8, 1), (40, 2), (72, 3), (104, 4), (136, 5), (168, 6), (200, 7), (232, 8), (264, 9), (296, 10)):
        assert data[offset : offset + 32] == bytes([n]) * 32, offset
    assert (data[328], data[329], data[330], data[331], data[332]) == (253, 4, 9, 9, 6)
    assert data[333:341] == bytes([8, 7, 6, 5, 4, 3, 2, 1])
    assert [_u64(data, o) for o in (341, 349, 357, 365, 373, 381)] == [11, 12, 13, 14, 1_700_000_000, 777]
    assert (data[389], data[390]) == (2, 1)
    assert data[391:397] == bytes(6)
    assert (_u64(data, 397), _u64(data, 405)) == (15, 16)
    assert data[413:] == bytes(224)


def test_pool_state_round_trip_and_flags() -> None:
    decoded = decode_pool_state(encode_pool_state(POOL))
    assert decoded == POOL
    assert not decoded.swap_enabled
    assert decoded.accrued_fees_token_0 == 11 + 13 + 15
    assert decoded.accrued_fees_token_1 == 12 + 14 + 16
    assert dataclasses.replace(POOL, status=3).swap_enabled


def test_a_pool_created_before_creator_fees_reads_zeros_there() -> None:
    old = bytearray(encode_pool_state(POOL))
    old[389:413] = bytes(24)
    decoded = decode_pool_state(bytes(old))
    assert (decoded.creator_fee_on, decoded.enable_creator_fee, decoded.creator_fees_token_0) == (0, False, 0)


def test_pool_state_refuses_foreign_bytes() -> None:
    data = encode_pool_state(POOL)
    with pytest.raises(MalformedAccount, match="discriminator"):
        decode_pool_state(bytes(8) + data[8:])
    with pytest.raises(MalformedAccount, match="637"):
        decode_pool_state(data[:-1])
    assert issubclass(MalformedAccount, FatalError)


CONFIG = AmmConfig(
    bump=255, disable_create_pool=False, index=0, trade_fee_rate=2500, protocol_fee_rate=120_000,
    fund_fee_rate=40_000, create_pool_fee=150_000_000, protocol_owner=_key(21), fund_owner=_key(22),
    creator_fee_rate=500,
)  # fmt: skip


def test_amm_config_offsets_and_round_trip() -> None:
    data = encode_amm_config(CONFIG)
    assert len(data) == AMM_CONFIG_LEN == 236
    assert data[:8] == bytes([218, 244, 33, 104, 203, 203, 43, 111])
    assert (data[8], data[9], struct.unpack_from(">H", data, 10)[0]) == (255, 0, 0)
    assert [_u64(data, o) for o in (12, 20, 28, 36)] == [2500, 120_000, 40_000, 150_000_000]
    assert (data[44:76], data[76:108]) == (bytes([21]) * 32, bytes([22]) * 32)
    assert _u64(data, 108) == 500
    assert data[116:] == bytes(120)
    assert decode_amm_config(data) == CONFIG
    assert decode_amm_config(encode_amm_config(dataclasses.replace(CONFIG, index=0x0102))).index == 0x0102
    with pytest.raises(MalformedAccount):
        decode_amm_config(encode_pool_state(POOL))


@pytest.mark.skipif(not os.environ.get("OEE_CPMM_CONFIG"), reason="OEE_CPMM_CONFIG names no AmmConfig dump")
def test_a_real_amm_config_dump_decodes() -> None:
    path = Path(os.environ["OEE_CPMM_CONFIG"])
    raw = path.read_bytes()
    if raw[:1] == b"{":  # a solana CLI account file rather than the raw bytes
        raw = base64.b64decode(json.loads(raw)["account"]["data"][0])
    config = decode_amm_config(raw)
    assert (config.index, config.trade_fee_rate, config.protocol_fee_rate, config.fund_fee_rate) == (
        0, 2500, 120_000, 40_000,
    )  # fmt: skip
    assert encode_amm_config(config) == raw


def test_token_account_amount_at_offset_64() -> None:
    data = encode_token_account(_key(1), _key(2), 123_456_789)
    assert len(data) == 165
    assert _u64(data, 64) == 123_456_789
    view = decode_token_account(data)
    assert (view.mint, view.owner, view.amount) == (_key(1), _key(2), 123_456_789)
    # the localnet's own SPL decoder reads the same account
    parsed = parse_token_account(Account(2_039_280, data, TOKEN_PROGRAM_ID, False, 0))
    assert parsed is not None
    assert (parsed.mint, parsed.owner, parsed.amount, parsed.state, parsed.is_native) == (
        _key(1), _key(2), 123_456_789, 1, None,
    )  # fmt: skip
    native = parse_token_account(
        Account(1, encode_token_account(_key(1), _key(2), 5, native_reserve=2_039_280), TOKEN_PROGRAM_ID, False, 0)
    )
    assert native is not None and native.is_native == 2_039_280
    with pytest.raises(MalformedAccount):
        decode_token_account(data[:100])


def test_mint_matches_the_spl_layout() -> None:
    data = encode_mint(6, 1_000, mint_authority=_key(3))
    assert data == mint_data(_key(3), 1_000, 6)
    assert decode_mint(data).decimals == 6
    assert decode_mint(data).transfer_fee is None
    view = parse_mint(Account(1, encode_mint(9), TOKEN_PROGRAM_ID, False, 0))
    assert view is not None and (view.decimals, view.mint_authority) == (9, None)


def test_token_2022_transfer_fee_config_extension() -> None:
    fee = TransferFeeConfig(
        older=TransferFee(epoch=3, maximum_fee=5_000, basis_points=100),
        newer=TransferFee(epoch=9, maximum_fee=7_000, basis_points=250),
        config_authority=_key(4),
        withheld_amount=42,
    )
    data = encode_mint(6, 0, transfer_fee=fee)
    # base mint, zero padding to 165, account type 1 (mint), then TLV: type 1 (TransferFeeConfig), length 108
    expected = (
        mint_data(None, 0, 6)
        + bytes(165 - 82)
        + bytes([1])
        + struct.pack("<HH", 1, 108)
        + bytes([4]) * 32
        + bytes(32)
        + struct.pack("<Q", 42)
        + struct.pack("<QQH", 3, 5_000, 100)
        + struct.pack("<QQH", 9, 7_000, 250)
    )
    assert data == expected
    assert len(data) == 278
    decoded = decode_mint(data).transfer_fee
    assert decoded == fee
    assert decoded.at(8) == fee.older and decoded.at(9) == fee.newer
    assert decoded.fee(1_000_000, epoch=8) == 5_000  # 10,000 capped at 5,000
    assert decoded.fee(1_000, epoch=9) == 25
    token_2022_view = parse_mint(Account(1, data, TOKEN_2022_PROGRAM_ID, False, 0))
    assert token_2022_view is not None and token_2022_view.decimals == 6


def test_token_2022_mint_without_transfer_fee() -> None:
    data = mint_data(None, 0, 6) + bytes(165 - 82) + bytes([1]) + struct.pack("<HH", 0, 0)
    assert decode_mint(data).transfer_fee is None
    other = mint_data(None, 0, 6) + bytes(165 - 82) + bytes([1]) + struct.pack("<HH", 18, 2) + b"\x01\x02"
    assert decode_mint(other).transfer_fee is None  # another extension only
    with pytest.raises(MalformedAccount):
        decode_mint(mint_data(None, 0, 6) + bytes(10))
    with pytest.raises(MalformedAccount, match="initialised"):
        decode_mint(bytes(82))


def test_observation_state_is_an_uninitialised_oracle() -> None:
    data = encode_observation_state(_key(7))
    assert len(data) == OBSERVATION_STATE_LEN == 4075
    assert data[:8] == bytes([122, 174, 197, 53, 129, 9, 165, 132])
    assert (data[8], data[9:11], data[11:43]) == (0, bytes(2), bytes([7]) * 32)
    assert data[43:] == bytes(4075 - 43)


def test_clock_sysvar() -> None:
    clock = Clock(slot=12, epoch=3, unix_timestamp=1_700_000_123)
    data = encode_clock(clock)
    assert data == struct.pack("<QqQQq", 12, 1_700_000_123, 3, 3, 1_700_000_123)
    assert decode_clock(data) == clock
