"""The Whirlpool and TickArray layouts: every field at its offset in the program's ``state/whirlpool.rs`` and
``state/tick.rs`` (653 and 9988 bytes with the Anchor discriminator), round trips and refusals."""

from __future__ import annotations

import dataclasses
import hashlib
import struct

import pytest
from solders.pubkey import Pubkey

from adapters.dexes.orca_whirlpool.layouts import (
    TICK_ARRAY_DISCRIMINATOR,
    TICK_ARRAY_LEN,
    TICK_ARRAY_SIZE,
    TOKEN_MINT_A_OFFSET,
    TOKEN_MINT_B_OFFSET,
    WHIRLPOOL_DISCRIMINATOR,
    WHIRLPOOL_LEN,
    Tick,
    TickArray,
    Whirlpool,
    decode_tick_array,
    decode_whirlpool,
    encode_tick_array,
    encode_whirlpool,
)
from adapters.solana.errors import MalformedAccount


def _key(n: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([n]) * 32)


# Every number distinct, so a field read from a neighbour's offset shows.
POOL = Whirlpool(
    whirlpools_config=_key(1), tick_spacing=64, fee_rate=3000, protocol_fee_rate=1300, liquidity=2**100 + 7,
    sqrt_price=2**64 * 3 + 11, tick_current_index=-21_973, token_mint_a=_key(2), token_vault_a=_key(3),
    token_mint_b=_key(4), token_vault_b=_key(5), whirlpool_bump=254, protocol_fee_owed_a=13, protocol_fee_owed_b=17,
    fee_growth_global_a=2**127 + 19, fee_growth_global_b=23, reward_last_updated_timestamp=1_700_000_029,
    reward_infos=bytes(i % 251 for i in range(384)),
)  # fmt: skip


def test_the_discriminators_are_anchors() -> None:
    assert WHIRLPOOL_DISCRIMINATOR == hashlib.sha256(b"account:Whirlpool").digest()[:8]
    assert TICK_ARRAY_DISCRIMINATOR == hashlib.sha256(b"account:TickArray").digest()[:8]


def test_every_whirlpool_field_sits_at_its_offset() -> None:
    raw = encode_whirlpool(POOL)
    assert len(raw) == WHIRLPOOL_LEN == 8 + 261 + 384
    assert raw[:8] == WHIRLPOOL_DISCRIMINATOR
    assert (TOKEN_MINT_A_OFFSET, TOKEN_MINT_B_OFFSET) == (101, 181)
    for offset, n in ((8, 1), (101, 2), (133, 3), (181, 4), (213, 5)):
        assert raw[offset : offset + 32] == bytes([n]) * 32, offset
    assert raw[40] == 254
    assert struct.unpack_from("<HHHH", raw, 41) == (64, 64, 3000, 1300)  # the seed repeats the spacing
    assert struct.unpack_from("<i", raw, 81)[0] == -21_973
    assert struct.unpack_from("<QQ", raw, 85) == (13, 17)
    assert struct.unpack_from("<Q", raw, 261)[0] == 1_700_000_029
    for offset, value in ((49, 2**100 + 7), (65, 2**64 * 3 + 11), (165, 2**127 + 19), (245, 23)):
        assert int.from_bytes(raw[offset : offset + 16], "little") == value, offset
    assert raw[269:] == POOL.reward_infos


def test_a_whirlpool_round_trips() -> None:
    decoded = decode_whirlpool(encode_whirlpool(POOL))
    assert decoded == dataclasses.replace(POOL, tick_spacing_seed=struct.pack("<H", 64))
    assert encode_whirlpool(decoded) == encode_whirlpool(POOL)


def test_every_tick_field_sits_at_its_offset() -> None:
    ticks = [Tick()] * TICK_ARRAY_SIZE
    ticks[0] = Tick(True, -(2**90) - 3, 2**90 + 3, 5, 7, (9, 11, 13))
    ticks[87] = Tick(True, 2**126, 2**126, 0, 0, (0, 0, 0))
    array = TickArray(-45_056, _key(9), tuple(ticks))
    raw = encode_tick_array(array)
    assert len(raw) == TICK_ARRAY_LEN == 8 + 36 + 113 * 88
    assert raw[:8] == TICK_ARRAY_DISCRIMINATOR
    assert struct.unpack_from("<i", raw, 8)[0] == -45_056
    assert raw[12] == 1
    assert int.from_bytes(raw[13:29], "little", signed=True) == -(2**90) - 3
    assert int.from_bytes(raw[29:45], "little") == 2**90 + 3
    assert [int.from_bytes(raw[o : o + 16], "little") for o in (45, 61, 77, 93, 109)] == [5, 7, 9, 11, 13]
    last = 12 + 87 * 113
    assert raw[last] == 1 and int.from_bytes(raw[last + 1 : last + 17], "little", signed=True) == 2**126
    assert raw[9956:] == bytes(_key(9))
    assert decode_tick_array(raw) == array


def test_foreign_bytes_are_refused() -> None:
    raw = encode_whirlpool(POOL)
    with pytest.raises(MalformedAccount, match="discriminator"):
        decode_whirlpool(bytes(8) + raw[8:])
    with pytest.raises(MalformedAccount):
        decode_whirlpool(raw[:-1])
    array = encode_tick_array(TickArray(0, _key(1)))
    with pytest.raises(MalformedAccount, match="discriminator"):
        decode_tick_array(WHIRLPOOL_DISCRIMINATOR + array[8:])
    with pytest.raises(MalformedAccount):
        decode_tick_array(array + b"\x00")
    with pytest.raises(ValueError, match="88 ticks"):
        TickArray(0, _key(1), (Tick(),))
