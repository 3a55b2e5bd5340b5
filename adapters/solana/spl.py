"""SPL Token helpers every on-chain adapter shares: associated token addresses, the instructions that create
them, wrapping native SOL, and the steps around a DEX's swap instruction. Pure: no I/O.

A swap never touches the owner's own wrapped-SOL account (its wSOL associated token account and whatever it
holds are the owner's): the native side of a swap goes through a fresh wSOL account the transaction
creates (CreateAccountWithSeed from the owner, funded with the rent plus the SOL it wraps, then
InitializeAccount3, which counts the lamports above rent as its token amount) and closes before it ends,
returning every lamport in it to the owner. The transaction is atomic, so the account never outlives it.

:func:`wrap_sol` and :func:`unwrap_sol` work on the owner's associated account, for a caller that means to
hold wrapped SOL.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountWithSeedParams, create_account_with_seed

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
_INITIALIZE_ACCOUNT3 = 18
_SYSTEM_TRANSFER = 2
TOKEN_ACCOUNT_SIZE = 165
# The rent-exempt minimum of a 165-byte account: (165 + 128 bytes of account overhead) * 6960 lamports.
TOKEN_ACCOUNT_RENT = (TOKEN_ACCOUNT_SIZE + 128) * 6960
# A seed is at most 32 bytes; 32 hex digits of a digest keep seeds of different tags apart.
_SEED_LENGTH = 32


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


def initialize_account3(
    account: Pubkey, mint: Pubkey, owner: Pubkey, token_program: Pubkey = TOKEN_PROGRAM_ID
) -> Instruction:
    """Initialise ``account`` (already allocated to the token program) for ``mint``, owned by ``owner``; no
    rent sysvar and no signer needed. On the native mint its lamports above rent become its amount."""
    accounts = [AccountMeta(account, False, True), AccountMeta(mint, False, False)]
    return Instruction(token_program, bytes([_INITIALIZE_ACCOUNT3]) + bytes(owner), accounts)


def temporary_seed(tag: str) -> str:
    """The seed of the fresh wSOL account of the transaction tagged ``tag`` (an order ID): stable for the
    tag, so a rebuilt transaction of the same order names the same account."""
    return hashlib.sha256(tag.encode()).hexdigest()[:_SEED_LENGTH]


def temporary_wsol_address(owner: Pubkey, seed: str) -> Pubkey:
    """The fresh wSOL account ``owner`` creates with ``seed`` (``create_with_seed`` under the token program)."""
    return Pubkey.create_with_seed(owner, seed, TOKEN_PROGRAM_ID)


def open_temporary_wsol(owner: Pubkey, seed: str, wrapped: int = 0) -> list[Instruction]:
    """Create and initialise ``owner``'s fresh wSOL account holding ``wrapped`` lamports of wrapped SOL."""
    if wrapped < 0:
        raise ValueError(f"lamports to wrap cannot be negative, got {wrapped}")
    account = temporary_wsol_address(owner, seed)
    params = CreateAccountWithSeedParams(
        from_pubkey=owner, to_pubkey=account, base=owner, seed=seed, lamports=TOKEN_ACCOUNT_RENT + wrapped,
        space=TOKEN_ACCOUNT_SIZE, owner=TOKEN_PROGRAM_ID,
    )  # fmt: skip
    return [create_account_with_seed(params), initialize_account3(account, NATIVE_MINT, owner)]


def close_temporary_wsol(owner: Pubkey, seed: str) -> Instruction:
    """Close the fresh wSOL account: its rent and every lamport of wrapped SOL in it go back to ``owner``."""
    return close_account(temporary_wsol_address(owner, seed), owner, owner, TOKEN_PROGRAM_ID)


@dataclass(frozen=True, slots=True)
class TokenSide:
    """One side of a swap: the mint and the token program that owns it."""

    mint: Pubkey
    program: Pubkey

    def account(self, owner: Pubkey) -> Pubkey:
        """``owner``'s associated token account for this side."""
        return associated_token_address(owner, self.mint, self.program)


SwapOf = Callable[[Pubkey, Pubkey], Instruction]
"""Builds a swap instruction given the owner's input and output token accounts."""


def around_swap(
    owner: Pubkey, side_in: TokenSide, side_out: TokenSide, amount_in: int, swap: SwapOf, seed: str
) -> list[Instruction]:
    """The swap ``swap`` builds, with what it needs around it: [a fresh wSOL account holding ``amount_in``
    when the input is native, or empty when the output is], create the output token account (idempotent)
    unless native, the swap between the two accounts, [close the fresh account]. The owner's own wSOL
    account is never named."""
    in_native, out_native = side_in.mint == NATIVE_MINT, side_out.mint == NATIVE_MINT
    temporary = temporary_wsol_address(owner, seed)
    steps: list[Instruction] = []
    if in_native or out_native:
        steps += open_temporary_wsol(owner, seed, amount_in if in_native else 0)
    if not out_native:
        steps.append(create_associated_token_account_idempotent(owner, owner, side_out.mint, side_out.program))
    steps.append(
        swap(temporary if in_native else side_in.account(owner), temporary if out_native else side_out.account(owner))
    )
    if in_native or out_native:
        steps.append(close_temporary_wsol(owner, seed))
    return steps
