"""What the localnet ledger records: blocks, landed transactions, statuses, simulations; and the few facts
read from a transaction message (writable accounts, compute-unit price, memos) that the ledger keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from solders.account import Account
from solders.hash import Hash
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import InnerInstruction, TransactionMetadata
from solders.transaction_status import TransactionErrorType

LAMPORTS_PER_SIGNATURE = 5_000  # what LiteSVM charges; it charges no priority fee
COMPUTE_BUDGET_ID = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
MEMO_PROGRAM_IDS = (
    Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"),
    Pubkey.from_string("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo"),
)


class Commitment(StrEnum):
    """How settled a slot is: processed (executed), confirmed (one slot later), finalized (``finality_depth``)."""

    PROCESSED = "processed"
    CONFIRMED = "confirmed"
    FINALIZED = "finalized"


@dataclass(frozen=True, slots=True)
class BlockhashEntry:
    """One block: its blockhash, slot, height (equal to the slot: no slot is skipped) and wall time."""

    blockhash: Hash
    slot: int
    block_height: int
    unix_timestamp: int


@dataclass(slots=True)
class TxRecord:
    """A landed transaction (or an airdrop, whose transaction LiteSVM keeps to itself) and its meta."""

    signature: Signature
    slot: int
    block_time: int
    transaction: VersionedTransaction | None
    err: TransactionErrorType | None
    fee: int
    loaded_writable: list[Pubkey] = field(default_factory=list)
    loaded_readonly: list[Pubkey] = field(default_factory=list)
    pre_balances: list[int] = field(default_factory=list)
    post_balances: list[int] = field(default_factory=list)
    pre_token_balances: list[dict[str, Any]] = field(default_factory=list)
    post_token_balances: list[dict[str, Any]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    inner_instructions: list[list[InnerInstruction]] = field(default_factory=list)
    units_consumed: int = 0
    memo: str | None = None


@dataclass(frozen=True, slots=True)
class SignatureStatus:
    """A getSignatureStatuses entry: ``confirmations`` is the slots since landing, ``None`` once finalized."""

    slot: int
    confirmations: int | None
    err: TransactionErrorType | None
    confirmation_status: Commitment


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """A simulation (or preflight) outcome; ``post_accounts`` holds the accounts the transaction would write."""

    err: TransactionErrorType | None
    logs: list[str]
    units_consumed: int
    post_accounts: dict[Pubkey, Account]
    return_data: tuple[Pubkey, bytes] | None = None


def is_writable(message: Message | MessageV0, index: int, loaded_writable: int = 0) -> bool:
    """Whether account ``index`` (static keys, then loaded writable, then loaded readonly) is writable."""
    header = message.header
    static = len(message.account_keys)
    if index >= static:
        return index < static + loaded_writable
    signers = header.num_required_signatures
    if index < signers:
        return index < signers - header.num_readonly_signed_accounts
    return index < static - header.num_readonly_unsigned_accounts


def compute_unit_price(message: Message | MessageV0, keys: list[Pubkey]) -> int:
    """The SetComputeUnitPrice value (micro-lamports per unit) in ``message``, or 0."""
    for ix in message.instructions:
        data = bytes(ix.data)
        if keys[ix.program_id_index] == COMPUTE_BUDGET_ID and len(data) >= 9 and data[0] == 3:
            return int.from_bytes(data[1:9], "little")
    return 0


def memo_text(message: Message | MessageV0, keys: list[Pubkey]) -> str | None:
    memos = [
        f"[{len(ix.data)}] {bytes(ix.data).decode('utf-8', errors='replace')}"
        for ix in message.instructions
        if keys[ix.program_id_index] in MEMO_PROGRAM_IDS
    ]
    return "; ".join(memos) if memos else None


def return_data_of(meta: TransactionMetadata) -> tuple[Pubkey, bytes] | None:
    getter = getattr(meta, "return_data", None) or getattr(meta, "transaction_return_data", None)
    data = getter() if getter is not None else None
    return (data.program_id, bytes(data.data)) if data is not None and len(data.data) else None
