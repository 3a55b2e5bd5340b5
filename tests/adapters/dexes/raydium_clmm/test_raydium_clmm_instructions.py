"""``swap_v2`` byte for byte: its discriminator, 41 bytes of data, the 13 accounts in the program's order, then
the bitmap extension and the tick arrays in walk order; and the PDAs, checked on a mainnet pool."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import pytest
from solders.pubkey import Pubkey

from adapters.dexes.raydium_clmm.config import MAINNET_PROGRAM_ID as PROGRAM
from adapters.dexes.raydium_clmm.instructions import (
    MEMO_PROGRAM_ID,
    SWAP_V2_DISCRIMINATOR,
    bitmap_extension_address,
    observation_address,
    pool_address,
    swap_pool,
    swap_v2,
    tick_array_address,
    vault_address,
)
from adapters.dexes.raydium_clmm.layouts import PoolState
from adapters.solana.spl import NATIVE_MINT, TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

USDC = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")


def _key(n: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([n]) * 32)


POOL = PoolState(amm_config=_key(1), token_mint_0=_key(2), token_mint_1=_key(3), token_vault_0=_key(4),
                 token_vault_1=_key(5), observation_key=_key(6), tick_spacing=10, liquidity=1, sqrt_price_x64=2**64,
                 tick_current=0)  # fmt: skip


def test_the_discriminator_is_anchors() -> None:
    assert SWAP_V2_DISCRIMINATOR == hashlib.sha256(b"global:swap_v2").digest()[:8]


def test_the_pdas_of_the_mainnet_sol_usdc_pool() -> None:
    """The 0.04% SOL/USDC pool, its config and vaults as mainnet holds them."""
    config = Pubkey.from_string("3h2e43PunVA5K34vwKCLHWhZF4aZpyaC9RmxvshGAQpL")
    pool, _ = pool_address(PROGRAM, config, NATIVE_MINT, USDC)
    assert str(pool) == "3ucNos4NbumPLZNWztqGHNFFgkHeRMBQAVemeeomsUxv"
    assert str(vault_address(PROGRAM, pool, NATIVE_MINT)) == "4ct7br2vTPzfdmY3S5HLtTxcGSBfn6pnw98hsS6v359A"
    assert str(vault_address(PROGRAM, pool, USDC)) == "5it83u57VRrVgc51oNV19TTmAJuffPx5GtGwQr7gQNUo"
    assert str(tick_array_address(PROGRAM, pool, -24480)) == "CRH2mjtHSHrGEJGgLsRBqLm6nvhSbVtkG4q62qhm3i6h"


def test_the_other_pdas_take_their_seeds() -> None:
    pool = _key(9)
    assert observation_address(PROGRAM, pool) == Pubkey.find_program_address([b"observation", bytes(pool)],
                                                                              PROGRAM)[0]  # fmt: skip
    assert (
        bitmap_extension_address(PROGRAM, pool)
        == Pubkey.find_program_address([b"pool_tick_array_bitmap_extension", bytes(pool)], PROGRAM)[0]
    )
    negative = Pubkey.find_program_address([b"tick_array", bytes(pool), (-600).to_bytes(4, "big", signed=True)],
                                           PROGRAM)[0]  # fmt: skip
    assert tick_array_address(PROGRAM, pool, -600) == negative


def test_swap_v2_bytes_and_accounts() -> None:
    ix = swap_v2(
        PROGRAM, payer=_key(10), amm_config=_key(11), pool=_key(12), input_token_account=_key(13),
        output_token_account=_key(14), input_vault=_key(15), output_vault=_key(16), observation=_key(17),
        input_vault_mint=_key(18), output_vault_mint=_key(19), amount=123_456_789, other_amount_threshold=987,
        is_base_input=True, tick_arrays=[_key(20), _key(21)], bitmap_extension=_key(22),
        sqrt_price_limit_x64=2**100 + 5,
    )  # fmt: skip
    assert ix.program_id == PROGRAM
    assert len(ix.data) == 41
    assert (
        ix.data
        == SWAP_V2_DISCRIMINATOR + struct.pack("<QQ", 123_456_789, 987) + (2**100 + 5).to_bytes(16, "little") + b"\x01"
    )
    keys = [m.pubkey for m in ix.accounts]
    assert keys == [_key(10), _key(11), _key(12), _key(13), _key(14), _key(15), _key(16), _key(17),
                    TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID, MEMO_PROGRAM_ID, _key(18), _key(19), _key(22), _key(20),
                    _key(21)]  # fmt: skip
    assert [m.is_signer for m in ix.accounts] == [True] + [False] * 15
    writable = [m.is_writable for m in ix.accounts]
    assert writable == [False, False, True, True, True, True, True, True, False, False, False, False, False, True,
                        True, True]  # fmt: skip


def test_swap_pool_reads_the_direction_and_its_accounts() -> None:
    ix = swap_pool(PROGRAM, _key(30), POOL, payer=_key(31), input_token_account=_key(32),
                   output_token_account=_key(33), zero_for_one=False, amount=5, other_amount_threshold=6,
                   is_base_input=False, tick_arrays=[0, 600])  # fmt: skip
    keys = [m.pubkey for m in ix.accounts]
    assert keys[1:8] == [_key(1), _key(30), _key(32), _key(33), _key(5), _key(4), _key(6)]
    assert keys[11:13] == [_key(3), _key(2)]
    assert keys[13:] == [bitmap_extension_address(PROGRAM, _key(30)), tick_array_address(PROGRAM, _key(30), 0),
                         tick_array_address(PROGRAM, _key(30), 600)]  # fmt: skip
    assert ix.data[-1] == 0 and ix.data[24:40] == bytes(16)
    bare = swap_pool(PROGRAM, _key(30), POOL, payer=_key(31), input_token_account=_key(32),
                     output_token_account=_key(33), zero_for_one=True, amount=5, other_amount_threshold=6,
                     is_base_input=True, tick_arrays=[0], with_extension=False)  # fmt: skip
    assert len(bare.accounts) == 14 and bare.accounts[5].pubkey == _key(4)


@pytest.mark.parametrize("bad", [{"amount": -1}, {"amount": 2**64}, {"other_amount_threshold": 2**64},
                                 {"sqrt_price_limit_x64": 2**128}, {"tick_arrays": []}])  # fmt: skip
def test_out_of_range_arguments_are_refused(bad: dict[str, object]) -> None:
    args: dict[str, Any] = {"amount": 1, "other_amount_threshold": 0, "tick_arrays": [_key(1)]} | bad
    with pytest.raises(ValueError):
        swap_v2(
            PROGRAM,
            payer=_key(1),
            amm_config=_key(1),
            pool=_key(1),
            input_token_account=_key(1),
            output_token_account=_key(1),
            input_vault=_key(1),
            output_vault=_key(1),
            observation=_key(1),
            input_vault_mint=_key(1),
            output_vault_mint=_key(1),
            is_base_input=True,
            **args,
        )
