"""The localnet ledger: LiteSVM plus what a validator keeps around it.

LiteSVM executes a transaction the moment it is given one and has no slots, blocks or commitment. This
module adds them: a slot clock (advanced by :meth:`Chain.advance_slot`), a ring of the last
``blockhash_window`` blockhashes with their block heights, signature statuses that go processed →
confirmed → finalized as slots pass, transaction history with balances and logs, a queue of transactions
that execute at a later slot, and an index of the accounts it has seen (for ``getTokenAccountsByOwner``).

LiteSVM only accepts its single latest blockhash, so its own check is turned off and the ring here
decides which blockhashes are still valid, the way a validator's blockhash queue does. Each new slot
also updates the SlotHashes sysvar (the slots before it, newest first, the last 512), which the Address
Lookup Table program reads: a table is created for a recent slot, and is usable from the slot after its
extension. Account state is always the processed state: reads ignore commitment.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field
from solders.account import Account
from solders.address_lookup_table_account import AddressLookupTable
from solders.clock import Clock
from solders.hash import Hash
from solders.litesvm import LiteSVM
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import TransactionErrorFieldless

from localnet.accounts import parse_mint, parse_token_account, ui_token_amount
from localnet.records import (
    LAMPORTS_PER_SIGNATURE,
    BlockhashEntry,
    Commitment,
    SignatureStatus,
    SimulationResult,
    TxRecord,
    compute_unit_price,
    is_writable,
    memo_text,
    return_data_of,
)

# SlotHashes holds the most recent 512 slots, as a validator's does.
SLOT_HASHES_KEPT = 512


class ChainConfig(BaseModel):
    """The ledger's clock and windows."""

    model_config = ConfigDict(extra="forbid")

    slot_ms: int = Field(default=400, ge=0, description="Slot length; 0 stops the clock (localnet_advanceSlots).")
    finality_depth: int = Field(default=31, ge=1, description="Slots after which a transaction is finalized.")
    blockhash_window: int = Field(default=150, ge=1, description="Blocks a blockhash stays valid for.")
    status_cache_slots: int = Field(default=300, ge=1, description="Statuses found without searchTransactionHistory.")
    history_limit: int = Field(default=100_000, ge=1, description="Transactions kept for getTransaction.")


class ChainObserver(Protocol):
    """Told of every change as it happens (the PubSub server): called in the event loop that owns the chain."""

    def on_slot(self, slot: int) -> None:
        """A new slot started (its due transactions have run)."""

    def on_transaction(self, record: TxRecord, writable: frozenset[Pubkey]) -> None:
        """A transaction landed (with or without an error) and may have changed ``writable``."""

    def on_accounts(self, keys: frozenset[Pubkey]) -> None:
        """Accounts were placed or replaced outside a transaction (start-up, an airdrop, an admin call)."""


class Chain:
    """LiteSVM with slots, blockhashes, commitment and history. Not thread-safe: one event loop owns it."""

    def __init__(self, config: ChainConfig | None = None, *, wall_clock: Callable[[], float] = time.time) -> None:
        self.config = config or ChainConfig()
        self._wall_clock = wall_clock
        self.svm = LiteSVM().with_lamports(2**62).with_blockhash_check(False)
        self.slot = 0
        self.transaction_count = 0
        self._ring: deque[BlockhashEntry] = deque()
        self._by_hash: dict[Hash, BlockhashEntry] = {}
        self._history: dict[Signature, TxRecord] = {}
        self._pending: dict[int, list[VersionedTransaction]] = {}
        self._pending_signatures: set[Signature] = set()
        self._fees: dict[int, list[tuple[int, frozenset[Pubkey]]]] = {}
        self._slot_hashes: deque[tuple[int, Hash]] = deque(maxlen=SLOT_HASHES_KEPT)
        self._by_address: dict[Pubkey, deque[Signature]] = {}
        self._known: dict[Pubkey, None] = {}
        self._decimals: dict[Pubkey, int] = {}
        self.observers: list[ChainObserver] = []
        self._time_offset = 0.0
        self._start_slot(self._wall_clock())

    # --- the clock ------------------------------------------------------------------------------

    def advance_slot(self, count: int = 1, *, unix_time: int | None = None) -> None:
        """Move to the next slot ``count`` times: new clock, new blockhash, due queued transactions run.

        ``unix_time`` warps the clock: the first new slot's block time is that, and time runs on from there
        (never backwards: it must not be before the current block time)."""
        if unix_time is not None:
            if unix_time < self.latest.unix_timestamp:
                raise ValueError(f"unix time {unix_time} is before the current block time {self.latest.unix_timestamp}")
            self._time_offset = unix_time - self._wall_clock()
        for _ in range(count):
            self.slot += 1
            self.svm.expire_blockhash()
            self._start_slot(self._wall_clock() + self._time_offset)
            for tx in self._pending.pop(self.slot, []):
                self._pending_signatures.discard(tx.signatures[0])
                self.execute(tx)
            self._fees.pop(self.slot - 2 * self.config.blockhash_window, None)
            for observer in self.observers:
                observer.on_slot(self.slot)

    def _start_slot(self, now: float) -> None:
        schedule = self.svm.get_epoch_schedule()
        epoch, _ = schedule.get_epoch_and_slot_index(self.slot)
        self.svm.set_clock(Clock(self.slot, int(now), epoch, epoch + 1, int(now)))
        if self._ring:  # as a validator's: the slots before this one, newest first
            previous = self._ring[-1]
            self._slot_hashes.appendleft((previous.slot, previous.blockhash))
            self.svm.set_slot_hashes(list(self._slot_hashes))
        entry = BlockhashEntry(self.svm.latest_blockhash(), self.slot, self.slot, int(now))
        self._ring.append(entry)
        self._by_hash[entry.blockhash] = entry
        while len(self._ring) > self.config.blockhash_window + 1:
            self._by_hash.pop(self._ring.popleft().blockhash, None)

    @property
    def block_height(self) -> int:
        return self.slot

    @property
    def latest(self) -> BlockhashEntry:
        return self._ring[-1]

    def depth_of(self, commitment: Commitment) -> int:
        return {Commitment.PROCESSED: 0, Commitment.CONFIRMED: 1}.get(commitment, self.config.finality_depth)

    def commitment_slot(self, commitment: Commitment) -> int:
        """The newest slot that has reached ``commitment``."""
        return max(0, self.slot - self.depth_of(commitment))

    def blockhash_at(self, commitment: Commitment) -> BlockhashEntry:
        """The blockhash of the newest block at ``commitment`` (older blocks leave the ring first)."""
        target = max(self._ring[0].slot, self.commitment_slot(commitment))
        return self._ring[target - self._ring[0].slot]

    def last_valid_block_height(self, entry: BlockhashEntry) -> int:
        return entry.block_height + self.config.blockhash_window

    def is_blockhash_valid(self, blockhash: Hash) -> bool:
        entry = self._by_hash.get(blockhash)
        return entry is not None and self.block_height <= self.last_valid_block_height(entry)

    # --- transactions ---------------------------------------------------------------------------

    def submit(self, tx: VersionedTransaction, *, delay_slots: int = 0) -> None:
        """Execute now, or queue to execute ``delay_slots`` later. A known or queued signature is a no-op."""
        signature = tx.signatures[0]
        if signature in self._history or signature in self._pending_signatures:
            return
        if delay_slots > 0:
            self._pending.setdefault(self.slot + delay_slots, []).append(tx)
            self._pending_signatures.add(signature)
            return
        self.execute(tx)

    def execute(self, tx: VersionedTransaction) -> TxRecord | None:
        """Run ``tx`` in this slot. Returns its record if it landed (even with an error), else ``None``."""
        signature = tx.signatures[0]
        message = tx.message
        if signature in self._history:
            return None
        if not tx.uses_durable_nonce() and not self.is_blockhash_valid(message.recent_blockhash):
            return None  # BlockhashNotFound: a validator drops it, it never lands
        keys, loaded_w, loaded_r = self.account_keys(message)
        programs = {keys[ix.program_id_index] for ix in message.instructions}
        pre = [self.svm.get_balance(k) or 0 for k in keys]
        pre_tokens = self._token_balances(keys, programs)
        result = self.svm.send_transaction(tx)
        if isinstance(result, FailedTransactionMetadata) and result.err() == TransactionErrorFieldless.AlreadyProcessed:
            return None
        if self.svm.get_transaction(signature) is None:
            return None  # rejected before execution (signature, fee payer, ...): not landed
        meta = result if isinstance(result, TransactionMetadata) else result.meta()
        record = TxRecord(
            signature=signature,
            slot=self.slot,
            block_time=self.latest.unix_timestamp,
            transaction=tx,
            err=result.err() if isinstance(result, FailedTransactionMetadata) else None,
            fee=LAMPORTS_PER_SIGNATURE * len(tx.signatures),
            loaded_writable=loaded_w,
            loaded_readonly=loaded_r,
            pre_balances=pre,
            post_balances=[self.svm.get_balance(k) or 0 for k in keys],
            pre_token_balances=pre_tokens,
            post_token_balances=self._token_balances(keys, programs),
            logs=list(meta.logs()),
            inner_instructions=list(meta.inner_instructions()),
            units_consumed=meta.compute_units_consumed(),
            memo=memo_text(message, keys),
        )
        self._remember(record, [k for k in keys if k not in programs])
        writable = frozenset(k for i, k in enumerate(keys) if is_writable(message, i, len(loaded_w)))
        self._fees.setdefault(self.slot, []).append((compute_unit_price(message, keys), writable))
        for observer in self.observers:
            observer.on_transaction(record, writable)
        return record

    def simulate(
        self, tx: VersionedTransaction, *, sig_verify: bool = False, replace_blockhash: bool = False
    ) -> SimulationResult:
        """Run ``tx`` against the current state without keeping any change."""
        if tx.signatures[0] in self._history:
            return SimulationResult(TransactionErrorFieldless.AlreadyProcessed, [], 0, {})
        nonce = bool(tx.uses_durable_nonce())
        if not (replace_blockhash or nonce or self.is_blockhash_valid(tx.message.recent_blockhash)):
            return SimulationResult(TransactionErrorFieldless.BlockhashNotFound, [], 0, {})
        self.svm.with_sigverify(sig_verify)
        try:
            result = self.svm.simulate_transaction(tx)
        finally:
            self.svm.with_sigverify(True)
        if isinstance(result, FailedTransactionMetadata):
            meta = result.meta()
            return SimulationResult(
                result.err(), list(meta.logs()), meta.compute_units_consumed(), {}, return_data_of(meta)
            )
        meta = result.meta()
        post = dict(result.post_accounts())
        return SimulationResult(None, list(meta.logs()), meta.compute_units_consumed(), post, return_data_of(meta))

    def airdrop(self, address: Pubkey, lamports: int) -> Signature:
        """Move lamports from LiteSVM's airdrop account. Raises ``RuntimeError`` when that fails."""
        for _ in range(3):
            result = self.svm.airdrop(address, lamports)
            if isinstance(result, TransactionMetadata):
                record = TxRecord(result.signature(), self.slot, self.latest.unix_timestamp, None, None, 0)
                self._remember(record, [address])
                self._changed(frozenset((address,)))
                return record.signature
            if result.err() != TransactionErrorFieldless.AlreadyProcessed:
                raise RuntimeError(f"airdrop failed: {result.err()}")
            self.svm.expire_blockhash()  # same request in the same slot: make the next one differ
        raise RuntimeError("airdrop failed: AlreadyProcessed")

    def _remember(self, record: TxRecord, addresses: list[Pubkey]) -> None:
        self._history[record.signature] = record
        self.transaction_count += 1
        while len(self._history) > self.config.history_limit:
            del self._history[next(iter(self._history))]
        for address in addresses:
            self._known[address] = None
            self._by_address.setdefault(address, deque(maxlen=1000)).appendleft(record.signature)

    # --- reads ----------------------------------------------------------------------------------

    def transaction(self, signature: Signature) -> TxRecord | None:
        return self._history.get(signature)

    def status(self, signature: Signature, *, search_history: bool = False) -> SignatureStatus | None:
        record = self._history.get(signature)
        if record is None:
            return None
        depth = self.slot - record.slot
        if not search_history and depth > self.config.status_cache_slots:
            return None
        if depth >= self.config.finality_depth:
            return SignatureStatus(record.slot, None, record.err, Commitment.FINALIZED)
        level = Commitment.CONFIRMED if depth >= 1 else Commitment.PROCESSED
        return SignatureStatus(record.slot, depth, record.err, level)

    def signatures_for(self, address: Pubkey) -> list[Signature]:
        return list(self._by_address.get(address, ()))

    def account(self, address: Pubkey) -> Account | None:
        return self.svm.get_account(address)

    def set_account(self, address: Pubkey, account: Account) -> None:
        self.svm.set_account(address, account)
        self._known[address] = None
        self._decimals.pop(address, None)
        self._changed(frozenset((address,)))

    def _changed(self, keys: frozenset[Pubkey]) -> None:
        for observer in self.observers:
            observer.on_accounts(keys)

    def note_account(self, address: Pubkey) -> None:
        self._known[address] = None

    def forget_account(self, address: Pubkey) -> None:
        """Drop ``address`` from the index (a program: never a token account, and costly to read)."""
        self._known.pop(address, None)

    def known_accounts(self) -> Iterator[Pubkey]:
        return iter(list(self._known))

    def decimals_of(self, mint: Pubkey) -> int | None:
        if mint not in self._decimals:
            view = parse_mint(self.svm.get_account(mint))
            if view is None:
                return None
            self._decimals[mint] = view.decimals
        return self._decimals[mint]

    def prioritization_fees(self, addresses: list[Pubkey]) -> list[tuple[int, int]]:
        """Per recent slot: the block's lowest compute-unit price, raised to the highest per-account lowest."""
        out = []
        for slot in range(max(0, self.slot - self.config.blockhash_window + 1), self.slot + 1):
            entries = self._fees.get(slot, [])
            fee = min((price for price, _ in entries), default=0)
            for address in addresses:
                fee = max(fee, min((p for p, w in entries if address in w), default=0))
            out.append((slot, fee))
        return out

    def account_keys(self, message: Message | MessageV0) -> tuple[list[Pubkey], list[Pubkey], list[Pubkey]]:
        """Static keys then addresses loaded from lookup tables (writable ones first), as the runtime orders them."""
        keys = list(message.account_keys)
        if not isinstance(message, MessageV0):
            return keys, [], []
        writable: list[Pubkey] = []
        readonly: list[Pubkey] = []
        for lookup in message.address_table_lookups:
            table = self.svm.get_account(lookup.account_key)
            addresses = AddressLookupTable.deserialize(bytes(table.data)).addresses if table is not None else []
            writable += [addresses[i] for i in lookup.writable_indexes if i < len(addresses)]
            readonly += [addresses[i] for i in lookup.readonly_indexes if i < len(addresses)]
        return keys + writable + readonly, writable, readonly

    def _token_balances(self, keys: list[Pubkey], programs: set[Pubkey]) -> list[dict[str, Any]]:
        out = []
        for index, key in enumerate(keys):
            if key in programs:
                continue
            view = parse_token_account(self.svm.get_account(key))
            decimals = self.decimals_of(view.mint) if view is not None else None
            if view is None or decimals is None:
                continue
            out.append(
                {
                    "accountIndex": index,
                    "mint": str(view.mint),
                    "owner": str(view.owner),
                    "programId": str(view.program_id),
                    "uiTokenAmount": ui_token_amount(view.amount, decimals),
                }
            )
        return out
