"""A simulated DEX: quotes from :class:`SimulatedMarket` after a simulated network latency, sometimes failing."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Awaitable, Callable, Sequence

from adapters.simulated.config import SimulatedConfig
from adapters.simulated.market import DEX_CURVES, SimulatedMarket
from adapters.simulated.watch import SimulatedSnapshot, read_snapshot
from kernel.errors import QuoteUnavailable, UnsupportedPair
from kernel.routes import PoolQuotes
from kernel.tokens import Token
from kernel.venues import Quote, QuoteRequest

Sleep = Callable[[float], Awaitable[None]]


class SimulatedDex:
    """One simulated DEX (``"raydium"``: constant-product pools, ``"meteora"``: bin pools).

    Implements :class:`kernel.venues.DexAdapter`, :class:`kernel.routes.PoolQuoter` and
    :class:`kernel.watching.PairWatcher`. Each quote (or pool grid) waits a latency drawn from
    ``config.quote_latency`` (no wait at all when it is 0), then fails with ``QuoteUnavailable`` with
    probability ``config.failure_rate``, else prices the request on the market as it stands then.
    """

    def __init__(
        self,
        name: str,
        market: SimulatedMarket,
        config: SimulatedConfig,
        *,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if name not in DEX_CURVES:
            raise ValueError(f"no simulated DEX named {name!r}; known: {', '.join(DEX_CURVES)}")
        self.name = name
        self._market = market
        self._config = config
        # Seeded so a run can be replayed; each DEX gets its own stream so one's draws do not shift the other's.
        self._rng = rng or random.Random(f"{config.seed}:{name}:quotes")
        # Pool grids draw from their own stream, so pricing a split never shifts which quotes fail.
        self._grid_rng = random.Random(f"{config.seed}:{name}:pools")
        self._sleep = sleep

    async def quote(self, request: QuoteRequest) -> Quote:
        """Quote ``request`` exact-in; raises ``UnsupportedPair`` or ``QuoteUnavailable``."""
        if request.token_in.mint == request.token_out.mint:
            raise UnsupportedPair(f"cannot swap {request.token_in.symbol} for itself")
        latency_ms = await self._wait_or_fail(self._rng)
        await self._market.feed.refresh()
        quote = self._market.quote(self.name, request.token_in, request.token_out, request.amount_in)
        return dataclasses.replace(quote, latency_ms=latency_ms)

    async def quote_pools(self, token_in: Token, token_out: Token, amounts: Sequence[int]) -> list[PoolQuotes]:
        """Every pool of this DEX for the pair at each of ``amounts``, after one simulated latency."""
        if token_in.mint == token_out.mint:
            raise UnsupportedPair(f"cannot swap {token_in.symbol} for itself")
        await self._wait_or_fail(self._grid_rng)
        await self._market.feed.refresh()
        return self._market.quote_pools(self.name, token_in, token_out, amounts)

    async def _wait_or_fail(self, rng: random.Random) -> int:
        latency_ms = self._config.quote_latency.draw_ms(rng)
        if latency_ms > 0:
            await self._sleep(latency_ms / 1000)
        if self._config.failure_rate > 0 and rng.random() < self._config.failure_rate:
            raise QuoteUnavailable(f"simulated {self.name} quote failure after {latency_ms} ms")
        return latency_ms

    async def snapshot(self, token_in: Token, token_out: Token) -> SimulatedSnapshot:
        """The pair's pool as it stands now (after the feed's latest launches and prices), priced with no I/O."""
        return await read_snapshot(self._market, self.name, token_in, token_out)

    @property
    def io_calls(self) -> int:
        """Reads of the shared feed this process's market made (the simulated venues' only I/O; no RPC)."""
        return self._market.feed.reads

    async def wait_change(self, token_in: Token, token_out: Token, timeout_s: float) -> bool:
        """The simulated price moves with the clock, so nothing is pushed: wait the poll interval (or less)."""
        await self._sleep(max(0.0, min(timeout_s, self._config.watch_poll_s)))
        return False

    async def aclose(self) -> None:
        """Nothing to release: the market lives in memory."""
