"""DLMM ``swap2`` instructions and the program-derived addresses they name. Pure: no I/O.

``swap2`` data: discriminator, ``amount_in`` u64, ``min_amount_out`` u64, ``remaining_accounts_info``
(a borsh vector of slices; empty, four zero bytes, with no transfer hook). Accounts in order: lb_pair (W),
bin_array_bitmap_extension (W, optional), reserve_x (W), reserve_y (W), user_token_in (W),
user_token_out (W), token_x_mint, token_y_mint, oracle (W), host_fee_in (W, optional), user (S),
token_x_program, token_y_program, memo program, event authority, the program; then the bin arrays the
swap crosses, writable, in walk order. An absent optional account is the program ID, read-only.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from adapters.dexes.meteora_dlmm.config import MAINNET_PROGRAM_ID
from adapters.dexes.meteora_dlmm.layouts import LbPair
from adapters.solana.spl import MEMO_PROGRAM_ID, TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

SWAP2_DISCRIMINATOR = bytes([65, 75, 63, 76, 235, 91, 91, 136])
# sha256("global:swap_exact_out2")[:8]: args max_in_amount u64, out_amount u64, remaining_accounts_info; the
# same accounts as swap2.
SWAP_EXACT_OUT2_DISCRIMINATOR = bytes([43, 215, 247, 132, 137, 60, 243, 81])
_NO_TRANSFER_HOOKS = struct.pack("<I", 0)


@functools.lru_cache(maxsize=4096)
def bin_array_address(lb_pair: Pubkey, index: int, program_id: Pubkey = MAINNET_PROGRAM_ID) -> Pubkey:
    """Bin array ``index`` of ``lb_pair``: seeds ``["bin_array", pair, index as i64 little-endian]``."""
    return Pubkey.find_program_address([b"bin_array", bytes(lb_pair), struct.pack("<q", index)], program_id)[0]


def oracle_address(lb_pair: Pubkey, program_id: Pubkey = MAINNET_PROGRAM_ID) -> Pubkey:
    return Pubkey.find_program_address([b"oracle", bytes(lb_pair)], program_id)[0]


@functools.lru_cache(maxsize=4096)
def bitmap_extension_address(lb_pair: Pubkey, program_id: Pubkey = MAINNET_PROGRAM_ID) -> Pubkey:
    return Pubkey.find_program_address([b"bitmap", bytes(lb_pair)], program_id)[0]


def reserve_address(lb_pair: Pubkey, mint: Pubkey, program_id: Pubkey = MAINNET_PROGRAM_ID) -> Pubkey:
    return Pubkey.find_program_address([bytes(lb_pair), bytes(mint)], program_id)[0]


@functools.lru_cache(maxsize=4096)
def event_authority_address(program_id: Pubkey = MAINNET_PROGRAM_ID) -> Pubkey:
    """``["__event_authority"]``: ``D1ZN9Wj1fRSUQfCjhvnu1hqDMT7hzjzBBpi12nVniYD6`` for the mainnet program."""
    return Pubkey.find_program_address([b"__event_authority"], program_id)[0]


def token_programs(pair: LbPair) -> tuple[Pubkey, Pubkey]:
    """The token programs of X and Y, from the pair's flags (0 SPL Token, 1 Token-2022)."""

    def program(flag: int) -> Pubkey:
        return TOKEN_2022_PROGRAM_ID if flag == 1 else TOKEN_PROGRAM_ID

    return program(pair.token_mint_x_program_flag), program(pair.token_mint_y_program_flag)


def swap2_data(amount_in: int, min_amount_out: int, *, exact_out: bool = False) -> bytes:
    """``swap2`` data, or with ``exact_out`` ``swap_exact_out2`` data (``max_in_amount``, ``out_amount``)."""
    discriminator = SWAP_EXACT_OUT2_DISCRIMINATOR if exact_out else SWAP2_DISCRIMINATOR
    return discriminator + struct.pack("<QQ", amount_in, min_amount_out) + _NO_TRANSFER_HOOKS


def swap2(
    *,
    lb_pair: Pubkey,
    pair: LbPair,
    user: Pubkey,
    user_token_in: Pubkey,
    user_token_out: Pubkey,
    amount_in: int,
    min_amount_out: int,
    bin_arrays: Sequence[Pubkey],
    bitmap_extension: Pubkey | None = None,
    host_fee_in: Pubkey | None = None,
    program_id: Pubkey = MAINNET_PROGRAM_ID,
    exact_out: bool = False,
) -> Instruction:
    """Swap exactly ``amount_in`` for at least ``min_amount_out`` (the program fails with 6003 below it).
    With ``exact_out`` it is ``swap_exact_out2``: receive exactly ``min_amount_out`` for at most ``amount_in``.

    The direction follows from the user's token accounts; ``bin_arrays`` are the arrays' addresses in
    walk order, starting from the active bin's (see :func:`bin_array_address`).
    """
    x_program, y_program = token_programs(pair)

    def optional(key: Pubkey | None) -> AccountMeta:
        return AccountMeta(key, False, True) if key is not None else AccountMeta(program_id, False, False)

    accounts = [
        AccountMeta(lb_pair, False, True),
        optional(bitmap_extension),
        AccountMeta(pair.reserve_x, False, True),
        AccountMeta(pair.reserve_y, False, True),
        AccountMeta(user_token_in, False, True),
        AccountMeta(user_token_out, False, True),
        AccountMeta(pair.token_x_mint, False, False),
        AccountMeta(pair.token_y_mint, False, False),
        AccountMeta(pair.oracle, False, True),
        optional(host_fee_in),
        AccountMeta(user, True, False),
        AccountMeta(x_program, False, False),
        AccountMeta(y_program, False, False),
        AccountMeta(MEMO_PROGRAM_ID, False, False),
        AccountMeta(event_authority_address(program_id), False, False),
        AccountMeta(program_id, False, False),
        *(AccountMeta(key, False, True) for key in bin_arrays),
    ]
    return Instruction(program_id, swap2_data(amount_in, min_amount_out, exact_out=exact_out), accounts)
