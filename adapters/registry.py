"""The composition of adapters from settings: which DEX adapters, which settlement venue, which pair watchers.

Only composition roots (the worker's, the API's and the watcher's start-up, the CLI) call this. Two tables
decide everything: :data:`FAMILIES` maps the routing mode (:class:`~kernel.settings.Routing`) to the builders of
its adapter family, and :func:`onchain_dexes` lists the on-chain DEXes, each with its adapter and its watcher.
A new DEX is one row of that list; the engine receives the built objects and never names a class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from solders.keypair import Keypair

from kernel.settings import Network, Routing, Settings
from kernel.tokens import KnownTokens, TokenRegistry, TokenSource
from kernel.venues import DexAdapter, OnChainDex, SettlementVenue
from kernel.watching import PairWatcher, PoolLauncher

if TYPE_CHECKING:
    from adapters.pools import PoolBook
    from adapters.solana.config import ChainConfig
    from adapters.solana.rpc import ChainRpc


@dataclass
class WorkerAdapters:
    """What a worker executes against: the DEXes it routes over and the venue its transactions settle on."""

    dexes: Sequence[DexAdapter]
    settlement: SettlementVenue
    tokens: TokenRegistry
    note: str = ""

    async def aclose(self) -> None:
        for dex in self.dexes:
            await dex.aclose()
        await self.settlement.aclose()


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


@dataclass(frozen=True, slots=True)
class OnChainDexKind:
    """One on-chain DEX: how its adapter is built over an RPC client, the pool book and the tokens, and how a
    pair watcher is built over that adapter (with the PubSub URL the watcher listens on)."""

    name: str
    adapter: Callable[[ChainRpc, PoolBook, TokenRegistry], OnChainDex]
    watcher: Callable[[OnChainDex, str], PairWatcher]


def onchain_dexes() -> tuple[OnChainDexKind, ...]:
    """Every on-chain DEX the engine can route through: the one list a new DEX joins."""
    from adapters.dexes.meteora_damm_v2 import MeteoraDammV2Adapter
    from adapters.dexes.meteora_damm_v2.watch import MeteoraDammV2Watcher
    from adapters.dexes.meteora_dlmm import MeteoraDlmmAdapter
    from adapters.dexes.meteora_dlmm.watch import MeteoraDlmmWatcher
    from adapters.dexes.orca_whirlpool import OrcaWhirlpoolAdapter
    from adapters.dexes.orca_whirlpool.watch import OrcaWhirlpoolWatcher
    from adapters.dexes.raydium_amm_v4 import RaydiumAmmV4Adapter
    from adapters.dexes.raydium_amm_v4.watch import RaydiumAmmV4Watcher
    from adapters.dexes.raydium_clmm import RaydiumClmmAdapter
    from adapters.dexes.raydium_clmm.watch import RaydiumClmmWatcher
    from adapters.dexes.raydium_cpmm import RaydiumCpmmAdapter
    from adapters.dexes.raydium_cpmm.watch import RaydiumCpmmWatcher

    return (
        OnChainDexKind(
            RaydiumCpmmAdapter.name,
            RaydiumCpmmAdapter,
            lambda dex, url: RaydiumCpmmWatcher(dex, pubsub_url=url, owns_adapter=True),  # type: ignore[arg-type]
        ),
        OnChainDexKind(
            MeteoraDlmmAdapter.name,
            MeteoraDlmmAdapter,
            lambda dex, url: MeteoraDlmmWatcher(dex, pubsub_url=url, owns_adapter=True),  # type: ignore[arg-type]
        ),
        OnChainDexKind(
            RaydiumAmmV4Adapter.name,
            RaydiumAmmV4Adapter,
            lambda dex, url: RaydiumAmmV4Watcher(dex, pubsub_url=url, owns_adapter=True),  # type: ignore[arg-type]
        ),
        OnChainDexKind(
            MeteoraDammV2Adapter.name,
            MeteoraDammV2Adapter,
            lambda dex, url: MeteoraDammV2Watcher(dex, pubsub_url=url, owns_adapter=True),  # type: ignore[arg-type]
        ),
        OnChainDexKind(
            RaydiumClmmAdapter.name,
            RaydiumClmmAdapter,
            lambda dex, url: RaydiumClmmWatcher(dex, pubsub_url=url, owns_adapter=True),  # type: ignore[arg-type]
        ),
        OnChainDexKind(
            OrcaWhirlpoolAdapter.name,
            OrcaWhirlpoolAdapter,
            lambda dex, url: OrcaWhirlpoolWatcher(dex, pubsub_url=url, owns_adapter=True),  # type: ignore[arg-type]
        ),
    )


@dataclass(frozen=True, slots=True)
class Family:
    """The builders of one routing mode's adapters."""

    tokens: Callable[[Settings], TokenRegistry]
    worker: Callable[[Settings, aioredis.Redis, Keypair | None], WorkerAdapters]
    quoting: Callable[[Settings, aioredis.Redis | None], Quoting]
    watchers: Callable[[Settings, aioredis.Redis | None], list[PairWatcher]]
    launcher: Callable[[Settings, aioredis.Redis], PoolLauncher | None]


# --- simulated routing: the simulated DEXes quote; the simulated ledger or a chain settles ---------------


def _simulated_tokens(settings: Settings) -> TokenRegistry:
    """The network's tokens and the launch tokens, whose pools exist only once launched (what snipers wait for)."""
    from adapters.simulated import simulated_tokens

    return simulated_tokens(settings)


def _enabled(dexes: Sequence[DexAdapter], settings: Settings) -> list[DexAdapter]:
    enabled = [d for d in dexes if d.name in settings.enabled_dexes]
    if not enabled:
        raise ValueError(f"ENABLED_DEXES names no known DEX: {settings.enabled_dexes}")
    return enabled


def _simulated_worker(settings: Settings, redis: aioredis.Redis, signer: Keypair | None) -> WorkerAdapters:
    from adapters.simulated import build_simulated

    tokens = _simulated_tokens(settings)
    # The simulated ledger also settles what the chain cannot (an unfunded wallet, a rate-limited faucet).
    dexes, ledger = build_simulated(settings, redis, signer or Keypair())
    enabled = _enabled(dexes, settings)
    if settings.solana_network is Network.SIMULATED:
        return WorkerAdapters(enabled, ledger, tokens, note="simulated DEXes and a simulated ledger")
    from adapters.settlement import build_chain_settlement

    signer = _signer(settings, signer)
    settlement = build_chain_settlement(settings, signer, ledger)
    note = (
        f"simulated routing, settlement on {settings.solana_network.value} at {settings.rpc_url} "
        f"from wallet {signer.pubkey()}; transactions carry the simulated fill in their memo and move no tokens"
    )
    return WorkerAdapters(enabled, settlement, tokens, note=note)


def _simulated_quoting(settings: Settings, redis: aioredis.Redis | None) -> Quoting:
    from adapters.simulated import SimulatedConfig, SimulatedDex, SimulatedMarket, market_feed
    from adapters.simulated.feed import LAUNCH_MINTS
    from adapters.simulated.market import REFERENCE_USD

    tokens = _simulated_tokens(settings)
    config = SimulatedConfig.from_settings(settings)
    market = SimulatedMarket(tokens, config, feed=market_feed(settings, redis))
    enabled = _enabled([SimulatedDex(name, market, config) for name in market.dexes], settings)
    # Launch tokens trade once their pool is launched (until then every DEX answers that it has no pool).
    priced = [t.mint for t in tokens if t.symbol in REFERENCE_USD or t.mint in LAUNCH_MINTS]
    # The simulated ledger executes plans; a chain settling simulated routes writes one swap per transaction.
    plans = settings.solana_network is Network.SIMULATED
    pairs = frozenset(frozenset(pair) for pair in combinations(priced, 2))
    return Quoting(enabled, pairs, tokens=KnownTokens(tokens), plans=plans)


def _simulated_watchers(settings: Settings, redis: aioredis.Redis | None) -> list[PairWatcher]:
    from adapters.simulated import build_simulated

    if redis is None:
        raise ValueError("simulated watchers read the market feed through Redis")
    simulated, _ = build_simulated(settings, redis, Keypair())
    return [d for d in _enabled(simulated, settings) if isinstance(d, PairWatcher)]


def _simulated_launcher(settings: Settings, redis: aioredis.Redis) -> PoolLauncher | None:
    from adapters.simulated import market_feed

    return market_feed(settings, redis)


# --- on-chain routing: the DEXes' own pools quote; the chosen one builds the swap the transaction lands ----


def _chain_tokens(settings: Settings) -> TokenRegistry:
    return TokenRegistry.for_network(settings.solana_network)


def _signer(settings: Settings, signer: Keypair | None) -> Keypair:
    if signer is None:
        raise ValueError(
            f"SOLANA_NETWORK={settings.solana_network.value} needs a wallet: set SOLANA_PRIVATE_KEY or "
            "SOLANA_KEYPAIR_PATH (oee wallet setup creates one)"
        )
    return signer


def _book(settings: Settings) -> PoolBook:
    from adapters.pools import PoolBook

    return PoolBook.load(settings.solana_network, settings.pools_file, settings.pools_json)


def _onchain_adapters(
    settings: Settings, config: ChainConfig, book: PoolBook
) -> dict[str, tuple[OnChainDex, OnChainDexKind]]:
    from adapters.solana.rpc import ChainRpc

    tokens = _chain_tokens(settings)
    # Each adapter owns its RPC client (and closes it); settlement has its own.
    built = {
        k.name: (k.adapter(ChainRpc(config), book, tokens), k)
        for k in onchain_dexes()
        if k.name in settings.enabled_dexes
    }
    if not built:
        raise ValueError(f"ENABLED_DEXES names no known DEX: {settings.enabled_dexes}")
    return built


def _onchain_worker(settings: Settings, redis: aioredis.Redis, signer: Keypair | None) -> WorkerAdapters:
    from adapters.settlement import SolanaSettlement
    from adapters.solana.config import ChainConfig
    from adapters.solana.rpc import ChainRpc

    signer = _signer(settings, signer)
    config = ChainConfig.from_settings(settings)
    dexes = {name: dex for name, (dex, _) in _onchain_adapters(settings, config, _book(settings)).items()}
    chain = SolanaSettlement(config, ChainRpc(config), signer, swaps=dexes)
    names = ", ".join(dexes)
    note = f"{names} pools on {settings.solana_network.value} at {settings.rpc_url}, wallet {signer.pubkey()}"
    # No simulated fallback here: a real quote must not be "filled" on the simulated ledger. An unfunded
    # wallet fails the order, saying so.
    return WorkerAdapters(list(dexes.values()), chain, _chain_tokens(settings), note=note)


def _onchain_quoting(settings: Settings, redis: aioredis.Redis | None) -> Quoting:
    from adapters.onchain_dex.tokens import ChainTokens
    from adapters.settlement import SolanaSettlement
    from adapters.solana.config import ChainConfig
    from adapters.solana.rpc import ChainRpc
    from kernel.routes import executes_plans

    tokens = _chain_tokens(settings)
    book = _book(settings)
    chain = ChainConfig.from_settings(settings)
    dexes = [dex for dex, _ in _onchain_adapters(settings, chain, book).values()]
    source = ChainTokens(ChainRpc(chain), tokens, owns_rpc=True)
    discovers = any(getattr(getattr(d, "config", None), "discover", False) for d in dexes)
    plans = executes_plans(SolanaSettlement)
    names = {d.name for d in dexes}
    pairs = frozenset(p.mints for p in book.pools if p.dex in names)
    pairs = _with_hops(pairs, settings, tokens) if plans else pairs
    return Quoting(dexes, pairs, tokens=source, discovers=discovers, plans=plans)


def _onchain_watchers(settings: Settings, redis: aioredis.Redis | None) -> list[PairWatcher]:
    """Each a watcher over its own adapter and RPC client (its ``aclose`` closes both), pushed by the cluster's
    PubSub WebSocket (derived from the RPC URL: ``ws``/``wss``, the port after an explicit one) and polling
    while that is down."""
    from adapters.solana.config import ChainConfig
    from adapters.solana.pubsub import pubsub_url_for

    config = ChainConfig.from_settings(settings)
    url = pubsub_url_for(config.rpc_url)
    return [kind.watcher(dex, url) for dex, kind in _onchain_adapters(settings, config, _book(settings)).values()]


def _no_launcher(settings: Settings, redis: aioredis.Redis) -> PoolLauncher | None:
    return None  # pools on a chain are launched on the chain, not by the engine


FAMILIES: dict[Routing, Family] = {
    Routing.SIMULATED: Family(_simulated_tokens, _simulated_worker, _simulated_quoting, _simulated_watchers,
                              _simulated_launcher),
    Routing.ONCHAIN: Family(_chain_tokens, _onchain_worker, _onchain_quoting, _onchain_watchers, _no_launcher),
}  # fmt: skip


def _family(settings: Settings) -> Family:
    if settings.routing is Routing.ONCHAIN and settings.solana_network is Network.SIMULATED:
        raise ValueError("ROUTING=onchain needs a Solana network: set SOLANA_NETWORK=localnet, devnet or mainnet-beta")
    return FAMILIES[settings.routing]


def build_worker_adapters(settings: Settings, redis: aioredis.Redis, signer: Keypair | None = None) -> WorkerAdapters:
    """The adapters a worker executes against. ``signer`` is the wallet: every network but ``simulated`` needs one."""
    return _family(settings).worker(settings, redis, signer)


def build_quoting(settings: Settings, redis: aioredis.Redis | None = None) -> Quoting:
    """The DEXes of ``settings`` for quoting only, as the worker would route across them. ``redis`` shares the
    simulated market's feed (launched pools, set prices) with the other processes."""
    return _family(settings).quoting(settings, redis)


def build_watchers(settings: Settings, redis: aioredis.Redis | None = None) -> list[PairWatcher]:
    """The enabled DEXes of ``settings`` that can watch pairs for waiting orders (:class:`PairWatcher`)."""
    return _family(settings).watchers(settings, redis)


def build_pool_launcher(settings: Settings, redis: aioredis.Redis) -> PoolLauncher | None:
    """Where a simulated pool launch is written for every process to see; None unless routing is simulated."""
    return _family(settings).launcher(settings, redis)


def tokens_for(settings: Settings) -> TokenRegistry:
    """The tokens orders may name."""
    return _family(settings).tokens(settings)


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
