"""SPL Token helpers every on-chain adapter shares: associated token addresses, the instructions that create
them, wrapping native SOL, and the steps around a DEX's swap instruction. Pure: no I/O.

Wrapping SOL in: create the owner's wSOL associated token account (idempotent), transfer the lamports to
it, SyncNative. Unwrapping: CloseAccount, which returns every lamport of the wSOL account to the owner.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from kernel import tokens

TOKEN_PROGRAM_ID = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_2022_PROGRAM_ID = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
TOKEN_PROGRAMS = (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)
ASSOCIATED_TOKEN_PROGRAM_ID = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
SYSTEM_PROGRAM_ID = Pubkey.from_string("11111111111111111111111111111111")
MEMO_PROGRAM_ID = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
NATIVE_MINT = Pubkey.from_string(tokens.NATIVE_MINT)

# Instruction tags: the associated token program's CreateIdempotent, the token program's CloseAccount and
# SyncNative, the system program's Transfer (a u32).
_CREATE_IDEMPOTENT = 1
_CLOSE_ACCOUNT = 9
_SYNC_NATIVE = 17
_SYSTEM_TRANSFER = 2


def associated_token_address(owner: Pubkey, mint: Pubkey, token_program: Pubkey = TOKEN_PROGRAM_ID) -> Pubkey:
    """The associated token account of ``owner`` for ``mint``: seeds ``[owner, token program, mint]``."""
    address, _ = Pubkey.find_program_address(
        [bytes(owner), bytes(token_program), bytes(mint)], ASSOCIATED_TOKEN_PROGRAM_ID
    )
    return address


def create_associated_token_account_idempotent(
    payer: Pubkey, owner: Pubkey, mint: Pubkey, token_program: Pubkey = TOKEN_PROGRAM_ID
) -> Instruction:
    """Create ``owner``'s associated token account for ``mint``, paid by ``payer``; a no-op when it exists."""
    accounts = [
        AccountMeta(payer, is_signer=True, is_writable=True),
        AccountMeta(associated_token_address(owner, mint, token_program), is_signer=False, is_writable=True),
        AccountMeta(owner, is_signer=False, is_writable=False),
        AccountMeta(mint, is_signer=False, is_writable=False),
        AccountMeta(SYSTEM_PROGRAM_ID, is_signer=False, is_writable=False),
        AccountMeta(token_program, is_signer=False, is_writable=False),
    ]
    return Instruction(ASSOCIATED_TOKEN_PROGRAM_ID, bytes([_CREATE_IDEMPOTENT]), accounts)


def sync_native(account: Pubkey, token_program: Pubkey = TOKEN_PROGRAM_ID) -> Instruction:
    """Set a wrapped-SOL account's token amount to its lamports above rent."""
    return Instruction(token_program, bytes([_SYNC_NATIVE]), [AccountMeta(account, False, True)])


def close_account(
    account: Pubkey, destination: Pubkey, owner: Pubkey, token_program: Pubkey = TOKEN_PROGRAM_ID
) -> Instruction:
    """Close ``account`` (signed by its ``owner``), sending its lamports to ``destination``."""
    accounts = [
        AccountMeta(account, is_signer=False, is_writable=True),
        AccountMeta(destination, is_signer=False, is_writable=True),
        AccountMeta(owner, is_signer=True, is_writable=False),
    ]
    return Instruction(token_program, bytes([_CLOSE_ACCOUNT]), accounts)


def system_transfer(source: Pubkey, destination: Pubkey, lamports: int) -> Instruction:
    """Move ``lamports`` from ``source`` (a signer) to ``destination``."""
    data = struct.pack("<IQ", _SYSTEM_TRANSFER, lamports)
    accounts = [AccountMeta(source, True, True), AccountMeta(destination, False, True)]
    return Instruction(SYSTEM_PROGRAM_ID, data, accounts)


def wrapped_sol_account(owner: Pubkey) -> Pubkey:
    """``owner``'s wrapped-SOL associated token account."""
    return associated_token_address(owner, NATIVE_MINT, TOKEN_PROGRAM_ID)


def wrap_sol(owner: Pubkey, lamports: int) -> list[Instruction]:
    """Create ``owner``'s wSOL account if needed, move ``lamports`` into it and sync its token amount."""
    if lamports <= 0:
        raise ValueError(f"lamports to wrap must be positive, got {lamports}")
    account = wrapped_sol_account(owner)
    return [
        create_associated_token_account_idempotent(owner, owner, NATIVE_MINT, TOKEN_PROGRAM_ID),
        system_transfer(owner, account, lamports),
        sync_native(account),
    ]


def unwrap_sol(owner: Pubkey) -> list[Instruction]:
    """Close ``owner``'s wSOL account: every lamport in it (wrapped and rent) goes back to ``owner``."""
    return [close_account(wrapped_sol_account(owner), owner, owner, TOKEN_PROGRAM_ID)]


@dataclass(frozen=True, slots=True)
class TokenSide:
    """One side of a swap: the mint and the token program that owns it."""

    mint: Pubkey
    program: Pubkey

    def account(self, owner: Pubkey) -> Pubkey:
        """``owner``'s associated token account for this side."""
        return associated_token_address(owner, self.mint, self.program)


def around_swap(
    owner: Pubkey, side_in: TokenSide, side_out: TokenSide, amount_in: int, swap: Instruction
) -> list[Instruction]:
    """``swap`` with what it needs around it: [wrap ``amount_in`` of SOL when the input is native], create
    the output token account (idempotent), the swap, [close the wSOL account when either side is native]."""
    in_native, out_native = side_in.mint == NATIVE_MINT, side_out.mint == NATIVE_MINT
    steps: list[Instruction] = []
    if in_native:
        steps += wrap_sol(owner, amount_in)
    steps.append(create_associated_token_account_idempotent(owner, owner, side_out.mint, side_out.program))
    steps.append(swap)
    if in_native or out_native:
        steps += unwrap_sol(owner)
    return steps
