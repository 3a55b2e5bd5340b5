"""Watching Raydium CPMM pairs: snapshots priced with no I/O, new pools found, ``open_time`` respected.

A pair's pools are the configured ones, else its canonical pool PDAs (one per AmmConfig index the
config names: ``["pool", amm_config, mint_0, mint_1]``) plus what a ``getProgramAccounts`` search found.
The PDAs are read in every snapshot's batch, so a pool created there is seen in the very next snapshot
(and pushed, where the PDA is subscribed); the search runs every ``search_interval_s`` while none is
known. A pool swaps once the block's unix time reaches its ``open_time`` (cp-swap refuses
``block_timestamp < open_time``): until then ``opens`` says when, and the Clock is watched too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey

from adapters.dexes.raydium_cpmm.adapter import RaydiumCpmmAdapter
from adapters.dexes.raydium_cpmm.client import PoolSnapshot
from adapters.dexes.raydium_cpmm.config import MAX_POOLS_PER_QUOTE
from adapters.dexes.raydium_cpmm.instructions import config_address, pool_address
from adapters.dexes.raydium_cpmm.layouts import PoolState
from adapters.dexes.raydium_cpmm.pricing import price_snapshots
from adapters.onchain_dex.adapter import best_priced
from adapters.onchain_dex.watching import ChainPairWatcher, ChainSnapshot, PairWatch, Read
from adapters.solana.accounts import CLOCK_SYSVAR, Clock, read_clock
from adapters.solana.errors import DiscoveryRefused
from kernel.errors import FatalError
from kernel.tokens import Token
from kernel.venues import Quote
from kernel.watching import Activation, ChainTime

# A pool seen for the first time needs its vaults and config read with it: one more batch, once.
_ROUNDS = 2


@dataclass(slots=True)
class CpmmPairSnapshot(ChainSnapshot):
    """A pair's CPMM pools as read in one batch at ``clock``."""

    adapter: RaydiumCpmmAdapter
    clock: Clock
    pools: tuple[PoolSnapshot, ...]

    def _quote(self, amount_in: int) -> Quote:
        results = price_snapshots(self.clock, self.pools, self.token_in, self.token_out, amount_in)
        return self.adapter._as_quote(best_priced(results), self.token_in, self.token_out, 0)


class RaydiumCpmmWatcher(ChainPairWatcher[RaydiumCpmmAdapter]):
    """Implements :class:`kernel.watching.PairWatcher` for Raydium CPMM."""

    def __init__(self, adapter: RaydiumCpmmAdapter, **options: Any) -> None:
        super().__init__(adapter, **options)
        self._states: dict[Pubkey, PoolState] = {}

    def canonical(self, pair: PairWatch) -> list[Pubkey]:
        """The pair's pool PDAs under the configured AmmConfig indexes."""
        program = self.adapter.program_id
        return [
            pool_address(program, config_address(program, index), *pair.mints)
            for index in self.adapter.config.discovery_config_indexes
        ]

    async def _search(self, pair: PairWatch) -> None:
        self.search_started(pair)
        try:
            found = await self.adapter.client.program_pools(*pair.mints)
        except DiscoveryRefused:
            found = {}  # the node refuses the search: the canonical PDAs still show a new pool
        self._states.update(found)
        pair.search.found = tuple(sorted(found, key=str))

    async def _read(self, pair: PairWatch, token_in: Token, token_out: Token) -> Read:
        configured = self.configured(token_in, token_out)
        if not configured:
            await self.search_if_due(pair)
        candidates = _unique(configured or [*self.canonical(pair), *pair.search.found])[:MAX_POOLS_PER_QUOTE]
        fetched: dict[Pubkey, Account | None] = {}
        for _ in range(_ROUNDS):
            keys = _unique([CLOCK_SYSVAR, *candidates, *(k for a in candidates for k in self._accounts_of(a))])
            fetched = dict(zip(keys, await self.accounts(pair, keys), strict=True))
            if not self._learn(candidates, fetched, {token_in.mint, token_out.mint}):
                break
        clock = read_clock(fetched[CLOCK_SYSVAR])
        client = self.adapter.client
        pools = tuple(client._snapshot(a, self._states[a], fetched) for a in candidates if fetched.get(a) is not None)
        opens, pool = _activation(pools, clock)
        watch = set(fetched) - {CLOCK_SYSVAR}
        if opens is not None:
            watch.add(CLOCK_SYSVAR)  # the pool opens with time, not with a write: wake every slot until then
        now = ChainTime(clock.slot, clock.unix_timestamp)
        snapshot = CpmmPairSnapshot(
            self.name, self.adapter.label, token_in, token_out, pool, opens, now, 0, self.adapter, clock, pools
        )
        return Read(snapshot, frozenset(watch), fetched)

    def _accounts_of(self, address: Pubkey) -> tuple[Pubkey, ...]:
        state = self._states.get(address)
        if state is None:
            return ()
        return (state.amm_config, state.token_0_vault, state.token_1_vault, state.token_0_mint, state.token_1_mint)

    def _learn(self, candidates: list[Pubkey], fetched: dict[Pubkey, Account | None], mints: set[str]) -> bool:
        """Decode the pools read; True when one points at accounts this batch did not hold."""
        unknown = False
        for address in candidates:
            account = fetched.get(address)
            if account is None:
                continue
            state = self.adapter.client.decode_pool(address, account)
            if {str(state.token_0_mint), str(state.token_1_mint)} != mints:
                raise FatalError(f"pool {address} trades {state.token_0_mint}/{state.token_1_mint}, not this pair")
            self._states[address] = state
            unknown = unknown or any(k not in fetched for k in self._accounts_of(address))
        return unknown


def _activation(pools: Iterable[PoolSnapshot], clock: Clock) -> tuple[Activation | None, str | None]:
    """``(opens, pool)``: no activation once some pool takes swaps (that pool is named), else the earliest
    ``open_time`` of the pools waiting to open; ``pool`` None with no pool at all."""
    live = [p for p in pools if p.state.swap_enabled]
    open_now = [p for p in live if clock.unix_timestamp >= p.state.open_time]
    if open_now:
        return None, str(open_now[0].address)
    if live:
        first = min(live, key=lambda p: p.state.open_time)
        return Activation(unix_time=first.state.open_time), str(first.address)
    pools = list(pools)
    return None, str(pools[0].address) if pools else None


def _unique(keys: Iterable[Pubkey]) -> list[Pubkey]:
    return list(dict.fromkeys(keys))
