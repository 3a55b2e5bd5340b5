"""``FundedOrSimulated``: settle on the chain when the wallet can pay fees, else on the simulated ledger.

A fresh devnet wallet holds nothing and the devnet faucet is often rate-limited. Rather than fail every
order, this venue asks the faucet once (on networks that have one) and, if the wallet still cannot pay,
builds the order's transaction on the simulated ledger, saying why in the transaction's ``note``. The
balance is checked again every few seconds, so chain settlement resumes by itself once the wallet is
funded. ``send``, ``wait`` and ``expired`` follow ``tx.kind``, so a re-run after a crash confirms the
transaction on the venue that built it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from prometheus_client import Counter

from adapters.settlement.settlement import SolanaSettlement
from adapters.solana.config import LAMPORTS_PER_SOL
from adapters.solana.errors import AirdropRateLimited, WalletUnfunded
from kernel.errors import EngineError, RetryableError
from kernel.venues import PreparedTx, SettlementKind, SettlementVenue, SwapTicket, TxStatus, VenueHealth

log = logging.getLogger("oee.chain.funding")

SIMULATED_KIND = SettlementKind.SIMULATED
FALLBACKS = Counter(
    "oee_settlement_fallbacks", "Transactions built on the simulated ledger because the wallet could not pay fees."
)
# How long to wait for an airdrop's lamports to show in the balance.
_AIRDROP_ARRIVAL_POLLS = 50


def short_address(address: str) -> str:
    return f"{address[:4]}…"


def _sol(lamports: int) -> str:
    return f"{lamports / LAMPORTS_PER_SOL:g} SOL"


class FundedOrSimulated:
    """A ``SettlementVenue`` (``kind = "chain"``) over a :class:`SolanaSettlement` and the simulated ledger.

    ``balance_ttl_s`` is how long a balance reading is trusted; ``airdrop_cooldown_s`` how long after a
    refused airdrop the faucet is left alone.
    """

    kind = SettlementKind.CHAIN

    def __init__(
        self,
        chain: SolanaSettlement,
        ledger: SettlementVenue,
        *,
        balance_ttl_s: float = 5.0,
        airdrop_cooldown_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.chain = chain
        self.ledger = ledger
        self._config = chain.config
        self._balance_ttl_s = balance_ttl_s
        self._airdrop_cooldown_s = airdrop_cooldown_s
        self._clock = clock
        self._balance: tuple[int, float] | None = None
        self._faucet_blocked_until = 0.0
        self._faucet_reason = ""
        self._lock = asyncio.Lock()

    async def prepare(self, ticket: SwapTicket) -> PreparedTx:
        """On the chain when the wallet can pay fees (after an airdrop if needed), else on the ledger."""
        reason = await self.unfunded_reason()
        if reason is None:
            try:
                return await self.chain.prepare(ticket)
            except WalletUnfunded as exc:
                self._balance = None
                reason = self._note(f"cannot pay fees: {exc}")
        prepared = await self.ledger.prepare(ticket)
        FALLBACKS.inc()
        log.info("order %s: settling %s on the simulated ledger: %s", ticket.order_id, prepared.signature, reason)
        return replace(prepared, kind=SIMULATED_KIND, note=reason)

    async def unfunded_reason(self) -> str | None:
        """None when the wallet can pay fees (asking the faucet first if it cannot and there is one); else a
        plain sentence saying why not, safe to show (the address, never the key)."""
        async with self._lock:
            balance = await self._read_balance()
            minimum = self._config.min_fee_balance_lamports
            if balance >= minimum:
                return None
            network = self._config.network.value
            if (known := self._without_faucet(balance)) is not None:
                return known
            try:
                balance = await self._airdrop(balance)
            except AirdropRateLimited:
                self._block_faucet(f"the {network} faucet is rate-limited")
            except RetryableError as exc:
                self._block_faucet(f"the {network} faucet could not be reached ({exc.code})")
            except EngineError as exc:
                self._block_faucet(f"the {network} faucet refused the airdrop ({exc.code})")
            else:
                if balance >= minimum:
                    return None
                self._block_faucet(f"the {network} faucet sent no SOL")
            return self._note(f"cannot pay fees ({balance} lamports) and {self._faucet_reason}")

    def _without_faucet(self, balance: int) -> str | None:
        """The fallback note for an unfunded wallet when the faucet cannot be asked now; None when it can."""
        if not self._config.has_faucet:
            return self._note(f"cannot pay fees ({balance} lamports) and {self._config.network.value} has no faucet")
        if self._clock() < self._faucet_blocked_until:
            return self._note(f"cannot pay fees ({balance} lamports) and {self._faucet_reason}")
        return None

    async def health(self, timeout_s: float) -> VenueHealth:
        """The chain's health, and whether orders settle on the simulated ledger right now. Read-only: it never
        asks the faucet (an unfunded wallet the faucet may still fund shows as below the floor, not as fallback)."""
        health = await self.chain.health(timeout_s)
        balance = health.balance_lamports
        if balance is None or balance >= self._config.min_fee_balance_lamports:
            return health
        return replace(health, fallback=self._without_faucet(balance))

    def _note(self, why: str) -> str:
        return f"wallet {short_address(str(self.chain.wallet))} {why}: settled on the simulated ledger"

    def _block_faucet(self, reason: str) -> None:
        self._faucet_reason = reason
        self._faucet_blocked_until = self._clock() + self._airdrop_cooldown_s
        log.warning("wallet %s: %s", self.chain.wallet, reason)

    async def _read_balance(self, *, fresh: bool = False) -> int:
        now = self._clock()
        if not fresh and self._balance is not None and now - self._balance[1] < self._balance_ttl_s:
            return self._balance[0]
        balance = await self.chain.rpc.balance(self.chain.wallet)
        self._balance = (balance, now)
        return balance

    async def _airdrop(self, before: int) -> int:
        """Request the configured airdrop and wait for it to show; returns the balance after."""
        lamports = self._config.airdrop_lamports
        log.info(
            "wallet %s holds %d lamports: requesting %s from the faucet", self.chain.wallet, before, _sol(lamports)
        )
        await self.chain.rpc.request_airdrop(self.chain.wallet, lamports)
        balance = before
        for _ in range(_AIRDROP_ARRIVAL_POLLS):
            balance = await self._read_balance(fresh=True)
            if balance >= before + lamports:
                break
            await asyncio.sleep(self._config.confirm_poll_ms / 1000)
        return balance

    def _venue(self, tx: PreparedTx) -> SettlementVenue:
        return self.ledger if tx.kind == SIMULATED_KIND else self.chain

    async def send(self, tx: PreparedTx) -> None:
        await self._venue(tx).send(tx)

    async def wait(self, tx: PreparedTx, timeout_s: float) -> TxStatus:
        return await self._venue(tx).wait(tx, timeout_s)

    async def expired(self, tx: PreparedTx) -> bool:
        return await self._venue(tx).expired(tx)

    def explorer_url(self, signature: str) -> str | None:
        return self.chain.explorer_url(signature)

    async def aclose(self) -> None:
        try:
            await self.chain.aclose()
        finally:
            await self.ledger.aclose()
