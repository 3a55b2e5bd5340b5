"""CPMM addresses and the swap_base_input instruction: PDAs against mainnet's, accounts, flags and bytes."""

from __future__ import annotations

import hashlib
import struct

import pytest
from solders.pubkey import Pubkey

from adapters.dexes.raydium_cpmm.instructions import (
    authority_address,
    config_address,
    observation_address,
    pool_address,
    sort_mints,
    swap_base_input,
    swap_pool,
    vault_address,
)
from adapters.dexes.raydium_cpmm.layouts import PoolState

MAINNET = Pubkey.from_string("CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C")
DEVNET = Pubkey.from_string("DRaycpLY18LhpbydsBWbVJtxpNv9oXPgjRSfpF2bWpYb")
SOL = Pubkey.from_string("So11111111111111111111111111111111111111112")
USDC = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")


def _key(n: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([n]) * 32)


def test_authority_pdas() -> None:
    assert authority_address(MAINNET) == (Pubkey.from_string("GpMZbSM2GgvTKHJirzeGfMFoaZ8UR2X7F4v8vHTvxFbL"), 253)
    assert authority_address(DEVNET)[0] == Pubkey.from_string("CXniRufdq5xL8t8jZAPxsPZDpuudwuJSPWnbcD5Y5Nxq")


def test_config_and_canonical_pool_pdas_match_mainnet() -> None:
    config = config_address(MAINNET, 0)
    assert config == Pubkey.from_string("D4FPEruKEHrG5TenZ2mpDGEfu1iUvTiqBxvpU8HLBvC2")
    # the index is big-endian in the seed: index 1 is seed bytes 00 01
    assert config_address(MAINNET, 1) == Pubkey.find_program_address([b"amm_config", b"\x00\x01"], MAINNET)[0]
    # mainnet's SOL-USDC CPMM reference pool is the canonical pool of config 0
    mint_0, mint_1 = sort_mints(USDC, SOL)
    assert (mint_0, mint_1) == (SOL, USDC)
    assert pool_address(MAINNET, config, mint_0, mint_1) == Pubkey.from_string(
        "7JuwJuNU88gurFnyWeiyGKbFmExMWcmRZntn9imEzdny"
    )


def test_vault_and_observation_seeds() -> None:
    pool = _key(9)
    assert (
        vault_address(MAINNET, pool, SOL)
        == Pubkey.find_program_address([b"pool_vault", bytes(pool), bytes(SOL)], MAINNET)[0]
    )
    assert observation_address(MAINNET, pool) == Pubkey.find_program_address([b"observation", bytes(pool)], MAINNET)[0]
    assert sort_mints(_key(2), _key(1)) == (_key(1), _key(2))


def test_swap_base_input_accounts_flags_and_data() -> None:
    names = list(range(20, 33))
    keys = [_key(n) for n in names]
    ix = swap_base_input(
        MAINNET,
        payer=keys[0], authority=keys[1], amm_config=keys[2], pool_state=keys[3], input_token_account=keys[4],
        output_token_account=keys[5], input_vault=keys[6], output_vault=keys[7], input_token_program=keys[8],
        output_token_program=keys[9], input_mint=keys[10], output_mint=keys[11], observation_state=keys[12],
        amount_in=1_000_000_000, minimum_amount_out=149_000_000,
    )  # fmt: skip
    assert ix.program_id == MAINNET
    assert [m.pubkey for m in ix.accounts] == keys
    assert [m.is_signer for m in ix.accounts] == [True] + [False] * 12
    writable = [False, False, False, True, True, True, True, True, False, False, False, False, True]
    assert [m.is_writable for m in ix.accounts] == writable
    assert ix.data == bytes([143, 190, 90, 218, 196, 30, 51, 222]) + struct.pack("<QQ", 1_000_000_000, 149_000_000)
    assert ix.data.hex() == "8fbe5adac41e33de00ca9a3b00000000408fe10800000000"
    with pytest.raises(ValueError, match="u64"):
        swap_base_input(
            MAINNET, payer=keys[0], authority=keys[1], amm_config=keys[2], pool_state=keys[3],
            input_token_account=keys[4], output_token_account=keys[5], input_vault=keys[6], output_vault=keys[7],
            input_token_program=keys[8], output_token_program=keys[9], input_mint=keys[10], output_mint=keys[11],
            observation_state=keys[12], amount_in=2**64, minimum_amount_out=0,
        )  # fmt: skip


POOL = PoolState(
    amm_config=_key(1), pool_creator=_key(2), token_0_vault=_key(3), token_1_vault=_key(4), lp_mint=_key(5),
    token_0_mint=_key(6), token_1_mint=_key(7), token_0_program=_key(8), token_1_program=_key(9),
    observation_key=_key(10), auth_bump=253, status=0, lp_mint_decimals=9, mint_0_decimals=9, mint_1_decimals=6,
    lp_supply=0, protocol_fees_token_0=0, protocol_fees_token_1=0, fund_fees_token_0=0, fund_fees_token_1=0,
    open_time=0, recent_epoch=0,
)  # fmt: skip


@pytest.mark.parametrize("zero_for_one", [True, False])
def test_swap_pool_reads_its_accounts_from_the_state(zero_for_one: bool) -> None:
    address, payer, source, destination = _key(40), _key(41), _key(42), _key(43)
    ix = swap_pool(
        MAINNET, address, POOL, zero_for_one=zero_for_one, payer=payer, input_token_account=source,
        output_token_account=destination, amount_in=5, minimum_amount_out=4,
    )  # fmt: skip
    side_0, side_1 = (_key(3), _key(8), _key(6)), (_key(4), _key(9), _key(7))
    (v_in, p_in, m_in), (v_out, p_out, m_out) = (side_0, side_1) if zero_for_one else (side_1, side_0)
    authority = Pubkey.from_string("GpMZbSM2GgvTKHJirzeGfMFoaZ8UR2X7F4v8vHTvxFbL")
    expected = [
        payer,
        authority,
        _key(1),
        address,
        source,
        destination,
        v_in,
        v_out,
        p_in,
        p_out,
        m_in,
        m_out,
        _key(10),
    ]
    assert [m.pubkey for m in ix.accounts] == expected
    assert ix.data[8:] == struct.pack("<QQ", 5, 4)


def test_swap_base_output_takes_the_same_accounts_and_max_in_then_out() -> None:
    keys = [_key(n) for n in range(20, 33)]
    common = dict(
        payer=keys[0], authority=keys[1], amm_config=keys[2], pool_state=keys[3], input_token_account=keys[4],
        output_token_account=keys[5], input_vault=keys[6], output_vault=keys[7], input_token_program=keys[8],
        output_token_program=keys[9], input_mint=keys[10], output_mint=keys[11], observation_state=keys[12],
    )  # fmt: skip
    exact_in = swap_base_input(MAINNET, **common, amount_in=7, minimum_amount_out=5)  # type: ignore[arg-type]
    exact_out = swap_base_input(MAINNET, **common, amount_in=7, minimum_amount_out=5, exact_out=True)  # type: ignore[arg-type]
    assert exact_out.accounts == exact_in.accounts
    # sha256("global:swap_base_output")[:8], then max_amount_in and amount_out
    assert exact_out.data == bytes([55, 217, 98, 86, 163, 74, 180, 173]) + struct.pack("<QQ", 7, 5)
    assert exact_out.data[:8] == hashlib.sha256(b"global:swap_base_output").digest()[:8]
