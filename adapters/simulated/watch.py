"""Watching a simulated pair: one read of the feed, then every size priced on the pool as it stood, no I/O.

Implements :class:`kernel.watching.PairSnapshot` for the simulated DEXes. A pair with no pool (a launch token
before its launch) reads ``pool=None``; a launched pool before its opening time reads ``opens``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from adapters.simulated.curves import BinPool, ConstantProductPool
from adapters.simulated.market import CLOCK_TICK_S, SimulatedMarket, pool_address
from kernel.errors import PoolNotTradable, UnsupportedPair
from kernel.tokens import Token
from kernel.venues import Quote
from kernel.watching import Activation, ChainTime

# The version packs the feed's version above the clock tick: either changing changes it.
_TICK_BITS = 40


@dataclass(frozen=True, slots=True)
class SimulatedSnapshot:
    """One simulated DEX's pool for one pair at one clock tick. ``feed_version`` is the shared feed's version
    the snapshot was priced on (what tests and benchmarks step a controlled market by)."""

    dex: str
    token_in: Token
    token_out: Token
    pool: str | None
    opens: Activation | None
    now: ChainTime
    version: int
    feed_version: int
    _market: SimulatedMarket
    _curve: ConstantProductPool | BinPool | None
    _x: Token | None

    def quote(self, amount_in: int) -> Quote:
        """Exact-in quote of ``amount_in`` on the pool as read, no I/O."""
        if self.pool is None or self._curve is None or self._x is None:
            raise UnsupportedPair(f"{self.dex} has no {self.token_in.symbol}/{self.token_out.symbol} pool")
        if self.opens is not None:
            raise PoolNotTradable(f"the {self.dex} {self.token_in.symbol}/{self.token_out.symbol} pool is not open yet")
        x = self._x
        y = self.token_out if x.mint == self.token_in.mint else self.token_in
        result = self._curve.quote(max(1, amount_in), self.token_in.mint == x.mint)
        return self._market.as_quote(self.dex, x, y, self.token_in, self.token_out, result)


async def read_snapshot(market: SimulatedMarket, dex: str, token_in: Token, token_out: Token) -> SimulatedSnapshot:
    """Refresh the feed once, then take the pair's pool on ``dex`` as it stands."""
    state = await market.feed.refresh()
    t = market.now()
    tick = math.floor(t / CLOCK_TICK_S)
    version = (state.version << _TICK_BITS) | (tick & ((1 << _TICK_BITS) - 1))
    now = ChainTime(slot=0, unix_time=int(t))
    common = {"dex": dex, "token_in": token_in, "token_out": token_out, "now": now, "version": version,
              "feed_version": state.version, "_market": market}  # fmt: skip
    if not market.has_pool(dex, token_in, token_out):
        return SimulatedSnapshot(pool=None, opens=None, _curve=None, _x=None, **common)  # type: ignore[arg-type]
    opens_at = market.opens_at(token_in, token_out)
    curve, x, y = market.pool_now(dex, token_in, token_out)
    address = pool_address(dex, x, y)
    if opens_at is not None and t < opens_at:
        opens = Activation(unix_time=math.ceil(opens_at))
        return SimulatedSnapshot(pool=address, opens=opens, _curve=curve, _x=x, **common)  # type: ignore[arg-type]
    return SimulatedSnapshot(pool=address, opens=None, _curve=curve, _x=x, **common)  # type: ignore[arg-type]
