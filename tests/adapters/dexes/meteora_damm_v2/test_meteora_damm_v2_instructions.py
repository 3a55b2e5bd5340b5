"""``swap2`` byte for byte: its discriminator, 25 bytes of data per mode, the 14 accounts in the program's
order (15 for a rate-limited pool), and the PDAs the mainnet program uses."""

from __future__ import annotations

import dataclasses
import hashlib
import struct

import pytest
from solders.pubkey import Pubkey

from adapters.dexes.meteora_damm_v2.instructions import (
    INSTRUCTIONS_SYSVAR,
    SWAP2_DISCRIMINATOR,
    SWAP_DISCRIMINATOR,
    SwapMode,
    customizable_pool_address,
    event_authority,
    pool_address,
    pool_authority,
    swap2,
    swap_pool,
    token_programs,
)
from adapters.dexes.meteora_damm_v2.layouts import FeeRateLimiter, FeeTimeScheduler, Pool, PoolFees
from adapters.solana.spl import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

PROGRAM = Pubkey.from_string("cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG")


def _key(n: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([n]) * 32)


POOL = Pool(PoolFees(FeeTimeScheduler(2_500_000)), _key(1), _key(2), _key(3), _key(4), 10**20, 1, 2**100, 2**64,
            token_b_flag=1)  # fmt: skip


def test_discriminators_are_anchors() -> None:
    assert SWAP2_DISCRIMINATOR == hashlib.sha256(b"global:swap2").digest()[:8]
    assert SWAP_DISCRIMINATOR == hashlib.sha256(b"global:swap").digest()[:8]


def test_the_mainnet_program_authorities() -> None:
    assert str(pool_authority(PROGRAM)) == "HLnpSz9h2S4hiLQ43rnSD9XkcUThA7B8hQMKmDaiTLcC"
    assert event_authority(PROGRAM) == Pubkey.find_program_address([b"__event_authority"], PROGRAM)[0]


def test_pool_pdas_take_the_larger_mint_first() -> None:
    low, high = _key(5), _key(9)
    config = _key(7)
    expected = Pubkey.find_program_address([b"pool", bytes(config), bytes(high), bytes(low)], PROGRAM)[0]
    assert pool_address(PROGRAM, config, low, high) == pool_address(PROGRAM, config, high, low) == expected
    custom = Pubkey.find_program_address([b"cpool", bytes(high), bytes(low)], PROGRAM)[0]
    assert customizable_pool_address(PROGRAM, low, high) == custom


def test_exact_in_swap_on_a_pool() -> None:
    ix = swap_pool(PROGRAM, _key(10), POOL, payer=_key(11), input_token_account=_key(12),
                   output_token_account=_key(13), amount_in=123_456_789, minimum_amount_out=42)  # fmt: skip
    assert ix.program_id == PROGRAM
    assert bytes(ix.data) == SWAP2_DISCRIMINATOR + struct.pack("<QQB", 123_456_789, 42, 0)
    assert len(ix.data) == 25
    metas = [(m.pubkey, m.is_signer, m.is_writable) for m in ix.accounts]
    assert metas == [
        (pool_authority(PROGRAM), False, False),
        (_key(10), False, True),
        (_key(12), False, True),
        (_key(13), False, True),
        (_key(3), False, True),
        (_key(4), False, True),
        (_key(1), False, False),
        (_key(2), False, False),
        (_key(11), True, False),
        (TOKEN_PROGRAM_ID, False, False),
        (TOKEN_2022_PROGRAM_ID, False, False),
        (PROGRAM, False, False),  # no referral account
        (event_authority(PROGRAM), False, False),
        (PROGRAM, False, False),
    ]


def test_exact_out_puts_the_output_first() -> None:
    ix = swap_pool(PROGRAM, _key(10), POOL, payer=_key(11), input_token_account=_key(12),
                   output_token_account=_key(13), amount_in=1_000, minimum_amount_out=900, exact_out=True)  # fmt: skip
    assert bytes(ix.data) == SWAP2_DISCRIMINATOR + struct.pack("<QQB", 900, 1_000, SwapMode.EXACT_OUT)
    assert bytes(ix.data)[-1] == 2


def test_a_rate_limited_pool_names_the_instructions_sysvar() -> None:
    limited = dataclasses.replace(POOL, pool_fees=PoolFees(FeeRateLimiter(10_000_000, 10, 60, 5000, 10**9)))
    ix = swap_pool(PROGRAM, _key(10), limited, payer=_key(11), input_token_account=_key(12),
                   output_token_account=_key(13), amount_in=1, minimum_amount_out=0)  # fmt: skip
    assert len(ix.accounts) == 15
    assert (ix.accounts[14].pubkey, ix.accounts[14].is_writable) == (INSTRUCTIONS_SYSVAR, False)


def test_a_referral_account_is_writable() -> None:
    ix = swap2(PROGRAM, pool=_key(10), payer=_key(11), input_token_account=_key(12), output_token_account=_key(13),
               token_a_vault=_key(3), token_b_vault=_key(4), token_a_mint=_key(1), token_b_mint=_key(2),
               token_a_program=TOKEN_PROGRAM_ID, token_b_program=TOKEN_PROGRAM_ID, amount_0=1, amount_1=0,
               referral_token_account=_key(20))  # fmt: skip
    assert (ix.accounts[11].pubkey, ix.accounts[11].is_writable) == (_key(20), True)


def test_token_flags_and_amounts_are_checked() -> None:
    assert token_programs(POOL) == (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)
    with pytest.raises(ValueError, match="token flag"):
        token_programs(dataclasses.replace(POOL, token_a_flag=2))
    with pytest.raises(ValueError, match="u64"):
        swap_pool(PROGRAM, _key(10), POOL, payer=_key(11), input_token_account=_key(12),
                  output_token_account=_key(13), amount_in=2**64, minimum_amount_out=0)  # fmt: skip
