"""Watching Raydium CLMM pairs: snapshots priced with no I/O, new pools found, the open time respected.

A pair's pools are the configured ones, else its pool PDAs under the configured AmmConfigs plus what a
``getProgramAccounts`` search found. The PDAs are read in every snapshot's batch, so a pool created there is
seen in the very next snapshot; the search runs every ``search_interval_s`` while none is known. Each
direction reads what its quote reads (the pool, config, bitmap extension, mints and the tick arrays ahead of
the price that way); a batch that shows a pool seen for the first time, or a price moved to other tick arrays,
is read again whole. A pool swaps only once the block's unix time passes its ``open_time`` (the program
refuses it before): until then ``opens`` says when, and the Clock is watched too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey

from adapters.dexes.raydium_clmm.adapter import RaydiumClmmAdapter
from adapters.dexes.raydium_clmm.client import PoolSnapshot
from adapters.dexes.raydium_clmm.config import MAX_POOLS_PER_QUOTE
from adapters.dexes.raydium_clmm.layouts import PoolState, TickArrayBitmapExtension
from adapters.dexes.raydium_clmm.pricing import price_snapshots
from adapters.onchain_dex.adapter import best_priced
from adapters.onchain_dex.watching import ChainPairWatcher, ChainSnapshot, PairWatch, Read
from adapters.solana.accounts import CLOCK_SYSVAR, Clock, read_clock
from adapters.solana.errors import DiscoveryRefused
from kernel.errors import FatalError
from kernel.tokens import Token
from kernel.venues import Quote
from kernel.watching import Activation, ChainTime

# A pool seen for the first time needs its config, mints and tick arrays read with it; a price that moved to
# other tick arrays needs those: at most two more batches.
_ROUNDS = 3


@dataclass(slots=True)
class ClmmPairSnapshot(ChainSnapshot):
    """A pair's CLMM pools as read in one batch at ``clock``."""

    adapter: RaydiumClmmAdapter
    clock: Clock
    pools: tuple[PoolSnapshot, ...]

    def _quote(self, amount_in: int) -> Quote:
        results = price_snapshots(self.clock, self.pools, self.token_in, self.token_out, amount_in)
        return self.adapter._as_quote(best_priced(results), self.token_in, self.token_out, 0)


class RaydiumClmmWatcher(ChainPairWatcher[RaydiumClmmAdapter]):
    """Implements :class:`kernel.watching.PairWatcher` for Raydium CLMM."""

    def __init__(self, adapter: RaydiumClmmAdapter, **options: Any) -> None:
        super().__init__(adapter, **options)
        self._states: dict[Pubkey, PoolState] = {}
        self._extensions: dict[Pubkey, TickArrayBitmapExtension | None] = {}

    def canonical(self, pair: PairWatch) -> list[Pubkey]:
        """The pair's pool PDAs (see :meth:`RaydiumClmmClient.canonical`)."""
        return self.adapter.client.canonical(*pair.mints)

    async def _search(self, pair: PairWatch) -> None:
        self.search_started(pair)
        try:
            found = await self.adapter.client.program_pools(*pair.mints)
        except DiscoveryRefused:
            found = {}  # the node refuses the search: the PDAs still show a new pool
        self._states.update(found)
        pair.search.found = tuple(sorted(found, key=str))

    async def _read(self, pair: PairWatch, token_in: Token, token_out: Token) -> Read:
        configured = self.configured(token_in, token_out)
        if not configured:
            await self.search_if_due(pair)
        candidates = _unique(configured or [*self.canonical(pair), *pair.search.found])[:MAX_POOLS_PER_QUOTE]
        fetched: dict[Pubkey, Account | None] = {}
        for _ in range(_ROUNDS):
            keys = _unique([CLOCK_SYSVAR, *candidates, *(k for a in candidates for k in self._keys_of(a, token_in))])
            fetched = dict(zip(keys, await self.accounts(pair, keys), strict=True))
            if not self._learn(candidates, fetched, token_in, token_out):
                break
        clock = read_clock(fetched[CLOCK_SYSVAR])
        client = self.adapter.client
        pools = tuple(
            client.snapshot(a, self._states[a], fetched, self._down(a, token_in))
            for a in candidates
            if fetched.get(a) is not None
        )
        opens, pool = opening(pools, clock)
        watch = set(fetched) - {CLOCK_SYSVAR}
        if opens is not None:
            watch.add(CLOCK_SYSVAR)  # the pool opens with time, not with a write: wake every slot until then
        now = ChainTime(clock.slot, clock.unix_timestamp)
        snapshot = ClmmPairSnapshot(
            self.name, self.adapter.label, token_in, token_out, pool, opens, now, 0, self.adapter, clock, pools
        )
        return Read(snapshot, frozenset(watch), fetched)

    def _down(self, address: Pubkey, token_in: Token) -> bool:
        return str(self._states[address].token_mint_0) == token_in.mint

    def _keys_of(self, address: Pubkey, token_in: Token) -> list[Pubkey]:
        state = self._states.get(address)
        if state is None:
            return []
        extension = self._extensions.get(address)
        return self.adapter.client.keys_of(address, state, extension, self._down(address, token_in))[1:]

    def _learn(
        self, candidates: list[Pubkey], fetched: dict[Pubkey, Account | None], token_in: Token, token_out: Token
    ) -> bool:
        """Decode the pools read; True when one needs accounts this batch did not hold."""
        unknown = False
        client = self.adapter.client
        for address in candidates:
            account = fetched.get(address)
            if account is None:
                continue
            state = client.decode_pool(address, account)
            if {str(state.token_mint_0), str(state.token_mint_1)} != {token_in.mint, token_out.mint}:
                raise FatalError(f"pool {address} trades {state.token_mint_0}/{state.token_mint_1}, not this pair")
            self._states[address] = state
            needs = self._keys_of(address, token_in)
            if all(k in fetched for k in needs):
                self._extensions[address] = client.extension_of(address, fetched)
                needs = self._keys_of(address, token_in)
            unknown = unknown or any(k not in fetched for k in needs)
        return unknown


def opening(pools: Iterable[PoolSnapshot], clock: Clock) -> tuple[Activation | None, str | None]:
    """``(opens, pool)``: no activation once some pool takes swaps (that pool is named), else the earliest
    opening of the enabled pools (the first unix time after ``open_time``); ``pool`` None with no pool."""
    pools = list(pools)
    live = [p for p in pools if p.state.swap_enabled]
    open_now = [p for p in live if clock.unix_timestamp > p.state.open_time]
    if open_now:
        return None, str(open_now[0].address)
    if live:
        first = min(live, key=lambda p: p.state.open_time)
        return Activation(unix_time=first.state.open_time + 1), str(first.address)
    return None, str(pools[0].address) if pools else None


def _unique(keys: Iterable[Pubkey]) -> list[Pubkey]:
    return list(dict.fromkeys(keys))
