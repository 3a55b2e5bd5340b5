"""The simulated DEXes, ready for the contract suite."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from solders.keypair import Keypair

from adapters.simulated import build_simulated
from kernel.settings import Settings
from kernel.tokens import Token, TokenRegistry
from kernel.venues import DexAdapter


@contextlib.asynccontextmanager
async def adapter_under_test(dex: str) -> AsyncIterator[tuple[DexAdapter, Token, Token, int]]:
    settings = Settings(_env_file=None, simulated_quote_latency_ms="0")  # type: ignore[call-arg]
    client = aioredis.Redis()  # never contacted: quoting touches no ledger
    dexes, _ = build_simulated(settings, client, Keypair())
    tokens = TokenRegistry.for_network(settings.solana_network)
    sol, usdc = tokens.resolve("SOL"), tokens.resolve("USDC")
    assert sol is not None and usdc is not None
    try:
        yield next(d for d in dexes if d.name == dex), sol, usdc, 1_500_000_000
    finally:
        await client.aclose()
