"""The composition of venues from settings: which DEX adapters and which settlement venue to run.

Only composition roots (the worker's start-up, the CLI) call this. It maps the configured network to
the adapter family that serves it; the engine receives the built objects and never names a class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from solders.keypair import Keypair

from kernel.settings import Network, Settings
from kernel.tokens import TokenRegistry
from kernel.venues import DexAdapter, SettlementVenue


@dataclass
class Venues:
    """What a worker executes against."""

    dexes: Sequence[DexAdapter]
    settlement: SettlementVenue
    tokens: TokenRegistry
    note: str = ""

    async def aclose(self) -> None:
        for dex in self.dexes:
            await dex.aclose()
        await self.settlement.aclose()


def build_venues(settings: Settings, redis: aioredis.Redis, signer: Keypair | None = None) -> Venues:
    """The venues for ``settings``. ``signer`` is the wallet; a network other than ``simulated`` needs one."""
    from adapters.simulated import build_simulated

    tokens = TokenRegistry.for_network(settings.solana_network)
    if settings.routing not in ("simulated", "onchain"):
        raise ValueError(f"ROUTING must be simulated or onchain, not {settings.routing!r}")
    if settings.routing == "onchain" and settings.solana_network is Network.SIMULATED:
        raise ValueError("ROUTING=onchain needs a Solana network: set SOLANA_NETWORK=localnet, devnet or mainnet-beta")
    # Routing is simulated on every network until on-chain pool adapters are configured; the simulated
    # ledger also settles what the chain cannot (an unfunded wallet and a rate-limited faucet).
    dexes, ledger = build_simulated(settings, redis, signer or Keypair())
    enabled = [d for d in dexes if d.name in settings.enabled_dexes]
    if not enabled:
        raise ValueError(f"ENABLED_DEXES names no known DEX: {settings.enabled_dexes}")
    if settings.solana_network is Network.SIMULATED:
        return Venues(enabled, ledger, tokens, note="simulated DEXes and a simulated ledger")
    if signer is None:
        raise ValueError(
            f"SOLANA_NETWORK={settings.solana_network.value} needs a wallet: set SOLANA_PRIVATE_KEY or "
            "SOLANA_KEYPAIR_PATH (oee wallet setup creates one)"
        )
    if settings.routing == "onchain":
        return _onchain(settings, signer, tokens)
    from adapters.chain import build_chain_settlement

    settlement = build_chain_settlement(settings, signer, ledger)
    note = (
        f"simulated routing, settlement on {settings.solana_network.value} at {settings.rpc_url} "
        f"from wallet {signer.pubkey()}; transactions carry the simulated fill in their memo and move no tokens"
    )
    return Venues(enabled, settlement, tokens, note=note)


def _onchain(settings: Settings, signer: Keypair, tokens: TokenRegistry) -> Venues:
    """Raydium CPMM and Meteora DLMM pools quote; the chosen one builds the swap the transaction lands."""
    from adapters.chain import ChainConfig, ChainRpc, SolanaSettlement
    from adapters.meteora_dlmm import MeteoraDlmmAdapter
    from adapters.pools import PoolBook
    from adapters.raydium_cpmm import RaydiumCpmmAdapter
    from kernel.venues import OnChainDex

    config = ChainConfig.from_settings(settings)
    book = PoolBook.load(settings.solana_network, settings.pools_file, settings.pools_json)
    # Each adapter owns its RPC client (and closes it); settlement has its own.
    candidates: list[OnChainDex] = [
        RaydiumCpmmAdapter(ChainRpc(config), book, tokens),
        MeteoraDlmmAdapter(ChainRpc(config), book, tokens),
    ]
    dexes = {d.name: d for d in candidates if d.name in settings.enabled_dexes}
    if not dexes:
        raise ValueError(f"ENABLED_DEXES names no known DEX: {settings.enabled_dexes}")
    chain = SolanaSettlement(config, ChainRpc(config), signer, swaps=dexes)
    note = (
        f"Raydium CPMM and Meteora DLMM pools on {settings.solana_network.value} at {settings.rpc_url}, "
        f"wallet {signer.pubkey()}"
    )
    # No simulated fallback here: a real quote must not be "filled" on the simulated ledger. An unfunded
    # wallet fails the order, saying so.
    return Venues(list(dexes.values()), chain, tokens, note=note)
