"""``swap_v2`` byte for byte: its discriminator, 43 bytes of data per mode, the 15 accounts in the program's order,
and the PDAs (pool, tick arrays, oracle) the program derives."""

from __future__ import annotations

import hashlib
import struct

import pytest
from solders.pubkey import Pubkey

from adapters.dexes.orca_whirlpool.instructions import (
    MEMO_PROGRAM_ID,
    SWAP_V2_DISCRIMINATOR,
    oracle_address,
    swap_pool,
    swap_tick_arrays,
    swap_v2,
    tick_array_address,
    whirlpool_address,
)
from adapters.dexes.orca_whirlpool.layouts import Whirlpool
from adapters.dexes.orca_whirlpool.math import sqrt_price_from_tick_index
from adapters.solana.spl import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

PROGRAM = Pubkey.from_string("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc")


def _key(n: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([n]) * 32)


POOL = Whirlpool(_key(1), 64, 3000, 1300, 10**12, sqrt_price_from_tick_index(-18_973), -18_973, _key(2), _key(3),
                 _key(4), _key(5))  # fmt: skip


def test_the_discriminator_is_anchors() -> None:
    assert SWAP_V2_DISCRIMINATOR == hashlib.sha256(b"global:swap_v2").digest()[:8]


def test_the_pdas_take_the_programs_seeds() -> None:
    pool = whirlpool_address(PROGRAM, _key(1), _key(2), _key(4), 64)
    seeds = [b"whirlpool", bytes(_key(1)), bytes(_key(2)), bytes(_key(4)), (64).to_bytes(2, "little")]
    assert pool == Pubkey.find_program_address(seeds, PROGRAM)[0]
    expected = Pubkey.find_program_address([b"tick_array", bytes(pool), b"-22528"], PROGRAM)[0]
    assert tick_array_address(PROGRAM, pool, -22_528) == expected
    assert oracle_address(PROGRAM, pool) == Pubkey.find_program_address([b"oracle", bytes(pool)], PROGRAM)[0]


def test_a_swap_names_the_walks_three_arrays_in_order() -> None:
    width = 88 * 64
    down = swap_tick_arrays(PROGRAM, _key(9), POOL, a_to_b=True)
    up = swap_tick_arrays(PROGRAM, _key(9), POOL, a_to_b=False)
    assert down == [tick_array_address(PROGRAM, _key(9), s) for s in (-22_528, -22_528 - width, -22_528 - 2 * width)]
    assert up == [tick_array_address(PROGRAM, _key(9), s) for s in (-22_528, -22_528 + width, -22_528 + 2 * width)]


def test_exact_in_a_to_b() -> None:
    ix = swap_pool(PROGRAM, _key(9), POOL, owner=_key(10), input_token_account=_key(11), output_token_account=_key(12),
                   amount_in=123_456_789, minimum_amount_out=42, a_to_b=True,
                   token_program_b=TOKEN_2022_PROGRAM_ID)  # fmt: skip
    assert ix.program_id == PROGRAM
    assert bytes(ix.data) == SWAP_V2_DISCRIMINATOR + struct.pack("<QQ16s??B", 123_456_789, 42, bytes(16), True, True, 0)
    assert len(ix.data) == 43
    metas = [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts]
    arrays = swap_tick_arrays(PROGRAM, _key(9), POOL, a_to_b=True)
    assert metas == [
        (TOKEN_PROGRAM_ID, False, False),
        (TOKEN_2022_PROGRAM_ID, False, False),
        (MEMO_PROGRAM_ID, False, False),
        (_key(10), True, False),
        (_key(9), False, True),
        (_key(2), False, False),
        (_key(4), False, False),
        (_key(11), False, True),  # the input is token A
        (_key(3), False, True),
        (_key(12), False, True),
        (_key(5), False, True),
        *((key, False, True) for key in arrays),
        (oracle_address(PROGRAM, _key(9)), False, True),
    ]


def test_exact_out_b_to_a_puts_the_output_first_and_swaps_the_owner_accounts() -> None:
    ix = swap_pool(PROGRAM, _key(9), POOL, owner=_key(10), input_token_account=_key(11), output_token_account=_key(12),
                   amount_in=1_000, minimum_amount_out=900, a_to_b=False, exact_out=True)  # fmt: skip
    assert bytes(ix.data)[8:] == struct.pack("<QQ16s??B", 900, 1_000, bytes(16), False, False, 0)
    assert (ix.accounts[7].pubkey, ix.accounts[9].pubkey) == (_key(12), _key(11))
    assert [m.pubkey for m in ix.accounts[11:14]] == swap_tick_arrays(PROGRAM, _key(9), POOL, a_to_b=False)


def test_a_price_limit_and_the_amounts_are_checked() -> None:
    arrays = [_key(20)] * 3
    common = dict(whirlpool=_key(9), token_authority=_key(10), token_mint_a=_key(2), token_mint_b=_key(4),
                  token_owner_account_a=_key(11), token_owner_account_b=_key(12), token_vault_a=_key(3),
                  token_vault_b=_key(5), tick_arrays=arrays, a_to_b=True)  # fmt: skip
    ix = swap_v2(PROGRAM, amount=1, other_amount_threshold=0, sqrt_price_limit=2**64 + 1, **common)  # type: ignore[arg-type]
    assert bytes(ix.data)[24:40] == (2**64 + 1).to_bytes(16, "little")
    with pytest.raises(ValueError, match="u64"):
        swap_v2(PROGRAM, amount=2**64, other_amount_threshold=0, **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="three tick arrays"):
        swap_v2(PROGRAM, amount=1, other_amount_threshold=0, **(common | {"tick_arrays": arrays[:2]}))  # type: ignore[arg-type]
