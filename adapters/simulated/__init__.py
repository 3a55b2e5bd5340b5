"""The simulated venue: Raydium- and Meteora-like DEXes over a drifting market, and a ledger in Redis.

:func:`build_sim` is the only entry point a composition root needs.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from solders.keypair import Keypair

from adapters.simulated.config import SimConfig
from adapters.simulated.dex import SimDex
from adapters.simulated.ledger import SimLedger
from adapters.simulated.market import Clock, SimMarket
from kernel.settings import Settings
from kernel.tokens import TokenRegistry

__all__ = ["SimConfig", "SimDex", "SimLedger", "SimMarket", "build_sim"]


def build_sim(
    settings: Settings, redis: aioredis.Redis, keypair: Keypair, *, clock: Clock = time.time
) -> tuple[list[SimDex], SimLedger]:
    """Every simulated DEX and the ledger, sharing one market so fills move the pools quotes read.

    Build once per process. ``redis`` stays the caller's to close; ``keypair`` signs transactions.
    """
    config = SimConfig.from_settings(settings)
    market = SimMarket(TokenRegistry.for_network(settings.solana_network), config, clock=clock)
    dexes = [SimDex(name, market, config) for name in market.dexes]
    return dexes, SimLedger(market, redis, config, keypair)
