"""Whirlpool program addresses (PDAs) and the ``swap_v2`` instruction. Pure: no I/O.

``swap_v2`` data is the discriminator, ``amount`` u64, ``other_amount_threshold`` u64, ``sqrt_price_limit`` u128,
``amount_specified_is_input`` bool, ``a_to_b`` bool and ``remaining_accounts_info``, a Borsh option (one zero byte
for none: no transfer hook, no supplemental tick array), 43 bytes in all. Exact in spends ``amount`` for at least
the threshold; exact out buys exactly ``amount`` for at most the threshold. A zero price limit means none.

Its 15 accounts, in order: token program A, token program B, memo program, token authority (S), whirlpool (W),
mint A, mint B, owner account A (W), vault A (W), owner account B (W), vault B (W), tick arrays 0, 1 and 2 (W)
and the oracle (W). Accounts are A then B whichever way the swap goes. The tick arrays are the walk's, in walk
order; the program also accepts an array account that does not exist yet, at its PDA (88 uninitialized ticks).
The oracle is a PDA the program checks but never reads: it need not exist.

A pool sits at ``["whirlpool", config, mint A, mint B, tick spacing as u16 little-endian]``, mint A below mint B
in byte order; a tick array at ``["tick_array", pool, start tick index in decimal]``.
"""

from __future__ import annotations

import struct

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from adapters.dexes.orca_whirlpool.layouts import Whirlpool
from adapters.dexes.orca_whirlpool.math import tick_array_starts
from adapters.solana.spl import TOKEN_PROGRAM_ID
from kernel.money import U64_MAX

SWAP_V2_DISCRIMINATOR = bytes([43, 4, 237, 11, 26, 201, 30, 98])
MEMO_PROGRAM_ID = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
WHIRLPOOL_SEED = b"whirlpool"
TICK_ARRAY_SEED = b"tick_array"
ORACLE_SEED = b"oracle"
_SWAP_V2_ARGS = struct.Struct("<QQ16s??B")


def whirlpool_address(program_id: Pubkey, config: Pubkey, mint_a: Pubkey, mint_b: Pubkey, tick_spacing: int) -> Pubkey:
    """The pool of ``config`` for the two mints (A below B) at ``tick_spacing``."""
    seeds = [WHIRLPOOL_SEED, bytes(config), bytes(mint_a), bytes(mint_b), struct.pack("<H", tick_spacing)]
    return Pubkey.find_program_address(seeds, program_id)[0]


def whirlpool_bump(program_id: Pubkey, config: Pubkey, mint_a: Pubkey, mint_b: Pubkey, tick_spacing: int) -> int:
    seeds = [WHIRLPOOL_SEED, bytes(config), bytes(mint_a), bytes(mint_b), struct.pack("<H", tick_spacing)]
    return Pubkey.find_program_address(seeds, program_id)[1]


def tick_array_address(program_id: Pubkey, whirlpool: Pubkey, start_tick_index: int) -> Pubkey:
    seeds = [TICK_ARRAY_SEED, bytes(whirlpool), str(start_tick_index).encode()]
    return Pubkey.find_program_address(seeds, program_id)[0]


def oracle_address(program_id: Pubkey, whirlpool: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([ORACLE_SEED, bytes(whirlpool)], program_id)[0]


def swap_tick_arrays(program_id: Pubkey, address: Pubkey, pool: Whirlpool, *, a_to_b: bool) -> list[Pubkey]:
    """The three tick array accounts a swap names: the walk's arrays in order, the last repeated where the walk
    has fewer (at the ends of the tick range)."""
    keys = [tick_array_address(program_id, address, s) for s in tick_array_starts(pool, a_to_b=a_to_b)]
    return (keys + [keys[-1]] * 3)[:3]


def swap_v2(
    program_id: Pubkey,
    *,
    whirlpool: Pubkey,
    token_authority: Pubkey,
    token_mint_a: Pubkey,
    token_mint_b: Pubkey,
    token_owner_account_a: Pubkey,
    token_owner_account_b: Pubkey,
    token_vault_a: Pubkey,
    token_vault_b: Pubkey,
    tick_arrays: list[Pubkey],
    amount: int,
    other_amount_threshold: int,
    a_to_b: bool,
    amount_specified_is_input: bool = True,
    sqrt_price_limit: int = 0,
    token_program_a: Pubkey = TOKEN_PROGRAM_ID,
    token_program_b: Pubkey = TOKEN_PROGRAM_ID,
) -> Instruction:
    """``swap_v2`` with its 15 accounts; only the token authority signs. The program fails with 6036
    (AmountOutBelowMinimum) when exact in pays less than ``other_amount_threshold``, with 6037
    (AmountInAboveMaximum) when exact out costs more."""
    for name, value in (("amount", amount), ("other_amount_threshold", other_amount_threshold)):
        if not 0 <= value <= U64_MAX:
            raise ValueError(f"{name} must be a u64, got {value}")
    if not 0 <= sqrt_price_limit < 2**128:
        raise ValueError(f"sqrt_price_limit must be a u128, got {sqrt_price_limit}")
    if len(tick_arrays) != 3:
        raise ValueError(f"swap_v2 takes three tick arrays, got {len(tick_arrays)}")
    accounts = [
        AccountMeta(token_program_a, is_signer=False, is_writable=False),
        AccountMeta(token_program_b, is_signer=False, is_writable=False),
        AccountMeta(MEMO_PROGRAM_ID, is_signer=False, is_writable=False),
        AccountMeta(token_authority, is_signer=True, is_writable=False),
        AccountMeta(whirlpool, is_signer=False, is_writable=True),
        AccountMeta(token_mint_a, is_signer=False, is_writable=False),
        AccountMeta(token_mint_b, is_signer=False, is_writable=False),
        AccountMeta(token_owner_account_a, is_signer=False, is_writable=True),
        AccountMeta(token_vault_a, is_signer=False, is_writable=True),
        AccountMeta(token_owner_account_b, is_signer=False, is_writable=True),
        AccountMeta(token_vault_b, is_signer=False, is_writable=True),
        *(AccountMeta(key, is_signer=False, is_writable=True) for key in tick_arrays),
        AccountMeta(oracle_address(program_id, whirlpool), is_signer=False, is_writable=True),
    ]
    args = _SWAP_V2_ARGS.pack(amount, other_amount_threshold, sqrt_price_limit.to_bytes(16, "little"),
                              amount_specified_is_input, a_to_b, 0)  # fmt: skip
    return Instruction(program_id, SWAP_V2_DISCRIMINATOR + args, accounts)


def swap_pool(
    program_id: Pubkey,
    address: Pubkey,
    pool: Whirlpool,
    *,
    owner: Pubkey,
    input_token_account: Pubkey,
    output_token_account: Pubkey,
    amount_in: int,
    minimum_amount_out: int,
    a_to_b: bool,
    exact_out: bool = False,
    token_program_a: Pubkey = TOKEN_PROGRAM_ID,
    token_program_b: Pubkey = TOKEN_PROGRAM_ID,
) -> Instruction:
    """:func:`swap_v2` on the pool at ``address``, its accounts read from its state ``pool``. Exact in spends
    ``amount_in`` for at least ``minimum_amount_out``; with ``exact_out`` it buys exactly ``minimum_amount_out``
    for at most ``amount_in``."""
    ours = (input_token_account, output_token_account)
    account_a, account_b = ours if a_to_b else ours[::-1]
    amount, threshold = (minimum_amount_out, amount_in) if exact_out else (amount_in, minimum_amount_out)
    return swap_v2(
        program_id, whirlpool=address, token_authority=owner, token_mint_a=pool.token_mint_a,
        token_mint_b=pool.token_mint_b, token_owner_account_a=account_a, token_owner_account_b=account_b,
        token_vault_a=pool.token_vault_a, token_vault_b=pool.token_vault_b,
        tick_arrays=swap_tick_arrays(program_id, address, pool, a_to_b=a_to_b), amount=amount,
        other_amount_threshold=threshold, a_to_b=a_to_b, amount_specified_is_input=not exact_out,
        token_program_a=token_program_a, token_program_b=token_program_b,
    )  # fmt: skip
