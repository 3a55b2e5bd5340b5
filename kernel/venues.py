"""The shape every adapter has: a DEX quotes, a settlement venue lands signed transactions.

Every DEX answers in the same response shape (:class:`Quote`), so routing and API clients never see
which adapter, simulated or on-chain, produced it. Adapters raise only :mod:`kernel.errors` types:
they classify what they catch at their boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from kernel.orders import PriorityFee
from kernel.routes import RouteLeg, RoutePlan
from kernel.tokens import Token


@dataclass(frozen=True, slots=True)
class QuoteRequest:
    """An exact-in quote request, in raw units of ``token_in``."""

    token_in: Token
    token_out: Token
    amount_in: int


@dataclass(frozen=True, slots=True)
class Quote:
    """One DEX's exact-in answer. ``amount_out`` is what the trader receives, after every fee."""

    dex: str
    pool: str
    amount_in: int
    amount_out: int
    fee: int
    fee_mint: str
    price: Decimal
    price_impact_pct: Decimal
    latency_ms: int = 0

    def min_amount_out(self, slippage_bps: int) -> int:
        """The least the order accepts: the quote less ``slippage_bps``, rounded down."""
        return self.amount_out * (10_000 - slippage_bps) // 10_000


@runtime_checkable
class DexAdapter(Protocol):
    """A DEX: quotes exact-in swaps on its pools."""

    name: str

    async def quote(self, request: QuoteRequest) -> Quote:
        """Quote ``request``; raises ``UnsupportedPair`` or ``QuoteUnavailable``."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class SlippageCode:
    """The custom error a DEX's program fails a swap with when the fill is below the swap's minimum out.

    ``programs`` are every deployment of that program. Each DEX declares its own; settlement reads a
    landed failure with them.
    """

    programs: frozenset[Pubkey]
    code: int

    def matches(self, program: Pubkey | None, code: int) -> bool:
        """Whether custom error ``code`` from ``program`` is this one. With the program unknown, the code decides."""
        return code == self.code and (program is None or program in self.programs)


@runtime_checkable
class SwapBuilder(Protocol):
    """What settlement on a chain asks of the DEX a route names: the swap's instructions, and which of its
    program's errors means slippage. A chain settlement venue receives one per on-chain DEX, by name."""

    slippage: SlippageCode

    async def swap_instructions(self, ticket: SwapTicket, owner: Pubkey) -> list[Instruction]:
        """Re-quote ``ticket``'s route and return the instructions that swap it for ``owner``.

        Includes wrapping and unwrapping SOL where a side is native. Raises ``SlippageExceeded`` when
        the fresh quote is already below ``ticket.min_amount_out`` (nothing is sent then).
        """
        ...

    async def leg_instructions(
        self, leg: RouteLeg, owner: Pubkey, accounts: Mapping[str, Pubkey] | None = None
    ) -> list[Instruction]:
        """The swap instruction(s) of one leg of a plan: the idempotent creation of its output token account
        and the swap, nothing more; wrapped SOL is settlement's, once per transaction. ``accounts`` maps a mint
        to the token account to use for it instead of the owner's associated one (and that one is not
        created). Re-quotes the leg's pool first and raises ``SlippageExceeded`` when it already pays less
        than the leg's floor (for ``EXACT_OUT``, when the leg's maximum input no longer buys its output)."""
        ...


@runtime_checkable
class OnChainDex(DexAdapter, SwapBuilder, Protocol):
    """A DEX whose swaps are real program instructions (as opposed to a simulated route)."""


@dataclass(frozen=True, slots=True)
class SwapTicket:
    """What a settlement venue needs to build one swap transaction for an order.

    ``route`` is the best single pool's quote; ``plan``, when set and of more than one leg, is the route
    to execute instead (split or hop), all of its legs in one transaction.
    """

    order_id: str
    route: Quote
    token_in: Token
    token_out: Token
    min_amount_out: int
    plan: RoutePlan | None = None
    priority_fee: PriorityFee | None = None  # the order's own cap or exact fee; None: the settlement's estimate


class SettlementKind(StrEnum):
    """Which kind of venue built a transaction, stored with it as its value.

    ``mock``, the simulated ledger's earlier name, still reads as :attr:`SIMULATED` (orders recorded
    before the rename keep settling where they were built).
    """

    SIMULATED = "simulated"
    CHAIN = "chain"

    @classmethod
    def _missing_(cls, value: object) -> SettlementKind | None:
        return cls.SIMULATED if isinstance(value, str) and value.lower() == "mock" else None

    @property
    def on_chain(self) -> bool:
        """True when the transaction lands on a Solana cluster, where an explorer may show it."""
        return self is SettlementKind.CHAIN


@dataclass(frozen=True, slots=True)
class PreparedTx:
    """A signed transaction, not yet sent. Recorded durably before the first send.

    ``last_valid`` is the last block height (or, for the simulated ledger, the last millisecond) at
    which it can land. ``kind`` names the kind of venue that built it, so a re-run
    confirms it on that same venue; ``note`` says why, when that is not the configured one.
    """

    signature: str
    raw: bytes
    last_valid: int
    kind: SettlementKind = SettlementKind.SIMULATED
    note: str | None = None


class TxState(StrEnum):
    UNKNOWN = "unknown"
    PENDING = "pending"
    LANDED = "landed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TxStatus:
    """Where a signature stands. ``FAILED`` means it landed with an error: that is final.

    A failure's ``error_code`` is the stable code the order fails with (``slippage_exceeded``,
    ``tx_failed``, ...), classified by the venue; ``error`` says it in words.
    """

    state: TxState
    amount_out: int | None = None
    error_code: str | None = None
    error: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class SettlementVenue(Protocol):
    """Lands swap transactions: a simulated ledger, or a Solana cluster."""

    kind: SettlementKind

    async def prepare(self, ticket: SwapTicket) -> PreparedTx:
        """Build and sign the transaction. No side effect on the venue."""
        ...

    async def send(self, tx: PreparedTx) -> None:
        """Broadcast the signed bytes. Sending the same bytes again can never execute twice."""
        ...

    async def wait(self, tx: PreparedTx, timeout_s: float) -> TxStatus:
        """Wait up to ``timeout_s`` for the signature to land; return where it stands."""
        ...

    async def expired(self, tx: PreparedTx) -> bool:
        """True once ``tx`` can provably never land (its blockhash has expired)."""
        ...

    def explorer_url(self, signature: str) -> str | None:
        """A public explorer link, where the venue has one."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class VenueHealth:
    """What a settlement venue knows of itself right now, as a worker publishes it for ``/health``.

    Safe to show anyone: the wallet's public address, never a key, and no RPC URL (URLs carry API keys).
    ``rpc_reachable`` is None for a venue without an RPC (the simulated ledger); ``fallback`` is the reason
    orders settle on the simulated ledger right now, None while they settle where configured.
    """

    network: str
    settlement: SettlementKind
    rpc_reachable: bool | None = None
    rpc_latency_ms: int | None = None
    rpc_error: str | None = None
    wallet: str | None = None
    balance_lamports: int | None = None
    min_fee_balance_lamports: int | None = None
    fallback: str | None = None

    def problems(self) -> list[str]:
        """Each thing wrong, in words; empty when the venue settles as configured."""
        found: list[str] = []
        if self.rpc_reachable is False:
            found.append(f"{self.network} RPC unreachable ({self.rpc_error or 'no answer'})")
        balance, floor = self.balance_lamports, self.min_fee_balance_lamports
        if balance is not None and floor is not None and balance < floor:
            found.append(f"wallet {self.wallet} holds {balance} lamports, below the fee floor of {floor}")
        if self.fallback is not None:
            found.append(f"orders settle on the simulated ledger: {self.fallback}")
        return found


@runtime_checkable
class VenueProbe(Protocol):
    """A settlement venue that can say how it stands (RPC, wallet, fallback) without changing anything."""

    async def health(self, timeout_s: float) -> VenueHealth:
        """Read-only; answers within about ``timeout_s`` whatever the RPC does (unreachable is an answer)."""
        ...
