"""A desk that trades at a fixed price through plain SPL Token transfers: a DEX needing no program binary.

The desk's token accounts are delegated to the wallet, so one swap leg is two transfers the wallet signs:
its input into the desk's account, and the desk's output (as delegate) into the wallet's. The real token
program runs them, wrapped SOL included, so the settlement's wrapping, account creation and measurement are
checked on the localnet in CI, where no DEX binary is present.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from adapters.solana.spl import (
    NATIVE_MINT,
    TOKEN_ACCOUNT_RENT,
    TOKEN_PROGRAM_ID,
    associated_token_address,
    create_associated_token_account_idempotent,
)
from kernel.routes import RouteLeg
from kernel.venues import SlippageCode, SwapTicket
from tests.adapters.contract.accounts import AccountFiles

DESK = "desk"
_TRANSFER = 3
_U64_MAX = 2**64 - 1
# No program fails with this: the desk has no slippage code of its own.
NO_SLIPPAGE = SlippageCode(frozenset(), -1)


def token_account(mint: Pubkey, owner: Pubkey, amount: int, *, delegate: Pubkey | None = None) -> bytes:
    """A 165-byte token account, optionally with ``delegate`` allowed to move all of it; native for SOL."""
    native = (1, TOKEN_ACCOUNT_RENT) if mint == NATIVE_MINT else (0, 0)
    flag, key, delegated = (1, bytes(delegate), _U64_MAX) if delegate is not None else (0, bytes(32), 0)
    return struct.pack(
        "<32s32sQI32sBIQQI32s", bytes(mint), bytes(owner), amount, flag, key, 1, *native, delegated, 0, bytes(32)
    )


def write_token_account(
    files: AccountFiles, address: Pubkey, mint: Pubkey, owner: Pubkey, amount: int, delegate: Pubkey | None = None
) -> None:
    lamports = TOKEN_ACCOUNT_RENT + (amount if mint == NATIVE_MINT else 0)
    files.write(address, TOKEN_PROGRAM_ID, token_account(mint, owner, amount, delegate=delegate), lamports)


def transfer(source: Pubkey, destination: Pubkey, authority: Pubkey, amount: int) -> Instruction:
    accounts = [
        AccountMeta(source, False, True),
        AccountMeta(destination, False, True),
        AccountMeta(authority, True, False),
    ]
    return Instruction(TOKEN_PROGRAM_ID, struct.pack("<BQ", _TRANSFER, amount), accounts)


@dataclass
class Desk:
    """Holds one token account per mint (``vaults``), delegated to the wallet; pays each leg its quote."""

    vaults: dict[str, Pubkey]
    slippage: SlippageCode = NO_SLIPPAGE

    async def swap_instructions(self, ticket: SwapTicket, owner: Pubkey) -> list[Instruction]:
        raise AssertionError("settlement builds every route leg by leg")

    async def leg_instructions(
        self, leg: RouteLeg, owner: Pubkey, accounts: Mapping[str, Pubkey] | None = None
    ) -> list[Instruction]:
        given = accounts or {}
        mint_in, mint_out = Pubkey.from_string(leg.token_in.mint), Pubkey.from_string(leg.token_out.mint)
        account_in = given.get(leg.token_in.mint, associated_token_address(owner, mint_in))
        account_out = given.get(leg.token_out.mint, associated_token_address(owner, mint_out))
        steps = (
            [] if leg.token_out.mint in given else [create_associated_token_account_idempotent(owner, owner, mint_out)]
        )
        return [
            *steps,
            transfer(account_in, self.vaults[leg.token_in.mint], owner, leg.amount_in),
            transfer(self.vaults[leg.token_out.mint], account_out, owner, leg.amount_out),
        ]
