"""The simulated venue: Raydium- and Meteora-like DEXes over a drifting market, and a ledger in Redis.

:func:`build_simulated` is the only entry point a composition root needs.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from solders.keypair import Keypair

from adapters.simulated.config import SimulatedConfig
from adapters.simulated.dex import SimulatedDex
from adapters.simulated.ledger import SimulatedLedger
from adapters.simulated.market import Clock, SimulatedMarket
from kernel.settings import Settings
from kernel.tokens import TokenRegistry

__all__ = ["SimulatedConfig", "SimulatedDex", "SimulatedLedger", "SimulatedMarket", "build_simulated"]


def build_simulated(
    settings: Settings, redis: aioredis.Redis, keypair: Keypair, *, clock: Clock = time.time
) -> tuple[list[SimulatedDex], SimulatedLedger]:
    """Every simulated DEX and the ledger, sharing one market so fills move the pools quotes read.

    Build once per process. ``redis`` stays the caller's to close; ``keypair`` signs transactions.
    """
    config = SimulatedConfig.from_settings(settings)
    market = SimulatedMarket(TokenRegistry.for_network(settings.solana_network), config, clock=clock)
    dexes = [SimulatedDex(name, market, config) for name in market.dexes]
    return dexes, SimulatedLedger(market, redis, config, keypair)
