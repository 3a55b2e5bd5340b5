"""What a watcher of waiting orders asks of a DEX: one read of a pair's pools, priced for any size with no I/O.

Limit and sniper orders wait until their pair's executable price crosses. A watcher keeps one loop per
pair, not one per order: it reads each DEX's :class:`PairSnapshot` once per price update and prices every
waiting order's size on it locally. A DEX that can be watched implements :class:`PairWatcher` beside
:class:`kernel.venues.DexAdapter`; ``wait_change`` is pushed (an account subscription) where the venue
offers it, else a poll interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from kernel.tokens import Token
from kernel.venues import Quote


@dataclass(frozen=True, slots=True)
class ChainTime:
    """A venue's clock when a snapshot was read: its slot and its unix time in seconds (the simulated
    venues give slot 0 and the wall clock)."""

    slot: int
    unix_time: int


@dataclass(frozen=True, slots=True)
class Activation:
    """When a pool first takes swaps: at a unix time (Raydium CPMM ``open_time``, DLMM timestamp activation)
    or at a slot (DLMM slot activation). Exactly one is set."""

    unix_time: int | None = None
    slot: int | None = None

    def reached(self, now: ChainTime) -> bool:
        """Whether a swap in a block at ``now`` would be allowed."""
        if self.slot is not None:
            return now.slot >= self.slot
        if self.unix_time is not None:
            return now.unix_time >= self.unix_time
        return True


@runtime_checkable
class PairSnapshot(Protocol):
    """One DEX's pools for one pair as read at one moment.

    ``pool`` is None while the DEX has no pool for the pair (a sniper waits for one). ``opens`` is the
    pool's activation when it is not open yet at ``now`` (None once it is, or with no pool).
    ``version`` changes whenever what was read changed (a slot, a counter), so a watcher can skip
    re-pricing an unchanged pair.
    """

    # Read-only, so frozen dataclasses implement it as well as plain attributes do.
    @property
    def dex(self) -> str: ...
    @property
    def token_in(self) -> Token: ...
    @property
    def token_out(self) -> Token: ...
    @property
    def pool(self) -> str | None: ...
    @property
    def opens(self) -> Activation | None: ...
    @property
    def now(self) -> ChainTime: ...
    @property
    def version(self) -> int: ...

    def quote(self, amount_in: int) -> Quote:
        """Exact-in quote of ``amount_in`` on this snapshot, no I/O. Raises ``UnsupportedPair`` with no pool,
        ``RejectedError`` when the pool is not open or cannot fill it."""
        ...


@runtime_checkable
class PairWatcher(Protocol):
    """A DEX whose pairs can be watched without one request per waiting order."""

    name: str

    async def snapshot(self, token_in: Token, token_out: Token) -> PairSnapshot:
        """Read the pair's pools once (from a subscription's cache where one is live). Raises
        ``QuoteUnavailable`` when the venue cannot be read right now."""
        ...

    async def wait_change(self, token_in: Token, token_out: Token, timeout_s: float) -> bool:
        """Return once the pair's pools may have changed (True, pushed) or after ``timeout_s`` (False)."""
        ...


@runtime_checkable
class PoolLauncher(Protocol):
    """Where a simulated venue is told that a pool launches (what sniper orders wait for), shared by every process."""

    async def launch(self, base: Token, quote: Token, price: Decimal, opens_at: float) -> None:
        """Launch a ``base``/``quote`` pool at ``price`` (quote per base), open from ``opens_at`` (unix seconds)."""
        ...

    async def launched(self, base: Token, quote: Token) -> bool:
        """Whether a pool for the two tokens is launched already (in either order)."""
        ...
