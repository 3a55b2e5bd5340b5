"""The simulated market: reference prices that drift, one pool per DEX and pair, fills that move them.

Everything here is a deterministic function of the wall clock and the seed, so separate processes (API,
workers) quote the same prices without talking to each other. Each process keeps its own memory of
recent fills; a fill's displacement decays within seconds (arbitrageurs pull the pool back to the
reference), so those memories never drift far apart.

Price paths, per token and per pair:

- every token's USD price is its reference times ``1 + (a sum of three sines)``, about +-1.8% at most;
- each pair has a skew ``s(t)``: Raydium trades at ``mid * (1 + s)``, Meteora at ``mid * (1 - s)``.
  ``|s|`` wanders within [1.05%, 2.35%], so the DEXes differ by 2.1% to 4.8%, and its sign flips every
  2.5 to 5 minutes, so which DEX pays more changes. A flip ramps over ~10 s rather than jumping, so an
  order quoted just before one is not pushed past its slippage when it fills.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from solders.pubkey import Pubkey

from adapters.simulated.config import SimulatedConfig
from adapters.simulated.curves import BinPool, ConstantProductPool, SwapResult
from adapters.simulated.feed import LAUNCH_MINTS, Launch, MarketFeed
from kernel import money
from kernel.errors import EngineError, PoolNotTradable, RejectedError, SlippageExceeded, UnsupportedPair
from kernel.routes import PoolQuotes
from kernel.tokens import Token, TokenRegistry
from kernel.venues import Quote

Clock = Callable[[], float]

REFERENCE_USD: Mapping[str, Decimal] = {
    "SOL": Decimal(150),
    "USDC": Decimal(1),
    "USDT": Decimal(1),
    "JUP": Decimal("0.8"),
    "BONK": Decimal("0.00002"),
    "RAY": Decimal(2),
}
STABLECOINS = frozenset({"USDC", "USDT"})

# Which curve each simulated DEX runs, and which side of the pair's skew it trades on.
DEX_CURVES: Mapping[str, str] = {"raydium": "constant_product", "meteora": "bins"}
_DEX_SIDE: Mapping[str, int] = {"raydium": 1, "meteora": -1}

# Each DEX's pools for a pair, as shares of ``pool_depth_usd``: a deep pool and a shallower one beside it (at
# the same price: arbitrage keeps them there), so a large order pays more split over the two.
POOL_DEPTHS: Mapping[str, tuple[Decimal, ...]] = {
    "raydium": (Decimal(1), Decimal("0.25")),
    "meteora": (Decimal(1), Decimal("0.5")),
}
# Pairs no simulated DEX pools directly: routes between them hop through an intermediate (USDC or SOL).
NO_DIRECT_POOL = frozenset({frozenset({"BONK", "RAY"})})

RAYDIUM_FEE_PPM = 2500
METEORA_BIN_STEP_BPS = 10
METEORA_BINS_PER_SIDE = 100
# The constant-product pool stands for a concentrated-liquidity pool whose depth sits within about +-10% of
# the price; such a pool trades like a constant-product pool with ~20x the deposit as virtual reserves.
# Without it, 200 orders of 1.5 SOL landing at once would move a $5M pool by ~1.8%, past 50 bps slippage.
# Prices move with time in ticks of this length, so pools can be reused within a tick.
CLOCK_TICK_S = 0.01
CONCENTRATION = 20

# (period in seconds, amplitude) of the sines behind each token's drift; stablecoins drift 20x less.
_DRIFT_WAVES: tuple[tuple[float, float], ...] = ((97.0, 0.005), (331.0, 0.006), (1201.0, 0.007))
_STABLE_DAMPING = 0.05
_SKEW_MIN, _SKEW_SPAN, _SKEW_PERIOD_S = 0.0105, 0.013, 431.0
_FLIP_MIN_S, _FLIP_SPAN_S, _FLIP_RAMP_S = 150.0, 150.0, 10.0
_IMPACT_QUANTUM = Decimal("0.000001")


def _unit(seed: int, *parts: str) -> float:
    """A stable pseudo-random number in [0, 1) for ``parts``: the same in every process (unlike ``hash``)."""
    digest = hashlib.sha256(":".join((str(seed), *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def drift_factor(symbol: str, t: float, seed: int) -> float:
    """The token's USD price over its reference at time ``t`` (seconds), within about +-1.8%."""
    damping = _STABLE_DAMPING if symbol in STABLECOINS else 1.0
    total = 0.0
    for i, (period, amplitude) in enumerate(_DRIFT_WAVES):
        phase = _unit(seed, "drift", symbol, str(i))
        total += amplitude * math.sin(2 * math.pi * (t / period + phase))
    return 1.0 + damping * total


def dex_skew(pair: str, t: float, seed: int) -> float:
    """``s(t)`` for ``pair``: Raydium trades at ``mid * (1 + s)``, Meteora at ``mid * (1 - s)``.

    ``|s|`` stays within [1.05%, 2.35%] except while the sign flips; a flip is a linear ramp of
    ``_FLIP_RAMP_S`` seconds (a clipped, steep sine), every 150-300 s depending on the pair.
    """
    magnitude_phase = _unit(seed, "skew", pair)
    magnitude = _SKEW_MIN + _SKEW_SPAN * (1 + math.sin(2 * math.pi * (t / _SKEW_PERIOD_S + magnitude_phase))) / 2
    half_period = _FLIP_MIN_S + _FLIP_SPAN_S * _unit(seed, "flip", pair)
    steepness = 2 * half_period / (math.pi * _FLIP_RAMP_S)
    wave = math.sin(math.pi * (t / half_period + _unit(seed, "flip-phase", pair)))
    return magnitude * max(-1.0, min(1.0, steepness * wave))


@functools.lru_cache(maxsize=1024)
def pool_address(dex: str, a: Token, b: Token, index: int = 0) -> str:
    """A stable, Solana-looking address for the ``index``-th simulated pool of ``dex`` on the pair, in either order."""
    low, high = sorted((a.mint, b.mint))
    seed = f"oee-sim-pool:{dex}:{low}:{high}" + (f":{index}" if index else "")
    return str(Pubkey(hashlib.sha256(seed.encode()).digest()))


@dataclass(slots=True)
class _Displacement:
    """How far a pool sits from its target, in log-price, as of ``since``; it decays exponentially."""

    offset: Decimal
    since: float


Pool = ConstantProductPool | BinPool
_Key = tuple[str, int, str, str]  # dex, pool index, canonical mints


class SimulatedMarket:
    """Pools for every pair of known tokens on each simulated DEX, priced off a drifting reference.

    ``quote`` never changes anything; ``fill`` moves the pool it trades on. ``clock`` returns wall-clock
    seconds (``time.time``): the price path is a function of it, so it must agree across processes.
    """

    def __init__(
        self,
        tokens: TokenRegistry,
        config: SimulatedConfig,
        *,
        clock: Clock = time.time,
        reference_usd: Mapping[str, Decimal] = REFERENCE_USD,
        feed: MarketFeed | None = None,
    ) -> None:
        self._tokens = tokens
        self.feed = feed or MarketFeed(None, "")
        self._config = config
        self._clock = clock
        self._reference = dict(reference_usd)
        self._displacements: dict[_Key, _Displacement] = {}
        # The last pool built for each (dex, pair): rebuilding one costs more than a quote. It is reused
        # only for the same clock tick and the same displacement; a fill installs a new displacement,
        # so a pool that a fill mutated is never handed out again.
        # The feed's version is part of the stamp: a launch or a price set within a tick is seen at once.
        self._built: dict[_Key, tuple[tuple[float, int], _Displacement | None, Pool]] = {}

    @property
    def dexes(self) -> tuple[str, ...]:
        """The simulated DEX names, in a fixed order."""
        return tuple(DEX_CURVES)

    @property
    def tokens(self) -> TokenRegistry:
        """The tokens the market may price (those with a reference price)."""
        return self._tokens

    def reference_usd(self, token: Token, t: float) -> Decimal:
        """The token's drifting USD price at ``t``; a price set in the feed, which does not drift; a launch
        token's from its pool's launch price."""
        state = self.feed.state
        fixed = state.prices_usd.get(token.symbol)
        if fixed is not None:
            return fixed
        if token.mint in LAUNCH_MINTS:
            launch = state.launch_of(token.mint)
            if launch is None:
                raise UnsupportedPair(f"no pool has been launched for {token.symbol}")
            return self._launch_usd(token, launch, t)
        base = self._reference.get(token.symbol)
        if base is None:
            raise UnsupportedPair(f"the simulated market has no price for {token.symbol}")
        return base * Decimal(drift_factor(token.symbol, t, self._config.seed))

    def target_price(self, dex: str, token_in: Token, token_out: Token, t: float) -> Decimal:
        """Where ``dex`` trades with no recent fills: units of ``token_out`` per unit of ``token_in``."""
        x, y = self._pair(dex, token_in, token_out)
        raw = self._target_raw(dex, x, y, t)
        with localcontext() as ctx:
            ctx.prec = 40
            per_x = raw.scaleb(x.decimals - y.decimals)
            return per_x if token_in.mint == x.mint else 1 / per_x

    def pools(self, dex: str, token_in: Token, token_out: Token) -> tuple[str, ...]:
        """The addresses of ``dex``'s pools for the pair, deepest first."""
        x, y = self._pair(dex, token_in, token_out)
        return tuple(pool_address(dex, x, y, i) for i in range(len(POOL_DEPTHS[dex])))

    def quote(self, dex: str, token_in: Token, token_out: Token, amount_in: int, pool: str | None = None) -> Quote:
        """What ``dex`` would pay now for ``amount_in`` raw units of ``token_in``: on ``pool``, else on its pool
        paying the most (then the deepest). Changes nothing."""
        x, y = self._pair(dex, token_in, token_out)
        t = self._clock()
        self._check_open(x, y, t)
        found: Quote | None = None
        refusal: EngineError | None = None
        for index in self._indexes(dex, x, y, pool):
            try:
                result = self._pool(dex, index, x, y, t).quote(_positive(amount_in), token_in.mint == x.mint)
                quote = self._as_quote(dex, index, x, y, token_in, token_out, result)
            except EngineError as exc:
                refusal = refusal or exc  # the deepest pool's refusal, if no pool can take it
                continue
            if found is None or quote.amount_out > found.amount_out:
                found = quote
        if found is None:
            assert refusal is not None
            raise refusal
        return found

    def quote_pools(self, dex: str, token_in: Token, token_out: Token, amounts: Sequence[int]) -> list[PoolQuotes]:
        """Each of ``dex``'s pools for the pair priced at each of ``amounts`` (None where it buys nothing)."""
        x, y = self._pair(dex, token_in, token_out)
        t, x_to_y = self._clock(), token_in.mint == x.mint
        self._check_open(x, y, t)
        found = []
        for index in range(len(POOL_DEPTHS[dex])):
            pool = self._pool(dex, index, x, y, t)
            outs = []
            for amount in amounts:
                try:
                    out = pool.quote(_positive(amount), x_to_y).amount_out
                except EngineError:
                    out = 0
                outs.append(out if out > 0 else None)
            found.append(PoolQuotes(dex, pool_address(dex, x, y, index), tuple(amounts), tuple(outs)))
        return found

    def input_for(self, dex: str, pool: str, token_in: Token, token_out: Token, amount_out: int, most: int) -> int:
        """The least input (at most ``most``) that ``pool`` pays at least ``amount_out`` for now, as an exact-out
        swap spends it; ``SlippageExceeded`` when even ``most`` buys less. Changes nothing."""
        x, y = self._pair(dex, token_in, token_out)
        (index,) = self._indexes(dex, x, y, pool)
        curve, x_to_y = self._pool(dex, index, x, y, self._clock()), token_in.mint == x.mint

        def pays(amount: int) -> int:
            try:
                return curve.quote(amount, x_to_y).amount_out
            except EngineError:
                return 0

        if pays(most) < amount_out:
            raise SlippageExceeded(f"{most} raw {token_in.symbol} no longer buys {amount_out} raw {token_out.symbol}")
        low, high = 1, most  # pays(high) >= amount_out; the output only grows with the input
        while low < high:
            mid = (low + high) // 2
            if pays(mid) >= amount_out:
                high = mid
            else:
                low = mid + 1
        return high

    def fill(
        self, dex: str, token_in: Token, token_out: Token, amount_in: int, pool: str | None = None
    ) -> tuple[int, Quote]:
        """Swap on ``dex`` now (on ``pool``, else the pool that pays most), moving that pool; returns the amount
        out and the fill as a quote."""
        x, y = self._pair(dex, token_in, token_out)
        index = self._index_of(dex, x, y, pool or self.quote(dex, token_in, token_out, amount_in).pool)
        t = self._clock()
        self._check_open(x, y, t)
        curve = self._pool(dex, index, x, y, t)
        t = math.floor(t / CLOCK_TICK_S) * CLOCK_TICK_S
        result = curve.apply(_positive(amount_in), token_in.mint == x.mint)
        with localcontext() as ctx:
            ctx.prec = 40
            offset = curve.log_price() - self._target_raw(dex, x, y, t).ln()
        moved = _Displacement(offset, t)
        self._displacements[(dex, index, x.mint, y.mint)] = moved
        # The filled pool is the pool for the rest of this tick: quotes until the next tick price against
        # it, as later fills would on a chain, instead of rebuilding it.
        self._built[(dex, index, x.mint, y.mint)] = ((t, self.feed.state.version), moved, curve)
        return result.amount_out, self._as_quote(dex, index, x, y, token_in, token_out, result)

    def now(self) -> float:
        """The market's clock."""
        return self._clock()

    def opens_at(self, token_in: Token, token_out: Token) -> float | None:
        """When a launched pair's pool opens (unix seconds); None for a pair that was not launched."""
        launch = self.feed.state.launches.get(frozenset((token_in.mint, token_out.mint)))
        return None if launch is None else launch.opens_at

    def has_pool(self, dex: str, token_in: Token, token_out: Token) -> bool:
        """Whether ``dex`` has a pool for the pair now (launched or always there), open or not."""
        try:
            self._pair(dex, token_in, token_out)
        except UnsupportedPair:
            return False
        return True

    def pool_now(self, dex: str, token_in: Token, token_out: Token) -> tuple[Pool, Token, Token]:
        """The pool of the pair on ``dex`` as it stands now, and the pair in its canonical order; the pool is
        not to be changed (price on it with ``quote`` of the curve, which changes nothing)."""
        x, y = self._pair(dex, token_in, token_out)
        return self._pool(dex, 0, x, y, self._clock()), x, y

    def as_quote(self, dex: str, x: Token, y: Token, token_in: Token, token_out: Token, result: SwapResult) -> Quote:
        """A curve's answer on the pair's deepest pool (the one :meth:`pool_now` gives) in the shape every DEX
        answers in."""
        return self._as_quote(dex, 0, x, y, token_in, token_out, result)

    # --- internals ------------------------------------------------------------------------------

    def _check_open(self, x: Token, y: Token, now: float) -> None:
        opens = self.opens_at(x, y)
        if opens is not None and now < opens:
            raise PoolNotTradable(f"the {x.symbol}/{y.symbol} pool opens in {opens - now:.1f} s")

    def _launch_usd(self, token: Token, launch: Launch, t: float) -> Decimal:
        """A launch token's USD price: its pool's launch price against the other side's reference."""
        other_mint = launch.quote if token.mint == launch.base else launch.base
        other = self._tokens.resolve(other_mint)
        if other is None or other.mint in LAUNCH_MINTS:
            raise UnsupportedPair(f"the {token.symbol} pool is launched against an unknown token")
        other_usd = self.reference_usd(other, t)
        with localcontext() as ctx:
            ctx.prec = 40
            return other_usd * launch.price if token.mint == launch.base else other_usd / launch.price

    def _pair(self, dex: str, token_in: Token, token_out: Token) -> tuple[Token, Token]:
        """The pair in its canonical order (by mint), after checking the market trades it."""
        if dex not in DEX_CURVES:
            raise UnsupportedPair(f"no simulated DEX named {dex!r}")
        if token_in.mint == token_out.mint:
            raise UnsupportedPair(f"cannot swap {token_in.symbol} for itself")
        known_in, known_out = self._known(dex, token_in), self._known(dex, token_out)
        if (known_in.mint in LAUNCH_MINTS or known_out.mint in LAUNCH_MINTS) and frozenset(
            (known_in.mint, known_out.mint)
        ) not in self.feed.state.launches:
            raise UnsupportedPair(f"the simulated {dex} has no {known_in.symbol}/{known_out.symbol} pool yet")
        if frozenset({known_in.symbol, known_out.symbol}) in NO_DIRECT_POOL:
            raise UnsupportedPair(f"the simulated {dex} has no {known_in.symbol}/{known_out.symbol} pool")
        return (known_in, known_out) if known_in.mint < known_out.mint else (known_out, known_in)

    def _indexes(self, dex: str, x: Token, y: Token, pool: str | None) -> list[int]:
        return list(range(len(POOL_DEPTHS[dex]))) if pool is None else [self._index_of(dex, x, y, pool)]

    def _index_of(self, dex: str, x: Token, y: Token, pool: str) -> int:
        for index in range(len(POOL_DEPTHS[dex])):
            if pool_address(dex, x, y, index) == pool:
                return index
        raise UnsupportedPair(f"the simulated {dex} has no pool {pool} for {x.symbol}/{y.symbol}")

    def _known(self, dex: str, token: Token) -> Token:
        known = self._tokens.resolve(token.mint)
        if known is None or (known.symbol not in self._reference and known.mint not in LAUNCH_MINTS):
            raise UnsupportedPair(f"the simulated {dex} has no pool for {token.symbol} ({token.mint})")
        return known

    def _target_raw(self, dex: str, x: Token, y: Token, t: float) -> Decimal:
        """The target price of the ``(x, y)`` pool on ``dex``: raw y per raw x."""
        with localcontext() as ctx:
            ctx.prec = 40
            mid = (self.reference_usd(x, t) / self.reference_usd(y, t)).scaleb(y.decimals - x.decimals)
            steady = self.feed.state.steady
            skew = 0.0 if steady else dex_skew(f"{x.symbol}/{y.symbol}", t, self._config.seed)
            return mid * (1 + _DEX_SIDE[dex] * Decimal(skew))

    def _pool(self, dex: str, index: int, x: Token, y: Token, t: float) -> Pool:
        """The pool as it stands at ``t`` (to the clock tick): its target plus what is left of recent fills."""
        key = (dex, index, x.mint, y.mint)
        tick = math.floor(t / CLOCK_TICK_S) * CLOCK_TICK_S
        moved = self._displacements.get(key)
        cached = self._built.get(key)
        stamp = (tick, self.feed.state.version)
        if cached is not None and cached[0] == stamp and cached[1] is moved:
            return cached[2]
        pool = self._build_pool(dex, index, x, y, tick)
        self._built[key] = (stamp, moved, pool)
        return pool

    def _build_pool(self, dex: str, index: int, x: Token, y: Token, t: float) -> Pool:
        with localcontext() as ctx:
            ctx.prec = 40
            log_price = self._target_raw(dex, x, y, t).ln()
            moved = self._displacements.get((dex, index, x.mint, y.mint))
            if moved is not None:
                decay = math.exp(-max(0.0, t - moved.since) / self._config.relax_time_s)
                log_price += moved.offset * Decimal(decay)
            price = log_price.exp()
            share = POOL_DEPTHS[dex][index]
            depth_x = int(self._depth_raw(x, t) * share)
            depth_y = int(self._depth_raw(y, t) * share)
        if DEX_CURVES[dex] == "constant_product":
            return ConstantProductPool.at_price(price, depth_x * CONCENTRATION, RAYDIUM_FEE_PPM)
        return BinPool.at_price(
            price,
            depth_x,
            depth_y,
            bin_step_bps=METEORA_BIN_STEP_BPS,
            bins_per_side=METEORA_BINS_PER_SIDE,
        )

    def _depth_raw(self, token: Token, t: float) -> int:
        """``pool_depth_usd`` worth of ``token``, in raw units."""
        usd = Decimal(self._config.pool_depth_usd) / self.reference_usd(token, t)
        return int(usd.scaleb(token.decimals))

    def _as_quote(
        self, dex: str, index: int, x: Token, y: Token, token_in: Token, token_out: Token, result: SwapResult
    ) -> Quote:
        if result.amount_out <= 0:
            raise RejectedError(
                f"{result.amount_in} raw {token_in.symbol} is too small to buy any {token_out.symbol}",
                code="amount_too_small",
            )
        return Quote(
            dex=dex,
            pool=pool_address(dex, x, y, index),
            amount_in=result.amount_in,
            amount_out=result.amount_out,
            fee=result.fee,
            fee_mint=token_in.mint,
            price=money.price(result.amount_in, token_in.decimals, result.amount_out, token_out.decimals),
            price_impact_pct=result.price_impact_pct.quantize(_IMPACT_QUANTUM),
        )


def _positive(amount_in: int) -> int:
    if amount_in <= 0:
        raise RejectedError(f"amount_in must be positive, got {amount_in}", code="invalid_amount")
    return amount_in
