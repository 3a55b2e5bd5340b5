"""DLMM account layouts: encode → decode round trips, and decoding checked field by field against bytes laid
out by hand at the documented offsets (and against the ``meteora-dlmm`` package's own decoder)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from meteora_dlmm import PoolState, TransferFee
from meteora_dlmm import decode as package_decode
from solders.pubkey import Pubkey

from adapters.dexes.meteora_dlmm.layouts import (
    BIN_ARRAY_DISCRIMINATOR,
    BIN_ARRAY_SIZE,
    BITMAP_EXTENSION_DISCRIMINATOR,
    BITMAP_EXTENSION_SIZE,
    LB_PAIR_DISCRIMINATOR,
    LB_PAIR_SIZE,
    Bin,
    BinArray,
    BitmapExtension,
    LbPair,
    RewardInfo,
    StaticParameters,
    VariableParameters,
    bin_array_index,
    check_bin_array,
    decode_bin_array,
    decode_bitmap_extension,
    decode_lb_pair,
    encode_bin_array,
    encode_bitmap_extension,
    encode_lb_pair,
)
from adapters.dexes.meteora_dlmm.package import pool_state, transfer_fee_at
from adapters.solana.accounts import decode_clock
from adapters.solana.errors import MalformedAccount
from kernel.errors import FatalError
from localnet.accounts import mint_data

package_decode_lb_pair: Any = package_decode.decode_lb_pair


def key(n: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([n]) * 32)


# Every field set to a distinct non-default value, so a field written at the wrong place cannot round-trip.
FULL_PAIR = LbPair(
    parameters=StaticParameters(
        base_factor=8_000, filter_period=11, decay_period=222, reduction_factor=3_333, variable_fee_control=44_444,
        max_volatility_accumulator=555_555, min_bin_id=-6_666, max_bin_id=7_777, protocol_share=888,
        base_fee_power_factor=2, function_type=1, collect_fee_mode=1, padding=b"\x01\x02\x03",
    ),
    v_parameters=VariableParameters(
        volatility_accumulator=12_345, volatility_reference=6_789, index_reference=-4_321, padding=b"abcd",
        last_update_timestamp=1_700_000_123, padding_1=b"12345678",
    ),
    bump_seed=254, bin_step_seed=b"\x0a\x00", pair_type=3, active_id=-1_955, bin_step=10, status=1,
    require_base_factor_seed=1, base_factor_seed=b"\x10\x27", activation_type=1, creator_pool_on_off_control=1,
    token_x_mint=key(1), token_y_mint=key(2), reserve_x=key(3), reserve_y=key(4), protocol_fee_x=5_555_555,
    protocol_fee_y=6_666_666, padding_1=bytes(range(32)),
    reward_infos=(
        RewardInfo(key(5), key(6), key(7), 100, 200, 2**100 + 7, 300, 400),
        RewardInfo(key(8), key(9), key(10), 500, 600, 2**120 + 9, 700, 800),
    ),
    oracle=key(11), bin_array_bitmap=(1 << 1023) | (1 << 484) | 1, last_updated_at=-5, padding_2=bytes(range(32, 64)),
    pre_activation_swap_address=key(12), base_key=key(13), activation_point=2**63 + 1, pre_activation_duration=3_600,
    padding_3=b"ABCDEFGH", padding_4=2**64 - 1, creator=key(14), token_mint_x_program_flag=1,
    token_mint_y_program_flag=0, version=1, reserved=bytes(range(100, 121)),
)  # fmt: skip


def test_lb_pair_round_trips_byte_exactly() -> None:
    data = encode_lb_pair(FULL_PAIR)
    assert len(data) == LB_PAIR_SIZE == 904
    assert data[:8] == LB_PAIR_DISCRIMINATOR == bytes([33, 11, 49, 98, 181, 101, 177, 13])
    assert decode_lb_pair(data) == FULL_PAIR
    assert encode_lb_pair(decode_lb_pair(data)) == data


def test_lb_pair_fields_sit_at_the_documented_offsets() -> None:
    """Bytes laid out by hand from the documented offsets, decoded field by field."""
    data = bytearray(LB_PAIR_SIZE)
    data[:8] = LB_PAIR_DISCRIMINATOR
    struct.pack_into("<HHHHII", data, 8, 8_000, 11, 222, 3_333, 44_444, 555_555)
    struct.pack_into("<H", data, 32, 888)  # protocol_share
    data[34], data[35], data[36] = 2, 1, 1  # base_fee_power_factor, function_type, collect_fee_mode
    struct.pack_into("<IIi", data, 40, 12_345, 6_789, -4_321)
    struct.pack_into("<q", data, 56, 1_700_000_123)
    data[75] = 3  # pair_type
    struct.pack_into("<iHB", data, 76, -1_955, 10, 1)  # active_id, bin_step, status
    data[86] = 1  # activation_type
    for offset, n in ((88, 1), (120, 2), (152, 3), (184, 4), (264, 5), (408, 8), (552, 11)):
        data[offset : offset + 32] = bytes(key(n))
    data[584 : 584 + 128] = ((1 << 1023) | (1 << 484) | 1).to_bytes(128, "little")
    struct.pack_into("<Q", data, 816, 2**63 + 1)  # activation_point
    data[880], data[881] = 1, 0  # token program flags
    pair = decode_lb_pair(bytes(data))

    p, v = pair.parameters, pair.v_parameters
    assert (p.base_factor, p.filter_period, p.decay_period, p.reduction_factor) == (8_000, 11, 222, 3_333)
    assert (p.variable_fee_control, p.max_volatility_accumulator, p.protocol_share) == (44_444, 555_555, 888)
    assert (p.base_fee_power_factor, p.function_type, p.collect_fee_mode) == (2, 1, 1)
    assert (v.volatility_accumulator, v.volatility_reference, v.index_reference) == (12_345, 6_789, -4_321)
    assert v.last_update_timestamp == 1_700_000_123
    assert (pair.pair_type, pair.active_id, pair.bin_step, pair.status, pair.activation_type) == (3, -1_955, 10, 1, 1)
    assert (pair.token_x_mint, pair.token_y_mint, pair.reserve_x, pair.reserve_y) == (key(1), key(2), key(3), key(4))
    assert (pair.reward_infos[0].mint, pair.reward_infos[1].mint, pair.oracle) == (key(5), key(8), key(11))
    assert pair.bin_array_bitmap == (1 << 1023) | (1 << 484) | 1
    assert pair.activation_point == 2**63 + 1
    assert (pair.token_mint_x_program_flag, pair.token_mint_y_program_flag) == (1, 0)
    # ...and the package reads the same numbers out of the same bytes.
    sp, vp, active_id, bin_step, mint_x, mint_y = package_decode_lb_pair(bytes(data))
    assert (sp.base_factor, sp.variable_fee_control, sp.max_volatility_accumulator) == (8_000, 44_444, 555_555)
    assert (sp.filter_period, sp.decay_period, sp.reduction_factor, sp.protocol_share) == (11, 222, 3_333, 888)
    assert sp.base_fee_power_factor == 2
    assert (vp.volatility_accumulator, vp.volatility_reference, vp.index_reference) == (12_345, 6_789, -4_321)
    assert vp.last_update_timestamp == 1_700_000_123
    assert (active_id, bin_step, mint_x, mint_y) == (-1_955, 10, bytes(key(1)), bytes(key(2)))


def test_limit_orders_and_fee_side_follow_the_pair() -> None:
    plain = LbPair()
    assert plain.support_limit_order  # undetermined function type, no reward: limit orders fill
    assert not LbPair(reward_infos=(RewardInfo(mint=key(1)), RewardInfo())).support_limit_order
    assert not LbPair(parameters=StaticParameters(function_type=1)).support_limit_order
    assert LbPair(parameters=StaticParameters(function_type=2)).support_limit_order
    assert plain.fee_on_input(True) and plain.fee_on_input(False)
    only_y = LbPair(parameters=StaticParameters(collect_fee_mode=1))
    assert not only_y.fee_on_input(True)  # selling X: the fee comes off the Y paid out
    assert only_y.fee_on_input(False)


def _full_array() -> BinArray:
    bins = tuple(
        Bin(
            amount_x=i, amount_y=1_000 + i, price=2**64 + i, liquidity_supply=2**100 + i,
            fulfilled_order_amount_x=i + 1, fulfilled_order_amount_y=i + 2,
            limit_order_fee_ask_side=i + 3, limit_order_fee_bid_side=i + 4,
            fee_amount_x_per_token_stored=2**90 + i, fee_amount_y_per_token_stored=2**91 + i,
            open_order_amount=i + 5, total_processing_order_amount=i + 6, processed_order_remaining_amount=i + 7,
            order_age=i + 8, limit_order_ask_side=i % 2, padding=bytes([i, i, i]),
        )
        for i in range(70)
    )  # fmt: skip
    return BinArray(index=-28, lb_pair=key(42), bins=bins, version=2, padding=b"\x00" * 6 + b"\x07")


def test_bin_array_round_trips_byte_exactly() -> None:
    array = _full_array()
    data = encode_bin_array(array)
    assert len(data) == BIN_ARRAY_SIZE == 10_136
    assert data[:8] == BIN_ARRAY_DISCRIMINATOR == bytes([92, 142, 92, 220, 5, 148, 70, 181])
    assert decode_bin_array(data) == array
    assert array.lower_bin_id == -1_960


def test_bin_array_fields_sit_at_the_documented_offsets() -> None:
    data = encode_bin_array(_full_array())
    assert struct.unpack_from("<q", data, 8) == (-28,)
    assert data[16] == 2  # version
    assert data[24:56] == bytes(key(42))
    for i in (0, 1, 69):
        at = 56 + 144 * i
        assert struct.unpack_from("<QQ", data, at) == (i, 1_000 + i)
        assert int.from_bytes(data[at + 16 : at + 32], "little") == 2**64 + i
        assert struct.unpack_from("<QQQ", data, at + 112) == (i + 5, i + 6, i + 7)  # open, processing, processed
        assert data[at + 140] == i % 2
    check_bin_array(data, key(42), -28)
    with pytest.raises(MalformedAccount):
        check_bin_array(data, key(42), -27)
    with pytest.raises(MalformedAccount):
        check_bin_array(data, key(43), -28)


def test_the_package_reads_bins_from_the_encoded_bytes() -> None:
    array = _full_array()
    pair = LbPair(active_id=-1_955, bin_step=10)
    state: PoolState = pool_state(encode_lb_pair(pair), [encode_bin_array(array)], key(42))
    assert state.loaded_arrays == {-28}
    assert state.active_id == -1_955
    for i in (0, 5, 69):
        b = state.bins[-1_960 + i]
        assert (b.amount_x, b.amount_y, b.price_x64) == (i, 1_000 + i, 2**64 + i)
        assert (b.open_order, b.processed_order, b.ask_side) == (i + 5, i + 7, i % 2)
    with pytest.raises(MalformedAccount, match="do not belong"):
        pool_state(encode_lb_pair(pair), [encode_bin_array(array)], key(43))


def test_bitmap_extension_round_trips() -> None:
    extension = BitmapExtension(key(9), tuple(2**511 + w for w in range(12)), tuple(w + 1 for w in range(12)))
    data = encode_bitmap_extension(extension)
    assert len(data) == BITMAP_EXTENSION_SIZE == 1_576
    assert data[:8] == BITMAP_EXTENSION_DISCRIMINATOR
    assert data[8:40] == bytes(key(9))
    assert int.from_bytes(data[40:104], "little") == 2**511  # positive word 0
    assert int.from_bytes(data[808:872], "little") == 1  # negative word 0
    assert decode_bitmap_extension(data) == extension


def test_wrong_accounts_are_malformed() -> None:
    pair, array = encode_lb_pair(LbPair()), encode_bin_array(_full_array())
    cases: list[tuple[Callable[[bytes], object], bytes, str]] = [
        (decode_lb_pair, pair[:-1], "904 bytes"),
        (decode_lb_pair, bytes(8) + pair[8:], "discriminator"),
        (decode_lb_pair, array, "904 bytes"),
        (decode_bin_array, array[:-1], "10136 bytes"),
        (decode_bin_array, bytes(8) + array[8:], "discriminator"),
        (decode_bitmap_extension, pair, "1576 bytes"),
    ]
    for decode, data, message in cases:
        with pytest.raises(MalformedAccount, match=message) as raised:
            decode(data)
        assert isinstance(raised.value, FatalError)  # corrupt state: never retried


def test_clock_sysvar() -> None:
    data = struct.pack("<QqQQq", 123_456, 1_600_000_000, 300, 301, 1_700_000_000)
    clock = decode_clock(data)
    assert (clock.slot, clock.unix_timestamp, clock.epoch) == (123_456, 1_700_000_000, 300)


@pytest.mark.parametrize(
    ("bin_id", "index"), [(0, 0), (69, 0), (70, 1), (-1, -1), (-70, -1), (-71, -2), (-1_955, -28), (443_636, 6_337)]
)
def test_bin_array_index_rounds_down(bin_id: int, index: int) -> None:
    assert bin_array_index(bin_id) == index


def _mint_2022(*extensions: tuple[int, bytes]) -> bytes:
    base = mint_data(None, 10**15, 6).ljust(165, b"\0") + bytes([1])  # account type 1: a mint
    return base + b"".join(struct.pack("<HH", kind, len(body)) + body for kind, body in extensions)


def test_transfer_fee_follows_the_epoch() -> None:
    fee_config = bytes(32) + bytes(32) + struct.pack("<Q", 7) + struct.pack("<QQH", 0, 1_000, 100)
    fee_config += struct.pack("<QQH", 500, 2_000, 250)
    mint = _mint_2022((18, bytes(64)), (1, fee_config))  # a metadata pointer first, then the fee config
    assert transfer_fee_at(mint, 499) == TransferFee(basis_points=100, max_fee=1_000)  # the older fee, until...
    assert transfer_fee_at(mint, 500) == TransferFee(basis_points=250, max_fee=2_000)  # ...the newer one's epoch
    assert transfer_fee_at(_mint_2022((18, bytes(64))), 0) is None
    assert transfer_fee_at(mint_data(None, 1, 6), 0) is None  # a classic mint has no extensions
