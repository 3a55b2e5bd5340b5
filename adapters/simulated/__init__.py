"""The simulated venue: Raydium- and Meteora-like DEXes over a drifting market, and a ledger in Redis.

:func:`build_simulated` is the only entry point a composition root needs.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from solders.keypair import Keypair

from adapters.simulated.config import SimulatedConfig
from adapters.simulated.dex import SimulatedDex
from adapters.simulated.feed import LAUNCH_TOKENS, MarketFeed
from adapters.simulated.ledger import SimulatedLedger
from adapters.simulated.market import Clock, SimulatedMarket
from kernel.settings import Settings
from kernel.tokens import TokenRegistry

__all__ = [
    "LAUNCH_TOKENS",
    "MarketFeed",
    "SimulatedConfig",
    "SimulatedDex",
    "SimulatedLedger",
    "SimulatedMarket",
    "build_simulated",
    "market_feed",
    "simulated_tokens",
]


def simulated_tokens(settings: Settings) -> TokenRegistry:
    """The network's tokens and the launch tokens, which have a pool only once one is launched."""
    return TokenRegistry.for_network(settings.solana_network, extra=LAUNCH_TOKENS)


def market_feed(settings: Settings, redis: aioredis.Redis | None) -> MarketFeed:
    """The deployment's shared feed (launches, set prices), read through ``redis``; empty without one."""
    config = SimulatedConfig.from_settings(settings)
    return MarketFeed(redis, f"{settings.namespace}:simulated-market", refresh_s=config.feed_refresh_s)


def build_simulated(
    settings: Settings, redis: aioredis.Redis, keypair: Keypair, *, clock: Clock = time.time
) -> tuple[list[SimulatedDex], SimulatedLedger]:
    """Every simulated DEX and the ledger, sharing one market so fills move the pools quotes read.

    Build once per process. ``redis`` stays the caller's to close; ``keypair`` signs transactions.
    """
    config = SimulatedConfig.from_settings(settings)
    market = SimulatedMarket(simulated_tokens(settings), config, clock=clock, feed=market_feed(settings, redis))
    dexes = [SimulatedDex(name, market, config) for name in market.dexes]
    return dexes, SimulatedLedger(market, redis, config, keypair)
