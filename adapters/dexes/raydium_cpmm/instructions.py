"""CPMM program addresses (PDAs) and the ``swap_base_input`` and ``swap_base_output`` instructions. Pure: no I/O.

Both swaps take the same 13 accounts; ``swap_base_input`` data is ``amount_in``, ``minimum_amount_out`` and
``swap_base_output`` data ``max_amount_in``, ``amount_out`` (u64 each, after the discriminator).

Pools made by ``initialize`` sit at their PDA, but pools can also be plain keypairs: take vault and
observation addresses from the pool state, never derive them for a pool that exists.
"""

from __future__ import annotations

import functools
import struct

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from adapters.dexes.raydium_cpmm.layouts import PoolState

SWAP_BASE_INPUT_DISCRIMINATOR = bytes([143, 190, 90, 218, 196, 30, 51, 222])
SWAP_BASE_OUTPUT_DISCRIMINATOR = bytes([55, 217, 98, 86, 163, 74, 180, 173])
AUTHORITY_SEED = b"vault_and_lp_mint_auth_seed"
CONFIG_SEED = b"amm_config"
POOL_SEED = b"pool"
VAULT_SEED = b"pool_vault"
OBSERVATION_SEED = b"observation"
_U64_MAX = 2**64 - 1


@functools.cache
def authority_address(program_id: Pubkey) -> tuple[Pubkey, int]:
    """The vault and LP mint authority, and its bump (the pool state keeps the bump as ``auth_bump``)."""
    return Pubkey.find_program_address([AUTHORITY_SEED], program_id)


def config_address(program_id: Pubkey, index: int) -> Pubkey:
    """The AmmConfig of fee tier ``index`` (a u16, big-endian in the seed)."""
    return Pubkey.find_program_address([CONFIG_SEED, index.to_bytes(2, "big")], program_id)[0]


def sort_mints(mint_a: Pubkey, mint_b: Pubkey) -> tuple[Pubkey, Pubkey]:
    """``(token_0, token_1)`` as the program orders them: by their 32 bytes."""
    return (mint_a, mint_b) if bytes(mint_a) < bytes(mint_b) else (mint_b, mint_a)


def pool_address(program_id: Pubkey, amm_config: Pubkey, mint_0: Pubkey, mint_1: Pubkey) -> Pubkey:
    """The canonical pool of a sorted mint pair under one AmmConfig."""
    seeds = [POOL_SEED, bytes(amm_config), bytes(mint_0), bytes(mint_1)]
    return Pubkey.find_program_address(seeds, program_id)[0]


def vault_address(program_id: Pubkey, pool: Pubkey, mint: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([VAULT_SEED, bytes(pool), bytes(mint)], program_id)[0]


def observation_address(program_id: Pubkey, pool: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([OBSERVATION_SEED, bytes(pool)], program_id)[0]


def swap_base_input(
    program_id: Pubkey,
    *,
    payer: Pubkey,
    authority: Pubkey,
    amm_config: Pubkey,
    pool_state: Pubkey,
    input_token_account: Pubkey,
    output_token_account: Pubkey,
    input_vault: Pubkey,
    output_vault: Pubkey,
    input_token_program: Pubkey,
    output_token_program: Pubkey,
    input_mint: Pubkey,
    output_mint: Pubkey,
    observation_state: Pubkey,
    amount_in: int,
    minimum_amount_out: int,
    exact_out: bool = False,
) -> Instruction:
    """Swap exactly ``amount_in``; the program fails with 6005 if the trader would get less than
    ``minimum_amount_out``. The 13 accounts in the program's order; only the payer signs.

    With ``exact_out`` it is ``swap_base_output`` instead: receive exactly ``minimum_amount_out``, spending at
    most ``amount_in`` (6005 when it would take more)."""
    for name, value in (("amount_in", amount_in), ("minimum_amount_out", minimum_amount_out)):
        if not 0 <= value <= _U64_MAX:
            raise ValueError(f"{name} must be a u64, got {value}")
    accounts = [
        AccountMeta(payer, is_signer=True, is_writable=False),
        AccountMeta(authority, is_signer=False, is_writable=False),
        AccountMeta(amm_config, is_signer=False, is_writable=False),
        AccountMeta(pool_state, is_signer=False, is_writable=True),
        AccountMeta(input_token_account, is_signer=False, is_writable=True),
        AccountMeta(output_token_account, is_signer=False, is_writable=True),
        AccountMeta(input_vault, is_signer=False, is_writable=True),
        AccountMeta(output_vault, is_signer=False, is_writable=True),
        AccountMeta(input_token_program, is_signer=False, is_writable=False),
        AccountMeta(output_token_program, is_signer=False, is_writable=False),
        AccountMeta(input_mint, is_signer=False, is_writable=False),
        AccountMeta(output_mint, is_signer=False, is_writable=False),
        AccountMeta(observation_state, is_signer=False, is_writable=True),
    ]
    discriminator = SWAP_BASE_OUTPUT_DISCRIMINATOR if exact_out else SWAP_BASE_INPUT_DISCRIMINATOR
    data = discriminator + struct.pack("<QQ", amount_in, minimum_amount_out)
    return Instruction(program_id, data, accounts)


def swap_pool(
    program_id: Pubkey,
    address: Pubkey,
    pool: PoolState,
    *,
    zero_for_one: bool,
    payer: Pubkey,
    input_token_account: Pubkey,
    output_token_account: Pubkey,
    amount_in: int,
    minimum_amount_out: int,
    exact_out: bool = False,
) -> Instruction:
    """:func:`swap_base_input` (or, ``exact_out``, ``swap_base_output``) on the pool at ``address``, its
    accounts read from its state ``pool``."""
    side_0 = (pool.token_0_vault, pool.token_0_program, pool.token_0_mint)
    side_1 = (pool.token_1_vault, pool.token_1_program, pool.token_1_mint)
    (in_vault, in_program, in_mint), (out_vault, out_program, out_mint) = (
        (side_0, side_1) if zero_for_one else (side_1, side_0)
    )
    return swap_base_input(
        program_id,
        payer=payer,
        authority=authority_address(program_id)[0],
        amm_config=pool.amm_config,
        pool_state=address,
        input_token_account=input_token_account,
        output_token_account=output_token_account,
        input_vault=in_vault,
        output_vault=out_vault,
        input_token_program=in_program,
        output_token_program=out_program,
        input_mint=in_mint,
        output_mint=out_mint,
        observation_state=pool.observation_key,
        amount_in=amount_in,
        minimum_amount_out=minimum_amount_out,
        exact_out=exact_out,
    )
