"""The AmmInfo layout: every field at its offset in raydium-amm's ``state.rs`` (752 bytes, packed, no
discriminator), round trips, and refusals of foreign bytes."""

from __future__ import annotations

import dataclasses
import struct

import pytest
from solders.pubkey import Pubkey

from adapters.dexes.raydium_amm_v4.layouts import (
    AMM_INFO_LEN,
    COIN_MINT_OFFSET,
    PC_MINT_OFFSET,
    AmmInfo,
    AmmStatus,
    Fees,
    StateData,
    decode_amm_info,
    encode_amm_info,
)
from adapters.solana.errors import MalformedAccount


def _key(n: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([n]) * 32)


# Every number distinct, so a field read from a neighbour's offset shows.
AMM = AmmInfo(
    status=6, nonce=254, order_num=7, depth=3, coin_decimals=9, pc_decimals=6, state=1, reset_flag=1,
    min_size=1_000_000, vol_max_cut_ratio=500, amount_wave=500_000, coin_lot_size=1_000_001, pc_lot_size=1_002,
    min_price_multiplier=1, max_price_multiplier=1_000_000_000, sys_decimal_value=1_000_000_000,
    fees=Fees(min_separate_numerator=5, min_separate_denominator=10_001, trade_fee_numerator=25,
              trade_fee_denominator=10_002, pnl_numerator=12, pnl_denominator=100, swap_fee_numerator=26,
              swap_fee_denominator=10_003),
    state_data=StateData(need_take_pnl_coin=101, need_take_pnl_pc=102, total_pnl_pc=103, total_pnl_coin=104,
                         pool_open_time=1_700_000_000, padding=bytes(range(16)), orderbook_to_init_time=105,
                         swap_coin_in_amount=2**100 + 106, swap_pc_out_amount=2**64 + 107, swap_acc_pc_fee=108,
                         swap_pc_in_amount=2**127 + 109, swap_coin_out_amount=110, swap_acc_coin_fee=111),
    coin_vault=_key(1), pc_vault=_key(2), coin_vault_mint=_key(3), pc_vault_mint=_key(4), lp_mint=_key(5),
    open_orders=_key(6), market=_key(7), market_program=_key(8), target_orders=_key(9),
    padding1=bytes(range(100, 164)), amm_owner=_key(10), lp_amount=112, client_order_id=113, recent_epoch=114,
    padding2=115,
)  # fmt: skip

# (offset, value) of each u64 in state.rs order: sixteen parameters, Fees, then StateData's u64 fields.
U64_FIELDS = [
    (0, 6), (8, 254), (16, 7), (24, 3), (32, 9), (40, 6), (48, 1), (56, 1), (64, 1_000_000), (72, 500),
    (80, 500_000), (88, 1_000_001), (96, 1_002), (104, 1), (112, 1_000_000_000), (120, 1_000_000_000),
    (128, 5), (136, 10_001), (144, 25), (152, 10_002), (160, 12), (168, 100), (176, 26), (184, 10_003),
    (192, 101), (200, 102), (208, 103), (216, 104), (224, 1_700_000_000), (248, 105), (288, 108), (328, 111),
    (720, 112), (728, 113), (736, 114), (744, 115),
]  # fmt: skip
U128_FIELDS = [(256, 2**100 + 106), (272, 2**64 + 107), (296, 2**127 + 109), (312, 110)]
KEY_FIELDS = [(336, 1), (368, 2), (400, 3), (432, 4), (464, 5), (496, 6), (528, 7), (560, 8), (592, 9), (688, 10)]


def test_every_field_sits_at_its_offset() -> None:
    data = encode_amm_info(AMM)
    assert len(data) == AMM_INFO_LEN == 752
    for offset, value in U64_FIELDS:
        assert struct.unpack_from("<Q", data, offset)[0] == value, offset
    for offset, value in U128_FIELDS:
        assert int.from_bytes(data[offset : offset + 16], "little") == value, offset
    for offset, n in KEY_FIELDS:
        assert data[offset : offset + 32] == bytes([n]) * 32, offset
    assert data[232:248] == bytes(range(16))  # StateData's padding
    assert data[624:688] == bytes(range(100, 164))  # padding1
    assert (COIN_MINT_OFFSET, PC_MINT_OFFSET) == (400, 432)


def test_round_trips_byte_for_byte() -> None:
    data = encode_amm_info(AMM)
    assert decode_amm_info(data) == AMM
    assert encode_amm_info(decode_amm_info(data)) == data
    raw = bytes(range(256)) * 2 + bytes(range(240))  # any 752 bytes, padding included
    assert encode_amm_info(decode_amm_info(raw)) == raw


def test_defaults_are_the_programs_initialize() -> None:
    fees = Fees()
    assert (fees.swap_fee_numerator, fees.swap_fee_denominator) == (25, 10_000)
    assert (fees.trade_fee_numerator, fees.trade_fee_denominator) == (25, 10_000)
    assert (fees.pnl_numerator, fees.pnl_denominator) == (12, 100)
    assert [s.value for s in AmmStatus] == list(range(8))


@pytest.mark.parametrize("size", [0, 751, 753, 1024])
def test_wrong_sizes_are_malformed(size: int) -> None:
    with pytest.raises(MalformedAccount, match="AmmInfo"):
        decode_amm_info(bytes(size))


def test_an_unknown_status_decodes_for_the_quote_to_refuse() -> None:
    odd = dataclasses.replace(AMM, status=9)
    assert decode_amm_info(encode_amm_info(odd)).status == 9
