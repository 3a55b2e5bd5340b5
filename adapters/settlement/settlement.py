"""``SolanaSettlement``: lands swap transactions on a Solana cluster (``kind = "chain"``).

Landing practice: the blockhash is read at ``confirmed`` and its last valid block height kept; the compute
unit limit comes from one simulation plus a margin and the price from recent fees (or the settings);
bytes are sent with no preflight and no node retries, and the engine rebroadcasts the same bytes (the
same signature, so they execute at most once) until they land or the blockhash provably expires.

Every leg of a ticket's plan goes into one transaction (:mod:`adapters.settlement.plans`). A transaction too
large for a legacy message (1,232 bytes) is built as a v0 message with an address lookup table holding its
accounts (:mod:`adapters.settlement.tables`), made once per set of accounts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Generic, TypeVar

from solana.rpc.commitment import Confirmed
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionErrorType, UiTransactionTokenBalance

from adapters.settlement.plans import plan_instructions
from adapters.settlement.tables import LookupTables
from adapters.solana.config import MAX_COMPUTE_UNITS, ChainConfig
from adapters.solana.errors import failure_of
from adapters.solana.lookup_tables import PACKET_DATA_SIZE
from adapters.solana.rpc import ChainRpc
from adapters.solana.transactions import (
    SwapMemo,
    TokenBalance,
    amount_received,
    build_transaction,
    clamp_price,
    compute_unit_limit,
    created_token_accounts,
    encode_memo,
    memo_of,
    program_at,
    writable_accounts,
)
from kernel.errors import EngineError, FatalError
from kernel.venues import (
    PreparedTx,
    SettlementKind,
    SwapBuilder,
    SwapTicket,
    TxState,
    TxStatus,
    VenueHealth,
)

log = logging.getLogger("oee.chain.settlement")
T = TypeVar("T")

_LEVELS = {"processed": 0, "confirmed": 1, "finalized": 2}
# getTransaction can trail getSignatureStatuses by a moment on a real node.
_TRANSACTION_READS = 5


SIMULATED_ROUTE_NOTE = (
    "simulated routing: this transaction lands on chain with the simulated fill in its memo and moves no tokens"
)


def _reached(status: str, wanted: str) -> bool:
    return _LEVELS.get(status, -1) >= _LEVELS[wanted]


def _decode(tx: PreparedTx) -> VersionedTransaction:
    try:
        return VersionedTransaction.from_bytes(tx.raw)
    except ValueError as exc:
        raise FatalError(f"recorded transaction {tx.signature} is not a Solana transaction: {exc}") from exc


class Reused(Generic[T]):
    """A value read at most once per ``ttl_s`` however many ask for it meanwhile (0: read on every ask). The
    age counts from when the read began, so a reused value is never older than ``ttl_s``."""

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._at = -math.inf
        self._value: T | None = None
        self._lock = asyncio.Lock()
        self.reads = 0

    def forget(self) -> None:
        """The next ask reads afresh."""
        self._at = -math.inf

    async def get(self, read: Callable[[], Awaitable[T]]) -> T:
        if self._ttl_s <= 0:
            self.reads += 1
            return await read()
        async with self._lock:
            if self._value is not None and time.monotonic() - self._at < self._ttl_s:
                return self._value
            began = time.monotonic()
            value = await read()
            self.reads += 1
            self._value, self._at = value, began
            return value


class SolanaSettlement:
    """Builds, signs, sends and confirms swap transactions on one cluster. Implements ``SettlementVenue``.

    ``swaps`` maps each on-chain DEX's name to its :class:`~kernel.venues.SwapBuilder`: a ticket's route
    names the DEX that builds its instructions, and the DEXes' slippage codes read a landed failure.
    Without any, routing is simulated: the transaction carries only the compute budget and the memo,
    moves no tokens, and the order's fill is the simulated one recorded in the memo.
    """

    kind = SettlementKind.CHAIN
    executes_plans = True  # a ticket's plan of several legs lands as one transaction (adapters.settlement.plans)

    def __init__(
        self,
        config: ChainConfig,
        rpc: ChainRpc,
        keypair: Keypair,
        swaps: Mapping[str, SwapBuilder] | None = None,
    ) -> None:
        self.config = config
        self.rpc = rpc
        self._keypair = keypair
        self._swaps = dict(swaps or {})
        self._slippage = [builder.slippage for builder in self._swaps.values()]
        self.tables = LookupTables(rpc, keypair, poll_s=config.confirm_poll_ms / 1000)
        # Shared by the orders built within ESTIMATE_REUSE_S: one read of each instead of one an order.
        self._blockhash: Reused[tuple[Hash, int]] = Reused(config.estimate_reuse_s)
        self._fees: dict[frozenset[str], Reused[int]] = {}

    @property
    def wallet(self) -> Pubkey:
        """The fee payer's address (the only part of the keypair anything outside may see)."""
        return self._keypair.pubkey()

    async def prepare(self, ticket: SwapTicket) -> PreparedTx:
        """Build and sign the swap for ``ticket``. Reads the chain (blockhash, fees, a simulation) and sends no
        swap; the one thing it may land is a lookup table the swap needs (the wallet's own, moving no tokens,
        kept for later swaps)."""
        blockhash, last_valid = await self._blockhash.get(lambda: self.rpc.latest_blockhash(Confirmed))
        swap = await self._swap(ticket)
        memo = encode_memo(SwapMemo.for_ticket(ticket, simulated=not swap))
        price = await self._cu_price(swap)
        draft = build_transaction(self._keypair, blockhash, MAX_COMPUTE_UNITS, price, memo, swap)
        tables: tuple[AddressLookupTableAccount, ...] = ()
        if len(bytes(draft)) > PACKET_DATA_SIZE:
            tables = (await self.tables.covering(swap),)
            # making a table takes a few slots: a fresh blockhash keeps the swap's whole validity window
            blockhash, last_valid = await self.rpc.latest_blockhash(Confirmed)
            draft = build_transaction(self._keypair, blockhash, MAX_COMPUTE_UNITS, price, memo, swap, tables)
        units = await self.rpc.simulate(draft, self._slippage)
        limit = compute_unit_limit(units, self.config.compute_unit_margin)
        if ticket.priority_fee is not None:  # the order's own: a cap on the estimate, or an exact fee
            price = ticket.priority_fee.unit_price(price, limit)
        tx = build_transaction(self._keypair, blockhash, limit, price, memo, swap, tables)
        if len(bytes(tx)) > PACKET_DATA_SIZE:
            raise FatalError(
                f"order {ticket.order_id}: the swap takes {len(bytes(tx))} bytes, more than a transaction holds"
            )
        signature = str(tx.signatures[0])
        log.info(
            "order %s: built %s (%s, %d units at %d micro-lamports, valid to height %d)",
            ticket.order_id, signature, "memo only" if not swap else f"{len(swap)} swap instructions",
            limit, price, last_valid,
        )  # fmt: skip
        note = None if swap else SIMULATED_ROUTE_NOTE
        return PreparedTx(signature=signature, raw=bytes(tx), last_valid=last_valid, kind=self.kind, note=note)

    async def _swap(self, ticket: SwapTicket) -> list[Instruction]:
        """The route's swap instructions, every leg of its plan from the DEX each names (see
        :mod:`adapters.settlement.plans`); none while routing is simulated."""
        if not self._swaps:
            return []
        return await plan_instructions(ticket, self.wallet, self._swaps)

    async def _cu_price(self, swap: list[Instruction]) -> int:
        c = self.config
        if c.compute_unit_price is not None:
            return c.compute_unit_price
        accounts = writable_accounts(swap)
        shared = self._fees.setdefault(frozenset(str(a) for a in accounts), Reused(c.estimate_reuse_s))
        if len(self._fees) > 1024:  # many routes' account sets over time: keep the recent ones' entries only
            self._fees = {k: v for k, v in list(self._fees.items())[-256:]}
        recent = await shared.get(lambda: self.rpc.prioritization_fee(accounts))
        return clamp_price(recent, c.compute_unit_price_min, c.compute_unit_price_max)

    async def send(self, tx: PreparedTx) -> None:
        """Broadcast the signed bytes once. Transient failures were retried by ``ChainRpc``; if they persist
        the ``RetryableError`` propagates."""
        sent = await self.rpc.send_raw(tx.raw)
        if str(sent) != tx.signature:
            raise FatalError(f"the node answered signature {sent} for transaction {tx.signature}")
        log.debug("sent %s", tx.signature)

    async def wait(self, tx: PreparedTx, timeout_s: float) -> TxStatus:
        """Poll the signature every ``confirm_poll_ms`` until it reaches the configured commitment or
        ``timeout_s`` passes. Never sends."""
        signature = Signature.from_string(tx.signature)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout_s)
        poll_s = self.config.confirm_poll_ms / 1000
        seen = False
        while True:
            level, err = await self.rpc.signature_status(signature)
            if level is not None:
                seen = True
                if _reached(level, self.config.commitment):
                    return await self._outcome(tx, signature, err)
            left = deadline - loop.time()
            if left <= 0:
                break
            await asyncio.sleep(min(poll_s, left))
        if not seen:
            # The recent status cache forgets after a few hundred slots: look in history before saying unseen.
            level, err = await self.rpc.signature_status(signature, search_history=True)
            if level is not None and _reached(level, self.config.commitment):
                return await self._outcome(tx, signature, err)
            seen = level is not None
        return TxStatus(TxState.PENDING if seen else TxState.UNKNOWN)

    async def _outcome(self, tx: PreparedTx, signature: Signature, err: TransactionErrorType | None) -> TxStatus:
        decoded = _decode(tx)
        if err is not None:
            programs = [program_at(decoded.message, i) for i in range(len(decoded.message.instructions))]
            code, message = failure_of(err, programs, self._slippage)
            log.info("%s landed with an error: %s", tx.signature, message)
            return TxStatus(TxState.FAILED, error_code=code, error=message, extra={"err": str(err)})
        memo = memo_of(decoded)
        if memo is None:
            raise FatalError(f"transaction {tx.signature} carries no engine memo")
        if memo.sim is not None:
            return TxStatus(TxState.LANDED, amount_out=memo.sim, extra={"simulatedRoute": True})
        amount = await self._amount_out(signature, memo)
        if amount is None:
            return TxStatus(TxState.PENDING)
        return TxStatus(TxState.LANDED, amount_out=amount)

    async def _amount_out(self, signature: Signature, memo: SwapMemo) -> int | None:
        """What the payer received of the output mint, from the landed transaction's balances."""
        found = None
        for _ in range(_TRANSACTION_READS):
            found = await self.rpc.get_transaction(signature)
            if found is not None:
                break
            await asyncio.sleep(self.config.confirm_poll_ms / 1000)
        if found is None:
            return None
        meta = found.transaction.meta
        if meta is None:
            raise FatalError(f"the node returned transaction {signature} without its meta")
        owner = str(self.wallet)

        def balances(entries: Sequence[UiTransactionTokenBalance] | None) -> list[TokenBalance]:
            return [
                TokenBalance(b.account_index, None if b.owner is None else str(b.owner), str(b.mint),
                             int(b.ui_token_amount.amount))
                for b in entries or []
            ]  # fmt: skip

        pre, post = meta.pre_balances, meta.post_balances
        pre_tokens, post_tokens = balances(meta.pre_token_balances), balances(meta.post_token_balances)
        created = created_token_accounts(pre_tokens, post_tokens, owner)
        return amount_received(
            owner=owner,
            mint=memo.token_out,
            pre_tokens=pre_tokens,
            post_tokens=post_tokens,
            owner_lamports_change=(post[0] - pre[0]) if pre and post else 0,
            fee=meta.fee,
            created_rent=sum(post[i] - pre[i] for i in created if i < len(post)),
        )

    async def expired(self, tx: PreparedTx) -> bool:
        """True once the confirmed block height is past the transaction's last valid block height. A shared
        blockhash that old is dropped, so the rebuild that follows reads a fresh one."""
        gone = await self.rpc.block_height(Confirmed) > tx.last_valid
        if gone:
            self._blockhash.forget()
        return gone

    def explorer_url(self, signature: str) -> str | None:
        return self.config.explorer_url(signature)

    async def health(self, timeout_s: float) -> VenueHealth:
        """RPC reachability and latency, measured by reading the wallet's balance (one read, no write)."""
        known = VenueHealth(
            self.config.network.value,
            self.kind,
            wallet=str(self.wallet),
            min_fee_balance_lamports=self.config.min_fee_balance_lamports,
        )
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout_s):
                balance = await self.rpc.balance(self.wallet)
        except (EngineError, TimeoutError) as exc:
            # The error's code only: its message may quote the RPC URL, which can carry an API key.
            code = exc.code if isinstance(exc, EngineError) else f"no answer within {timeout_s:g} s"
            return replace(known, rpc_reachable=False, rpc_error=code)
        latency_ms = round((time.monotonic() - started) * 1000)
        return replace(known, rpc_reachable=True, rpc_latency_ms=latency_ms, balance_lamports=balance)

    async def aclose(self) -> None:
        await self.rpc.aclose()
