"""Address Lookup Table program instructions, and which accounts of a transaction a table can carry. Pure.

A v0 message names an account by a one-byte index into a table instead of its 32 bytes. Instructions are
bincode: a u32 tag, then the fields. ``CreateLookupTable`` (tag 0: ``recent_slot`` u64, ``bump`` u8; the
table's address is a PDA of the authority and the slot, which must be in the SlotHashes sysvar) and
``ExtendLookupTable`` (tag 2: a u64 count then the addresses), each with the accounts table (W), authority
(S), payer (S, W), system program. A table is usable from the slot after its last extension.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from solders.address_lookup_table_account import ID as LOOKUP_TABLE_PROGRAM_ID
from solders.address_lookup_table_account import derive_lookup_table_address
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from adapters.solana.spl import SYSTEM_PROGRAM_ID

__all__ = [
    "EXTEND_CHUNK",
    "LOOKUP_TABLE_PROGRAM_ID",
    "PACKET_DATA_SIZE",
    "create_lookup_table",
    "extend_lookup_table",
    "table_candidates",
]

# The most a serialized transaction may be: an IPv6 packet less its headers.
PACKET_DATA_SIZE = 1232
# Addresses per extension: 30 of 32 bytes keep one extension (with a create) inside a legacy transaction.
EXTEND_CHUNK = 30
_CREATE, _EXTEND = 0, 2


def _accounts(table: Pubkey, authority: Pubkey, payer: Pubkey) -> list[AccountMeta]:
    return [
        AccountMeta(table, False, True),
        AccountMeta(authority, True, False),
        AccountMeta(payer, True, True),
        AccountMeta(SYSTEM_PROGRAM_ID, False, False),
    ]


def create_lookup_table(authority: Pubkey, payer: Pubkey, recent_slot: int) -> tuple[Instruction, Pubkey]:
    """The instruction creating ``authority``'s table for ``recent_slot``, and the table's address."""
    table, bump = derive_lookup_table_address(authority, recent_slot)
    data = struct.pack("<IQB", _CREATE, recent_slot, bump)
    return Instruction(LOOKUP_TABLE_PROGRAM_ID, data, _accounts(table, authority, payer)), table


def extend_lookup_table(table: Pubkey, authority: Pubkey, payer: Pubkey, addresses: Sequence[Pubkey]) -> Instruction:
    """Append ``addresses`` to ``table``."""
    data = struct.pack("<IQ", _EXTEND, len(addresses)) + b"".join(bytes(a) for a in addresses)
    return Instruction(LOOKUP_TABLE_PROGRAM_ID, data, _accounts(table, authority, payer))


def table_candidates(instructions: Iterable[Instruction]) -> list[Pubkey]:
    """The accounts a table may carry for ``instructions``, in first-seen order: every account that signs
    nothing and is no instruction's program (a v0 message keeps signers and program IDs static)."""
    listed = list(instructions)
    programs = {ix.program_id for ix in listed}
    signers = {m.pubkey for ix in listed for m in ix.accounts if m.is_signer}
    seen: dict[Pubkey, None] = {}
    for ix in listed:
        for meta in ix.accounts:
            if meta.pubkey not in programs and meta.pubkey not in signers:
                seen.setdefault(meta.pubkey, None)
    return list(seen)
