"""The composition of venues from settings: which DEX adapters and which settlement venue to run.

Only composition roots (the worker's start-up, the CLI) call this. It maps the configured network to
the adapter family that serves it; the engine receives the built objects and never names a class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from solders.keypair import Keypair

from kernel.settings import Network, Settings
from kernel.tokens import KnownTokens, TokenRegistry, TokenSource
from kernel.venues import DexAdapter, OnChainDex, SettlementVenue
from kernel.watching import PairWatcher, PoolLauncher

if TYPE_CHECKING:
    from adapters.pools import PoolBook
    from adapters.solana.config import ChainConfig


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

    tokens = tokens_for(settings)
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
    from adapters.pools import PoolBook

    config = ChainConfig.from_settings(settings)
    book = PoolBook.load(settings.solana_network, settings.pools_file, settings.pools_json)
    dexes = _onchain_dexes(settings, config, book, tokens)
    chain = SolanaSettlement(config, ChainRpc(config), signer, swaps=dexes)
    note = (
        f"Raydium CPMM and Meteora DLMM pools on {settings.solana_network.value} at {settings.rpc_url}, "
        f"wallet {signer.pubkey()}"
    )
    # No simulated fallback here: a real quote must not be "filled" on the simulated ledger. An unfunded
    # wallet fails the order, saying so.
    return Venues(list(dexes.values()), chain, tokens, note=note)


def _onchain_dexes(
    settings: Settings, config: ChainConfig, book: PoolBook, tokens: TokenRegistry
) -> dict[str, OnChainDex]:
    from adapters.chain import ChainRpc
    from adapters.meteora_dlmm import MeteoraDlmmAdapter
    from adapters.raydium_cpmm import RaydiumCpmmAdapter

    # Each adapter owns its RPC client (and closes it); settlement has its own.
    candidates: list[OnChainDex] = [
        RaydiumCpmmAdapter(ChainRpc(config), book, tokens),
        MeteoraDlmmAdapter(ChainRpc(config), book, tokens),
    ]
    dexes = {d.name: d for d in candidates if d.name in settings.enabled_dexes}
    if not dexes:
        raise ValueError(f"ENABLED_DEXES names no known DEX: {settings.enabled_dexes}")
    return dexes


@dataclass
class Quoting:
    """What an API process quotes with: the enabled DEXes and the pairs they trade, and where tokens named by
    mint are read (``tokens``: the chain, with on-chain routing). No wallet, no settlement.

    ``discovers``: the DEXes also look for pools of pairs the pool book does not list (on-chain routing
    with discovery on), so a pair of a token read from the chain is not refused before it is quoted."""

    dexes: Sequence[DexAdapter]
    pairs: frozenset[frozenset[str]]
    tokens: TokenSource | None = None
    discovers: bool = False
    plans: bool = False  # whether the workers' settlement executes splits and hops (kernel.routes.executes_plans)

    def trades(self, mint_a: str, mint_b: str) -> bool:
        """Whether some enabled DEX has a pool for the two mints."""
        return frozenset((mint_a, mint_b)) in self.pairs

    async def aclose(self) -> None:
        for dex in self.dexes:
            await dex.aclose()
        closer = getattr(self.tokens, "aclose", None)
        if closer is not None:
            await closer()


def tokens_for(settings: Settings) -> TokenRegistry:
    """The tokens orders may name: the network's, and with simulated routing the launch tokens, whose pools
    exist only once launched (what sniper orders wait for)."""
    if settings.routing == "onchain":
        return TokenRegistry.for_network(settings.solana_network)
    from adapters.simulated import simulated_tokens

    return simulated_tokens(settings)


def build_watchers(settings: Settings, redis: aioredis.Redis | None = None) -> list[PairWatcher]:
    """The enabled DEXes of ``settings`` that can watch pairs for waiting orders (:class:`PairWatcher`).

    On chain, each is a watcher over its own adapter and RPC client (its ``aclose`` closes both), pushed
    by the cluster's PubSub WebSocket (derived from the RPC URL: ``ws``/``wss``, the port after an explicit
    one) and polling while that is down. Simulated, the simulated DEXes, reading the shared market feed
    (launched pools, set prices) through ``redis``.
    """
    if settings.routing != "onchain":
        from adapters.simulated import build_simulated

        if redis is None:
            raise ValueError("simulated watchers read the market feed through Redis")
        simulated, _ = build_simulated(settings, redis, Keypair())
        return [d for d in simulated if d.name in settings.enabled_dexes and isinstance(d, PairWatcher)]
    from adapters.chain import ChainConfig
    from adapters.meteora_dlmm import MeteoraDlmmAdapter
    from adapters.meteora_dlmm.watch import MeteoraDlmmWatcher
    from adapters.pools import PoolBook
    from adapters.raydium_cpmm import RaydiumCpmmAdapter
    from adapters.raydium_cpmm.watch import RaydiumCpmmWatcher
    from adapters.solana.pubsub import pubsub_url_for

    config = ChainConfig.from_settings(settings)
    book = PoolBook.load(settings.solana_network, settings.pools_file, settings.pools_json)
    url = pubsub_url_for(config.rpc_url)
    watchers: list[PairWatcher] = []
    for dex in _onchain_dexes(settings, config, book, tokens_for(settings)).values():
        if isinstance(dex, RaydiumCpmmAdapter):
            watchers.append(RaydiumCpmmWatcher(dex, pubsub_url=url, owns_adapter=True))
        elif isinstance(dex, MeteoraDlmmAdapter):
            watchers.append(MeteoraDlmmWatcher(dex, pubsub_url=url, owns_adapter=True))
    return watchers


def build_pool_launcher(settings: Settings, redis: aioredis.Redis) -> PoolLauncher | None:
    """Where a simulated pool launch is written for every process to see; None unless routing is simulated."""
    if settings.routing == "onchain":
        return None
    from adapters.simulated import market_feed

    return market_feed(settings, redis)


def build_quoting(settings: Settings, redis: aioredis.Redis | None = None) -> Quoting:
    """The DEXes of ``settings`` for quoting only, as the worker would route across them. ``redis`` shares the
    simulated market's feed (launched pools, set prices) with the other processes."""
    from itertools import combinations

    tokens = tokens_for(settings)
    if settings.routing == "onchain":
        from adapters.chain import ChainConfig, ChainRpc, SolanaSettlement
        from adapters.onchain.tokens import ChainTokens
        from adapters.pools import PoolBook
        from kernel.routes import executes_plans

        book = PoolBook.load(settings.solana_network, settings.pools_file, settings.pools_json)
        chain = ChainConfig.from_settings(settings)
        dexes = _onchain_dexes(settings, chain, book, tokens)
        source = ChainTokens(ChainRpc(chain), tokens, owns_rpc=True)
        discovers = any(getattr(getattr(d, "config", None), "discover", False) for d in dexes.values())
        plans = executes_plans(SolanaSettlement)
        pairs = frozenset(p.mints for p in book.pools if p.dex in dexes)
        pairs = _with_hops(pairs, settings, tokens) if plans else pairs
        return Quoting(list(dexes.values()), pairs, tokens=source, discovers=discovers, plans=plans)
    from adapters.simulated import SimulatedConfig, SimulatedDex, SimulatedMarket, market_feed
    from adapters.simulated.feed import LAUNCH_MINTS
    from adapters.simulated.market import REFERENCE_USD

    config = SimulatedConfig.from_settings(settings)
    market = SimulatedMarket(tokens, config, feed=market_feed(settings, redis))
    enabled = [SimulatedDex(name, market, config) for name in market.dexes if name in settings.enabled_dexes]
    if not enabled:
        raise ValueError(f"ENABLED_DEXES names no known DEX: {settings.enabled_dexes}")
    # Launch tokens trade once their pool is launched (until then every DEX answers that it has no pool).
    priced = [t.mint for t in tokens if t.symbol in REFERENCE_USD or t.mint in LAUNCH_MINTS]
    # The simulated ledger executes plans; a chain settling simulated routes writes one swap per transaction.
    plans = settings.solana_network is Network.SIMULATED
    pairs = frozenset(frozenset(pair) for pair in combinations(priced, 2))
    return Quoting(enabled, pairs, tokens=KnownTokens(tokens), plans=plans)


def _with_hops(
    pairs: frozenset[frozenset[str]], settings: Settings, tokens: TokenRegistry
) -> frozenset[frozenset[str]]:
    """``pairs`` and every pair two of them join through one of ``ROUTE_INTERMEDIATES``."""
    found = set(pairs)
    for name in settings.route_intermediates:
        middle = tokens.resolve(name)
        if middle is None:
            continue
        ends = [next(iter(p - {middle.mint})) for p in pairs if middle.mint in p and len(p) == 2]
        found.update(frozenset((a, b)) for a in ends for b in ends if a != b)
    return frozenset(found)
