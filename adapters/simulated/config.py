"""Knobs of the simulated venue, taken once from :class:`kernel.settings.Settings`."""

from __future__ import annotations

import random
from dataclasses import dataclass

from kernel.settings import Settings


@dataclass(frozen=True, slots=True)
class LatencySpan:
    """A latency drawn uniformly from ``[low_ms, high_ms]`` (whole milliseconds)."""

    low_ms: int
    high_ms: int

    def __post_init__(self) -> None:
        if self.low_ms < 0 or self.high_ms < self.low_ms:
            raise ValueError(f"bad latency span {self.low_ms}-{self.high_ms} ms")

    def draw_ms(self, rng: random.Random) -> int:
        """One latency, in milliseconds."""
        if self.high_ms == self.low_ms:
            return self.low_ms
        return rng.randint(self.low_ms, self.high_ms)


@dataclass(frozen=True, slots=True)
class SimulatedConfig:
    """How the simulated DEXes and the simulated chain behave.

    ``pool_depth_usd`` is the liquidity of each pool per side; ``relax_time_s`` is how fast a pool
    returns to its reference price after a fill (arbitrageurs closing the gap), as a time constant.
    """

    quote_latency: LatencySpan = LatencySpan(200, 200)
    execution_latency: LatencySpan = LatencySpan(2000, 3000)
    failure_rate: float = 0.0
    drop_rate: float = 0.0
    tx_ttl_ms: int = 10_000
    pool_depth_usd: int = 5_000_000
    seed: int = 7
    relax_time_s: float = 2.0
    watch_poll_s: float = 0.25
    feed_refresh_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("failure_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.tx_ttl_ms <= 0 or self.pool_depth_usd <= 0 or self.relax_time_s <= 0:
            raise ValueError("tx_ttl_ms, pool_depth_usd and relax_time_s must be positive")

    @classmethod
    def from_settings(cls, settings: Settings) -> SimulatedConfig:
        """The ``simulated_*`` settings, as one immutable value."""
        quote = settings.simulated_quote_latency_ms
        execution = settings.simulated_execution_latency_ms
        return cls(
            quote_latency=LatencySpan(quote.low_ms, quote.high_ms),
            execution_latency=LatencySpan(execution.low_ms, execution.high_ms),
            failure_rate=settings.simulated_failure_rate,
            drop_rate=settings.simulated_drop_rate,
            tx_ttl_ms=settings.simulated_tx_ttl_ms,
            pool_depth_usd=settings.simulated_pool_depth_usd,
            seed=settings.simulated_seed,
            watch_poll_s=settings.simulated_watch_poll_ms / 1000,
            feed_refresh_s=settings.simulated_feed_refresh_ms / 1000,
        )
