"""Building swap transactions, pure: compute budget, the order's memo, fee arithmetic. No I/O here.

Every transaction the engine lands carries an SPL Memo naming the order, so an explorer (or a later
audit) ties the signature to the order. When routing is simulated the transaction carries no swap
instructions and the memo also records the simulated fill (``sim``), which is what the order reports.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from adapters.solana.spl import MEMO_PROGRAM_ID, NATIVE_MINT
from kernel.venues import SwapTicket

COMPUTE_BUDGET_PROGRAM_ID = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
LAMPORTS_PER_SIGNATURE = 5_000
MICRO_LAMPORTS_PER_LAMPORT = 1_000_000
# A memo longer than this no longer fits a transaction that also carries a swap.
MEMO_MAX_BYTES = 566
MEMO_VERSION = 1


class MemoError(ValueError):
    """A memo that is not the engine's, or one too long to send."""


@dataclass(frozen=True, slots=True)
class SwapMemo:
    """What the memo of a swap says. Amounts are raw token units; ``sim`` is set only for simulated routes."""

    order_id: str
    dex: str
    pool: str
    token_in: str
    token_out: str
    amount_in: int
    min_out: int
    sim: int | None = None

    @classmethod
    def for_ticket(cls, ticket: SwapTicket, *, simulated: bool) -> SwapMemo:
        """The memo of ``ticket``; a simulated route records its quoted fill as ``sim``. A plan of several
        legs names its DEXes joined by ``+`` and its first leg's pool, with the plan's input and minimum."""
        plan = ticket.plan
        if plan is None or len(plan.legs) < 2:
            dex, pool, amount_in, min_out = (
                ticket.route.dex,
                ticket.route.pool,
                ticket.route.amount_in,
                ticket.min_amount_out,
            )
        else:
            dexes = dict.fromkeys(leg.dex for leg in plan.legs)
            dex, pool, amount_in, min_out = "+".join(dexes), plan.legs[0].pool, plan.amount_in, plan.min_amount_out
        return cls(
            order_id=ticket.order_id,
            dex=dex,
            pool=pool,
            token_in=ticket.token_in.mint,
            token_out=ticket.token_out.mint,
            amount_in=amount_in,
            min_out=min_out,
            sim=ticket.route.amount_out if simulated else None,
        )


def encode_memo(memo: SwapMemo) -> bytes:
    """Compact JSON, keys in a fixed order, amounts as decimal strings (u64 does not fit a JS number)."""
    body: dict[str, Any] = {
        "oee": MEMO_VERSION,
        "order": memo.order_id,
        "dex": memo.dex,
        "pool": memo.pool,
        "in": memo.token_in,
        "out": memo.token_out,
        "amountIn": str(memo.amount_in),
        "minOut": str(memo.min_out),
    }
    if memo.sim is not None:
        body["sim"] = str(memo.sim)
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    if len(raw) > MEMO_MAX_BYTES:
        raise MemoError(f"the memo is {len(raw)} bytes; at most {MEMO_MAX_BYTES} fit")
    return raw


def decode_memo(raw: bytes) -> SwapMemo:
    """The inverse of :func:`encode_memo`; raises :class:`MemoError` for anything else."""
    try:
        body = json.loads(raw)
        if not isinstance(body, dict) or body.get("oee") != MEMO_VERSION:
            raise MemoError("not an engine memo")
        sim = body.get("sim")
        return SwapMemo(
            order_id=str(body["order"]),
            dex=str(body["dex"]),
            pool=str(body["pool"]),
            token_in=str(body["in"]),
            token_out=str(body["out"]),
            amount_in=int(body["amountIn"]),
            min_out=int(body["minOut"]),
            sim=None if sim is None else int(sim),
        )
    except (ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, MemoError):
            raise
        raise MemoError(f"not an engine memo: {exc}") from exc


def memo_instruction(signer: Pubkey, memo: bytes) -> Instruction:
    """An SPL Memo (v2) instruction; the signer is listed so the memo is attributable to it."""
    return Instruction(MEMO_PROGRAM_ID, memo, [AccountMeta(signer, is_signer=True, is_writable=False)])


def compute_budget_instructions(cu_limit: int, cu_price: int) -> list[Instruction]:
    """SetComputeUnitLimit (byte 2, u32 LE) and, when non-zero, SetComputeUnitPrice (byte 3, u64 LE)."""
    out = [set_compute_unit_limit(cu_limit)]
    if cu_price > 0:
        out.append(set_compute_unit_price(cu_price))
    return out


def build_transaction(
    payer: Keypair,
    blockhash: Hash,
    cu_limit: int,
    cu_price: int,
    memo: bytes,
    instructions: Sequence[Instruction] = (),
    lookup_tables: Sequence[AddressLookupTableAccount] = (),
) -> VersionedTransaction:
    """A signed transaction: compute budget, the swap ``instructions``, then the memo. A legacy message, which
    every client reads (getTransaction without ``maxSupportedTransactionVersion``), unless address lookup
    tables are given: then v0."""
    ixs = [*compute_budget_instructions(cu_limit, cu_price), *instructions, memo_instruction(payer.pubkey(), memo)]
    message: Message | MessageV0
    if lookup_tables:
        message = MessageV0.try_compile(payer.pubkey(), ixs, list(lookup_tables), blockhash)
    else:
        message = Message.new_with_blockhash(ixs, payer.pubkey(), blockhash)
    return VersionedTransaction(message, [payer])


def memo_of(tx: VersionedTransaction) -> SwapMemo | None:
    """The engine memo carried by ``tx``, or None."""
    keys = list(tx.message.account_keys)
    for ix in tx.message.instructions:
        if ix.program_id_index < len(keys) and keys[ix.program_id_index] == MEMO_PROGRAM_ID:
            try:
                return decode_memo(bytes(ix.data))
            except MemoError:
                continue
    return None


def program_at(message: Message | MessageV0, index: int) -> Pubkey | None:
    """The program of the ``index``-th top-level instruction (program IDs are always static keys)."""
    instructions = message.instructions
    keys = message.account_keys
    if not 0 <= index < len(instructions) or instructions[index].program_id_index >= len(keys):
        return None
    return keys[instructions[index].program_id_index]


def writable_accounts(instructions: Iterable[Instruction]) -> list[Pubkey]:
    """The writable accounts of ``instructions``, in first-seen order: what priority fees are local to."""
    seen: dict[Pubkey, None] = {}
    for ix in instructions:
        for meta in ix.accounts:
            if meta.is_writable:
                seen.setdefault(meta.pubkey, None)
    return list(seen)


# --- fees -------------------------------------------------------------------------------------------


def compute_unit_limit(units_consumed: int, margin: float) -> int:
    """``ceil(units * margin)`` in exact decimal arithmetic (1000 * 1.1 is 1100, not 1101), at least 1."""
    limit = math.ceil(Decimal(units_consumed) * Decimal(str(margin)))
    return max(1, min(int(limit), 1_400_000))


def clamp_price(price: int, low: int, high: int) -> int:
    return max(low, min(price, high))


def priority_fee_lamports(cu_limit: int, cu_price: int) -> int:
    """The priority fee: ``ceil(limit * price / 1e6)`` lamports (the price is micro-lamports per unit)."""
    return -(-cu_limit * cu_price // MICRO_LAMPORTS_PER_LAMPORT)


def transaction_fee_lamports(signatures: int, cu_limit: int, cu_price: int) -> int:
    """Base fee (5000 lamports per signature) plus the priority fee."""
    return LAMPORTS_PER_SIGNATURE * signatures + priority_fee_lamports(cu_limit, cu_price)


def percentile(values: Sequence[int], pct: float) -> int:
    """The nearest-rank ``pct``-th percentile of ``values``; 0 when there are none."""
    if not values:
        return 0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# --- what a landed swap paid ---------------------------------------------------------------------------


class TokenBalance(NamedTuple):
    """One token account's balance before or after a transaction, as getTransaction's meta lists it."""

    account_index: int
    owner: str | None
    mint: str
    amount: int


def token_balance_change(pre: Iterable[TokenBalance], post: Iterable[TokenBalance], owner: str, mint: str) -> int:
    """How much ``owner`` holds more of ``mint`` after than before, over all its token accounts."""

    def total(balances: Iterable[TokenBalance]) -> int:
        return sum(b.amount for b in balances if b.owner == owner and b.mint == mint)

    return total(post) - total(pre)


def amount_received(
    *,
    owner: str,
    mint: str,
    pre_tokens: Sequence[TokenBalance],
    post_tokens: Sequence[TokenBalance],
    owner_lamports_change: int,
    fee: int,
    created_rent: int = 0,
) -> int:
    """The output of a landed swap for ``owner``: the movement of ``mint`` in the owner's token accounts.

    SOL out is paid into a wSOL account the transaction creates and closes, which no token balance lists;
    what it paid is the owner's lamport change with the fee added back, and the rent of every token account
    the transaction created and left open (``created_rent``: an output or intermediate account) too. The
    fresh account's own rent is paid and returned in the same transaction, and the owner's own wSOL account
    is never touched: nothing else moves the owner's lamports."""
    received = token_balance_change(pre_tokens, post_tokens, owner, mint)
    if mint == str(NATIVE_MINT):
        received += owner_lamports_change + fee + created_rent
    return received


def created_token_accounts(pre: Iterable[TokenBalance], post: Iterable[TokenBalance], owner: str) -> list[int]:
    """The account indexes of ``owner``'s token accounts that exist after the transaction and not before."""
    before = {b.account_index for b in pre}
    return [b.account_index for b in post if b.owner == owner and b.account_index not in before]
