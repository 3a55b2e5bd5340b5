"""What the simulated market reads besides the clock: launched pools and set prices, shared through Redis.

Every process (API, watchers, workers) builds its own :class:`SimulatedMarket`; they agree because the
price path is a function of the clock and of this feed, one Redis hash per deployment:

- ``launch:<mint>:<mint>``: a pool launched for a pair that had none (one token of :data:`LAUNCH_TOKENS`),
  at a price and opening at a unix time (both DEXes launch it);
- ``price:<SYMBOL>``: a token's USD price set by hand, which then does not drift;
- ``steady``: both DEXes trade at the same price (no skew between them), so a price set by hand is the
  price every venue quotes, before fees and impact;
- ``version``: incremented by every write, so a reader knows when what it holds changed.

The market itself never does I/O: :meth:`MarketFeed.refresh` reads the hash (at most once per
``refresh_s``) before a quote or a snapshot, and the market prices on what was last read.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import cast

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from solders.pubkey import Pubkey

from kernel.tokens import Token

log = logging.getLogger("oee.simulated")


def _mint(symbol: str) -> str:
    return str(Pubkey(hashlib.sha256(f"oee-sim-launch-token:{symbol}".encode()).digest()))


# Tokens with no pool anywhere until one is launched: what sniper orders wait for on the simulated DEXes.
LAUNCH_TOKENS: tuple[Token, ...] = (
    Token("NEWT", "Simulated launch token", 6, _mint("NEWT")),
    Token("PUMP", "Simulated launch token", 6, _mint("PUMP")),
)
LAUNCH_MINTS = frozenset(t.mint for t in LAUNCH_TOKENS)


@dataclass(frozen=True, slots=True)
class Launch:
    """A pool launched for ``base``/``quote`` at ``price`` (units of quote per unit of base), open from ``opens_at``."""

    base: str
    quote: str
    price: Decimal
    opens_at: float


@dataclass(frozen=True, slots=True)
class FeedState:
    """One read of the feed."""

    version: int = 0
    prices_usd: Mapping[str, Decimal] = field(default_factory=dict)
    steady: bool = False
    launches: Mapping[frozenset[str], Launch] = field(default_factory=dict)

    def launch_of(self, mint: str) -> Launch | None:
        """The launch that priced ``mint`` (a launch token), if any."""
        for launch in self.launches.values():
            if mint in (launch.base, launch.quote):
                return launch
        return None


def _parse(raw: Mapping[bytes, bytes]) -> FeedState:
    prices: dict[str, Decimal] = {}
    launches: dict[frozenset[str], Launch] = {}
    for key_bytes, value in raw.items():
        key = key_bytes.decode()
        try:
            if key.startswith("price:"):
                prices[key.removeprefix("price:")] = Decimal(value.decode())
            elif key.startswith("launch:"):
                doc = orjson.loads(value)
                launch = Launch(doc["base"], doc["quote"], Decimal(doc["price"]), float(doc["opensAt"]))
                launches[frozenset((launch.base, launch.quote))] = launch
        except (InvalidOperation, KeyError, ValueError, orjson.JSONDecodeError):
            continue  # a field this release cannot read is not a price or a pool
    return FeedState(
        version=int(raw.get(b"version", b"0")), prices_usd=prices, steady=raw.get(b"steady") == b"1", launches=launches
    )


class MarketFeed:
    """The feed of one deployment. Without ``redis`` it is empty and never changes (a market on the clock alone)."""

    def __init__(self, redis: aioredis.Redis | None, key: str, *, refresh_s: float = 0.1) -> None:
        self._redis = redis
        self._key = key
        self._refresh_s = refresh_s
        self._read_at = -1e18
        self._reading: asyncio.Future[FeedState] | None = None
        self._reading_since = 0.0
        self.state = FeedState()
        self.reads = 0  # Redis reads made, for benchmarks

    async def refresh(self, *, force: bool = False) -> FeedState:
        """Read the feed unless it was read within ``refresh_s``. A caller is answered by a read that began
        after it called (so it never prices on a feed older than its call), shared by every caller waiting then:
        however many quotes run at once, at most two reads are under way."""
        if self._redis is None:
            return self.state
        if not force and time.monotonic() - self._read_at < self._refresh_s:
            return self.state
        called = time.monotonic()
        while True:
            reading = self._reading
            if reading is None:
                self._reading_since = time.monotonic()
                reading = self._reading = asyncio.ensure_future(self._read(self._reading_since))
                return await asyncio.shield(reading)
            if self._reading_since >= called:
                return await asyncio.shield(reading)
            await asyncio.shield(reading)  # it began before this call: wait for it, then take the next one
            if not force and self._refresh_s > 0 and time.monotonic() - self._read_at < self._refresh_s:
                return self.state

    async def _read(self, since: float) -> FeedState:
        assert self._redis is not None
        try:
            raw = await cast("Awaitable[dict[bytes, bytes]]", self._redis.hgetall(self._key))
        except (OSError, RedisError) as exc:
            # Quotes go on with what was last read (a launch or set price shows once Redis answers).
            log.warning("the simulated market's feed could not be read (%r); pricing on the last read", exc)
            return self.state
        finally:
            self._reading = None
        self._read_at = since
        self.reads += 1
        self.state = _parse(raw)
        return self.state

    async def launch(self, base: Token, quote: Token, price: Decimal, opens_at: float) -> None:
        """Launch a pool for ``base``/``quote`` on every simulated DEX, open from ``opens_at`` (unix seconds)."""
        low, high = sorted((base.mint, quote.mint))
        doc = {"base": base.mint, "quote": quote.mint, "price": str(price), "opensAt": opens_at}
        await self._write({f"launch:{low}:{high}": orjson.dumps(doc)})

    async def launched(self, base: Token, quote: Token) -> bool:
        """Whether a pool for the two tokens is launched, as the feed says now (read afresh)."""
        state = await self.refresh(force=True)
        return frozenset((base.mint, quote.mint)) in state.launches

    async def set_prices(self, prices_usd: Mapping[str, Decimal], *, steady: bool | None = None) -> None:
        """Fix tokens' USD prices (by symbol); ``steady`` puts both DEXes at the same price (or back apart)."""
        fields: dict[str, bytes] = {f"price:{symbol}": str(p).encode() for symbol, p in prices_usd.items()}
        if steady is not None:
            fields["steady"] = b"1" if steady else b"0"
        await self._write(fields)

    async def forget_launch(self, base: Token, quote: Token) -> None:
        """Take a launched pool away again (the pair has no pool until it is launched anew)."""
        low, high = sorted((base.mint, quote.mint))
        redis = self._need_redis()
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self._key, f"launch:{low}:{high}")
            pipe.hincrby(self._key, "version", 1)
            await pipe.execute()

    async def forget_prices(self, symbols: list[str]) -> None:
        """Let these tokens' prices drift again."""
        redis = self._need_redis()
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self._key, *(f"price:{s}" for s in symbols))
            pipe.hincrby(self._key, "version", 1)
            await pipe.execute()

    async def clear(self) -> None:
        """Forget every launch and set price (the version keeps counting)."""
        redis = self._need_redis()
        known = await cast("Awaitable[list[bytes]]", redis.hkeys(self._key))
        fields = [f.decode() for f in known if f != b"version"]
        async with redis.pipeline(transaction=True) as pipe:
            if fields:
                pipe.hdel(self._key, *fields)
            pipe.hincrby(self._key, "version", 1)
            await pipe.execute()

    async def _write(self, fields: Mapping[str, bytes]) -> None:
        redis = self._need_redis()
        async with redis.pipeline(transaction=True) as pipe:
            if fields:
                pipe.hset(self._key, mapping=dict(fields))
            pipe.hincrby(self._key, "version", 1)
            await pipe.execute()

    def _need_redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("this simulated market has no shared feed")
        return self._redis
