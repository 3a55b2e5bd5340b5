"""Raydium CLMM program addresses (PDAs) and the ``swap_v2`` instruction. Pure: no I/O.

``swap_v2`` data is the discriminator, ``amount`` u64, ``other_amount_threshold`` u64, ``sqrt_price_limit_x64``
u128 and ``is_base_input`` bool (41 bytes). Exact in (``is_base_input``) spends ``amount`` for at least the
threshold (else 6022 TooLittleOutputReceived); exact out buys ``amount`` for at most the threshold (else 6023
TooMuchInputPaid). A zero price limit means none, and then the amount must fill completely.

Its 13 accounts, in order: payer (S), amm_config, pool_state (W), input token account (W), output token
account (W), input vault (W), output vault (W), observation_state (W), token_program, token_program_2022,
memo_program, input vault mint, output vault mint. The program tells the direction from the input vault's
mint. Then the remaining accounts: the bitmap extension (W), which the program recognises by its address and
needs once the walk leaves the pool's own bitmap, then every tick array the swap walks (W), in walk order
starting from the first one it uses; it stops reading at the first account that is not a tick array.

PDAs: pool ``["pool", config, mint 0, mint 1]`` (the program checks it, with the bump the pool stores, when it
signs for the vaults); vault ``["pool_vault", pool, mint]``; observation ``["observation", pool]``; tick array
``["tick_array", pool, start as i32 big-endian]``; extension ``["pool_tick_array_bitmap_extension", pool]``;
config ``["amm_config", index as u16 big-endian]``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from adapters.dexes.raydium_clmm.layouts import PoolState
from adapters.solana.spl import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID
from kernel.money import U64_MAX

SWAP_V2_DISCRIMINATOR = bytes([43, 4, 237, 11, 26, 201, 30, 98])
MEMO_PROGRAM_ID = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
POOL_SEED = b"pool"
POOL_VAULT_SEED = b"pool_vault"
OBSERVATION_SEED = b"observation"
TICK_ARRAY_SEED = b"tick_array"
BITMAP_EXTENSION_SEED = b"pool_tick_array_bitmap_extension"
AMM_CONFIG_SEED = b"amm_config"
U128_MAX = 2**128 - 1


def amm_config_address(program_id: Pubkey, index: int) -> Pubkey:
    return Pubkey.find_program_address([AMM_CONFIG_SEED, index.to_bytes(2, "big")], program_id)[0]


def pool_address(program_id: Pubkey, config: Pubkey, mint_0: Pubkey, mint_1: Pubkey) -> tuple[Pubkey, int]:
    """The pool of ``config`` for the two mints (mint 0 the lower in byte order) and its bump."""
    return Pubkey.find_program_address([POOL_SEED, bytes(config), bytes(mint_0), bytes(mint_1)], program_id)


def vault_address(program_id: Pubkey, pool: Pubkey, mint: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([POOL_VAULT_SEED, bytes(pool), bytes(mint)], program_id)[0]


def observation_address(program_id: Pubkey, pool: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([OBSERVATION_SEED, bytes(pool)], program_id)[0]


def tick_array_address(program_id: Pubkey, pool: Pubkey, start_tick_index: int) -> Pubkey:
    seeds = [TICK_ARRAY_SEED, bytes(pool), start_tick_index.to_bytes(4, "big", signed=True)]
    return Pubkey.find_program_address(seeds, program_id)[0]


def bitmap_extension_address(program_id: Pubkey, pool: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([BITMAP_EXTENSION_SEED, bytes(pool)], program_id)[0]


def swap_v2(
    program_id: Pubkey,
    *,
    payer: Pubkey,
    amm_config: Pubkey,
    pool: Pubkey,
    input_token_account: Pubkey,
    output_token_account: Pubkey,
    input_vault: Pubkey,
    output_vault: Pubkey,
    observation: Pubkey,
    input_vault_mint: Pubkey,
    output_vault_mint: Pubkey,
    amount: int,
    other_amount_threshold: int,
    is_base_input: bool,
    tick_arrays: Sequence[Pubkey],
    bitmap_extension: Pubkey | None = None,
    sqrt_price_limit_x64: int = 0,
) -> Instruction:
    """``swap_v2`` with its 13 accounts, then the bitmap extension (when given) and ``tick_arrays``."""
    for name, value in (("amount", amount), ("other_amount_threshold", other_amount_threshold)):
        if not 0 <= value <= U64_MAX:
            raise ValueError(f"{name} must be a u64, got {value}")
    if not 0 <= sqrt_price_limit_x64 <= U128_MAX:
        raise ValueError(f"sqrt_price_limit_x64 must be a u128, got {sqrt_price_limit_x64}")
    if not tick_arrays:
        raise ValueError("a swap walks at least one tick array")
    accounts = [
        AccountMeta(payer, is_signer=True, is_writable=False),
        AccountMeta(amm_config, is_signer=False, is_writable=False),
        AccountMeta(pool, is_signer=False, is_writable=True),
        AccountMeta(input_token_account, is_signer=False, is_writable=True),
        AccountMeta(output_token_account, is_signer=False, is_writable=True),
        AccountMeta(input_vault, is_signer=False, is_writable=True),
        AccountMeta(output_vault, is_signer=False, is_writable=True),
        AccountMeta(observation, is_signer=False, is_writable=True),
        AccountMeta(TOKEN_PROGRAM_ID, is_signer=False, is_writable=False),
        AccountMeta(TOKEN_2022_PROGRAM_ID, is_signer=False, is_writable=False),
        AccountMeta(MEMO_PROGRAM_ID, is_signer=False, is_writable=False),
        AccountMeta(input_vault_mint, is_signer=False, is_writable=False),
        AccountMeta(output_vault_mint, is_signer=False, is_writable=False),
    ]
    if bitmap_extension is not None:
        accounts.append(AccountMeta(bitmap_extension, is_signer=False, is_writable=True))
    accounts += [AccountMeta(key, is_signer=False, is_writable=True) for key in tick_arrays]
    data = SWAP_V2_DISCRIMINATOR + struct.pack("<QQ", amount, other_amount_threshold)
    data += sqrt_price_limit_x64.to_bytes(16, "little") + bytes([int(is_base_input)])
    return Instruction(program_id, data, accounts)


def swap_pool(
    program_id: Pubkey,
    address: Pubkey,
    pool: PoolState,
    *,
    payer: Pubkey,
    input_token_account: Pubkey,
    output_token_account: Pubkey,
    zero_for_one: bool,
    amount: int,
    other_amount_threshold: int,
    is_base_input: bool,
    tick_arrays: Sequence[int],
    with_extension: bool = True,
    sqrt_price_limit_x64: int = 0,
) -> Instruction:
    """:func:`swap_v2` on the pool at ``address``, its accounts read from its state ``pool``; ``tick_arrays``
    are start indexes (a quote's ``tick_arrays``). Token 0 goes in when ``zero_for_one``."""
    vaults = (pool.token_vault_0, pool.token_vault_1)
    mints = (pool.token_mint_0, pool.token_mint_1)
    i, o = (0, 1) if zero_for_one else (1, 0)
    return swap_v2(
        program_id, payer=payer, amm_config=pool.amm_config, pool=address, input_token_account=input_token_account,
        output_token_account=output_token_account, input_vault=vaults[i], output_vault=vaults[o],
        observation=pool.observation_key, input_vault_mint=mints[i], output_vault_mint=mints[o], amount=amount,
        other_amount_threshold=other_amount_threshold, is_base_input=is_base_input,
        tick_arrays=[tick_array_address(program_id, address, s) for s in tick_arrays],
        bitmap_extension=bitmap_extension_address(program_id, address) if with_extension else None,
        sqrt_price_limit_x64=sqrt_price_limit_x64,
    )  # fmt: skip
