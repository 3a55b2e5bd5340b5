"""DAMM v2 program addresses (PDAs) and the ``swap2`` instruction. Pure: no I/O.

``swap2`` data is the discriminator, ``amount_0`` u64, ``amount_1`` u64 and ``swap_mode`` u8 (25 bytes):
exact in (0) spends ``amount_0`` for at least ``amount_1``; exact out (2) buys exactly ``amount_0`` for at
most ``amount_1``; partial fill (1) is never sent here. ``swap`` (v1) is exact in only, with 24 bytes.

Its 14 accounts, in order: pool authority, pool (W), input token account (W), output token account (W),
token A vault (W), token B vault (W), token A mint, token B mint, payer (S), token A program, token B
program, referral token account (W, optional: the program ID, read-only, when absent), event authority,
the program. The vaults and mints are A then B whichever way the swap goes: the program tells the direction
from the input account's mint. A pool whose base fee is a rate limiter needs the Instructions sysvar after
them (it checks that no other instruction of the transaction swaps the pool).

Pools made by ``initialize_pool`` sit at ``["pool", config, larger mint, smaller mint]``, customizable ones at
``["cpool", larger mint, smaller mint]``; token A and B are in the creator's order, not sorted.
"""

from __future__ import annotations

import enum
import functools
import struct

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from adapters.dexes.meteora_damm_v2.layouts import FeeRateLimiter, Pool
from adapters.solana.spl import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID
from kernel.money import U64_MAX

SWAP2_DISCRIMINATOR = bytes([65, 75, 63, 76, 235, 91, 91, 136])
SWAP_DISCRIMINATOR = bytes([248, 198, 158, 145, 225, 117, 135, 200])
POOL_AUTHORITY_SEED = b"pool_authority"
EVENT_AUTHORITY_SEED = b"__event_authority"
POOL_SEED = b"pool"
CUSTOMIZABLE_POOL_SEED = b"cpool"
TOKEN_VAULT_SEED = b"token_vault"
INSTRUCTIONS_SYSVAR = Pubkey.from_string("Sysvar1nstructions1111111111111111111111111")


class SwapMode(enum.IntEnum):
    EXACT_IN = 0
    PARTIAL_FILL = 1
    EXACT_OUT = 2


@functools.cache
def pool_authority(program_id: Pubkey) -> Pubkey:
    """The owner of every pool's vaults (``HLnpSz9h…TLcC`` for the mainnet program)."""
    return Pubkey.find_program_address([POOL_AUTHORITY_SEED], program_id)[0]


@functools.cache
def event_authority(program_id: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([EVENT_AUTHORITY_SEED], program_id)[0]


def _larger_first(mint_a: Pubkey, mint_b: Pubkey) -> tuple[Pubkey, Pubkey]:
    return (mint_a, mint_b) if bytes(mint_a) > bytes(mint_b) else (mint_b, mint_a)


def pool_address(program_id: Pubkey, config: Pubkey, mint_a: Pubkey, mint_b: Pubkey) -> Pubkey:
    """The pool a config's ``initialize_pool`` makes for the two mints (in either order)."""
    first, second = _larger_first(mint_a, mint_b)
    return Pubkey.find_program_address([POOL_SEED, bytes(config), bytes(first), bytes(second)], program_id)[0]


def customizable_pool_address(program_id: Pubkey, mint_a: Pubkey, mint_b: Pubkey) -> Pubkey:
    """The one customizable pool the two mints (in either order) can have."""
    first, second = _larger_first(mint_a, mint_b)
    return Pubkey.find_program_address([CUSTOMIZABLE_POOL_SEED, bytes(first), bytes(second)], program_id)[0]


def token_vault_address(program_id: Pubkey, mint: Pubkey, pool: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([TOKEN_VAULT_SEED, bytes(mint), bytes(pool)], program_id)[0]


def token_program(flag: int) -> Pubkey:
    """The token program a pool's token flag names: 0 SPL Token, 1 Token-2022."""
    if flag == 0:
        return TOKEN_PROGRAM_ID
    if flag == 1:
        return TOKEN_2022_PROGRAM_ID
    raise ValueError(f"unknown token flag {flag}")


def token_programs(pool: Pool) -> tuple[Pubkey, Pubkey]:
    """The token programs of token A and token B."""
    return token_program(pool.token_a_flag), token_program(pool.token_b_flag)


def swap2(
    program_id: Pubkey,
    *,
    pool: Pubkey,
    payer: Pubkey,
    input_token_account: Pubkey,
    output_token_account: Pubkey,
    token_a_vault: Pubkey,
    token_b_vault: Pubkey,
    token_a_mint: Pubkey,
    token_b_mint: Pubkey,
    token_a_program: Pubkey,
    token_b_program: Pubkey,
    amount_0: int,
    amount_1: int,
    mode: SwapMode = SwapMode.EXACT_IN,
    referral_token_account: Pubkey | None = None,
    instructions_sysvar: bool = False,
) -> Instruction:
    """``swap2`` with its 14 accounts (15 with ``instructions_sysvar``); only the payer signs. The program
    fails with 6002 (ExceededSlippage) when exact in pays less than ``amount_1``, or exact out costs more."""
    for name, value in (("amount_0", amount_0), ("amount_1", amount_1)):
        if not 0 <= value <= U64_MAX:
            raise ValueError(f"{name} must be a u64, got {value}")
    referral = (
        AccountMeta(referral_token_account, is_signer=False, is_writable=True)
        if referral_token_account is not None
        else AccountMeta(program_id, is_signer=False, is_writable=False)
    )
    accounts = [
        AccountMeta(pool_authority(program_id), is_signer=False, is_writable=False),
        AccountMeta(pool, is_signer=False, is_writable=True),
        AccountMeta(input_token_account, is_signer=False, is_writable=True),
        AccountMeta(output_token_account, is_signer=False, is_writable=True),
        AccountMeta(token_a_vault, is_signer=False, is_writable=True),
        AccountMeta(token_b_vault, is_signer=False, is_writable=True),
        AccountMeta(token_a_mint, is_signer=False, is_writable=False),
        AccountMeta(token_b_mint, is_signer=False, is_writable=False),
        AccountMeta(payer, is_signer=True, is_writable=False),
        AccountMeta(token_a_program, is_signer=False, is_writable=False),
        AccountMeta(token_b_program, is_signer=False, is_writable=False),
        referral,
        AccountMeta(event_authority(program_id), is_signer=False, is_writable=False),
        AccountMeta(program_id, is_signer=False, is_writable=False),
    ]
    if instructions_sysvar:
        accounts.append(AccountMeta(INSTRUCTIONS_SYSVAR, is_signer=False, is_writable=False))
    data = SWAP2_DISCRIMINATOR + struct.pack("<QQB", amount_0, amount_1, mode)
    return Instruction(program_id, data, accounts)


def swap_pool(
    program_id: Pubkey,
    address: Pubkey,
    pool: Pool,
    *,
    payer: Pubkey,
    input_token_account: Pubkey,
    output_token_account: Pubkey,
    amount_in: int,
    minimum_amount_out: int,
    exact_out: bool = False,
) -> Instruction:
    """:func:`swap2` on the pool at ``address``, its accounts read from its state ``pool``. Exact in spends
    ``amount_in`` for at least ``minimum_amount_out``; with ``exact_out`` it buys exactly
    ``minimum_amount_out`` for at most ``amount_in``."""
    amounts = (minimum_amount_out, amount_in) if exact_out else (amount_in, minimum_amount_out)
    token_a_program, token_b_program = token_programs(pool)
    return swap2(
        program_id, pool=address, payer=payer, input_token_account=input_token_account,
        output_token_account=output_token_account, token_a_vault=pool.token_a_vault,
        token_b_vault=pool.token_b_vault, token_a_mint=pool.token_a_mint, token_b_mint=pool.token_b_mint,
        token_a_program=token_a_program, token_b_program=token_b_program, amount_0=amounts[0], amount_1=amounts[1],
        mode=SwapMode.EXACT_OUT if exact_out else SwapMode.EXACT_IN,
        instructions_sysvar=isinstance(pool.pool_fees.base_fee, FeeRateLimiter),
    )  # fmt: skip
