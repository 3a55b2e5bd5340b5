"""Watching Raydium AMM v4 pairs: snapshots priced with no I/O, new pools found, ``pool_open_time`` respected.

A pair's pools are the configured ones, else what a ``getProgramAccounts`` search found (run every
``search_interval_s`` while none is known). AMM v4 pools sit at addresses made from their OpenBook market,
so unlike CPMM there is no address to watch for a pool not yet created. A pool in status 7 (WaitingTrade)
swaps once the block's unix time reaches its ``pool_open_time``: until then ``opens`` says when, and the
Clock is watched too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey

from adapters.dexes.raydium_amm_v4.adapter import RaydiumAmmV4Adapter
from adapters.dexes.raydium_amm_v4.client import PoolSnapshot, pool_accounts
from adapters.dexes.raydium_amm_v4.config import MAX_POOLS_PER_QUOTE, ProgramBuild
from adapters.dexes.raydium_amm_v4.layouts import AmmInfo, AmmStatus
from adapters.dexes.raydium_amm_v4.math import swaps_without_book
from adapters.dexes.raydium_amm_v4.pricing import price_snapshots
from adapters.onchain_dex.adapter import best_priced
from adapters.onchain_dex.watching import ChainPairWatcher, ChainSnapshot, PairWatch, Read
from adapters.solana.accounts import CLOCK_SYSVAR, Clock, read_clock
from adapters.solana.errors import DiscoveryRefused
from kernel.errors import FatalError
from kernel.tokens import Token
from kernel.venues import Quote
from kernel.watching import Activation, ChainTime

# A pool seen for the first time needs its vaults and mints read with it: one more batch, once.
_ROUNDS = 2


@dataclass(slots=True)
class AmmV4PairSnapshot(ChainSnapshot):
    """A pair's AMM v4 pools as read in one batch at ``clock``."""

    adapter: RaydiumAmmV4Adapter
    clock: Clock
    pools: tuple[PoolSnapshot, ...]

    def _quote(self, amount_in: int) -> Quote:
        build = self.adapter.config.build
        results = price_snapshots(self.clock, self.pools, self.token_in, self.token_out, amount_in, build)
        return self.adapter._as_quote(best_priced(results), self.token_in, self.token_out, 0)


class RaydiumAmmV4Watcher(ChainPairWatcher[RaydiumAmmV4Adapter]):
    """Implements :class:`kernel.watching.PairWatcher` for Raydium AMM v4."""

    def __init__(self, adapter: RaydiumAmmV4Adapter, **options: Any) -> None:
        super().__init__(adapter, **options)
        self._states: dict[Pubkey, AmmInfo] = {}

    async def _search(self, pair: PairWatch) -> None:
        self.search_started(pair)
        pair.calls += 1  # the search is two getProgramAccounts: one per coin/pc order
        try:
            found = await self.adapter.client.program_pools(*pair.mints)
        except DiscoveryRefused:
            found = {}  # the node refuses the search: only configured pools can be watched
        self._states.update(found)
        pair.search.found = tuple(sorted(found, key=str))

    async def _read(self, pair: PairWatch, token_in: Token, token_out: Token) -> Read:
        configured = self.configured(token_in, token_out)
        if not configured:
            await self.search_if_due(pair)
        candidates = _unique(configured or pair.search.found)[:MAX_POOLS_PER_QUOTE]
        fetched: dict[Pubkey, Account | None] = {}
        for _ in range(_ROUNDS):
            keys = _unique([CLOCK_SYSVAR, *candidates, *(k for a in candidates for k in self._accounts_of(a))])
            fetched = dict(zip(keys, await self.accounts(pair, keys), strict=True))
            if not self._learn(candidates, fetched, {token_in.mint, token_out.mint}):
                break
        clock = read_clock(fetched[CLOCK_SYSVAR])
        client = self.adapter.client
        pools = tuple(client.snapshot(a, self._states[a], fetched) for a in candidates if fetched.get(a) is not None)
        opens, pool = _activation(pools, clock, self.adapter.config.build)
        watch = set(fetched) - {CLOCK_SYSVAR}
        if opens is not None:
            watch.add(CLOCK_SYSVAR)  # the pool opens with time, not with a write: wake every slot until then
        now = ChainTime(clock.slot, clock.unix_timestamp)
        snapshot = AmmV4PairSnapshot(
            self.name, self.adapter.label, token_in, token_out, pool, opens, now, 0, self.adapter, clock, pools
        )
        return Read(snapshot, frozenset(watch), fetched)

    def _accounts_of(self, address: Pubkey) -> tuple[Pubkey, ...]:
        state = self._states.get(address)
        return () if state is None else pool_accounts(state)

    def _learn(self, candidates: list[Pubkey], fetched: dict[Pubkey, Account | None], mints: set[str]) -> bool:
        """Decode the pools read; True when one points at accounts this batch did not hold."""
        unknown = False
        for address in candidates:
            account = fetched.get(address)
            if account is None:
                continue
            state = self.adapter.client.decode_pool(address, account)
            if {str(state.coin_vault_mint), str(state.pc_vault_mint)} != mints:
                raise FatalError(f"pool {address} trades {state.coin_vault_mint}/{state.pc_vault_mint}, not this pair")
            self._states[address] = state
            unknown = unknown or any(k not in fetched for k in self._accounts_of(address))
        return unknown


def _activation(
    pools: Iterable[PoolSnapshot], clock: Clock, build: ProgramBuild
) -> tuple[Activation | None, str | None]:
    """``(opens, pool)``: no activation once some pool takes swaps (that pool is named), else the earliest
    ``pool_open_time`` of the pools waiting to open; ``pool`` None with no pool at all."""
    pools = list(pools)
    waiting = [p for p in pools if p.state.status == AmmStatus.WAITING_TRADE]
    open_now = [
        p for p in pools if p.state.status != AmmStatus.WAITING_TRADE and swaps_without_book(p.state.status, build)
    ] + [p for p in waiting if clock.unix_timestamp >= p.state.state_data.pool_open_time]
    if open_now:
        return None, str(open_now[0].address)
    if waiting:
        first = min(waiting, key=lambda p: p.state.state_data.pool_open_time)
        return Activation(unix_time=first.state.state_data.pool_open_time), str(first.address)
    return None, str(pools[0].address) if pools else None


def _unique(keys: Iterable[Pubkey]) -> list[Pubkey]:
    return list(dict.fromkeys(keys))
