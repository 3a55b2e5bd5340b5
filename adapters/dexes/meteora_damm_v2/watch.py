"""Watching Meteora DAMM v2 pairs: snapshots priced with no I/O, new pools found, activation respected.

A pair's pools are the configured ones, else its pool addresses (its customizable pool PDA
``["cpool", larger mint, smaller mint]`` and its pool PDA under each configured config) plus what a
``getProgramAccounts`` search found. The PDAs are read in every snapshot's batch, so a pool created there is
seen in the very next snapshot (and pushed, where the PDA is subscribed); the search runs every
``search_interval_s`` while none is known. A pool swaps once the block reaches its ``activation_point``, a slot
or a unix time as its ``activation_type`` says (the program refuses swaps before it with ``PoolDisabled``):
until then ``opens`` says when, and the Clock is watched too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey

from adapters.dexes.meteora_damm_v2.adapter import MeteoraDammV2Adapter
from adapters.dexes.meteora_damm_v2.client import PoolSnapshot, pool_accounts
from adapters.dexes.meteora_damm_v2.config import MAX_POOLS_PER_QUOTE
from adapters.dexes.meteora_damm_v2.layouts import ActivationType, Pool
from adapters.dexes.meteora_damm_v2.pricing import price_snapshots
from adapters.onchain_dex.adapter import best_priced
from adapters.onchain_dex.watching import ChainPairWatcher, ChainSnapshot, PairWatch, Read
from adapters.solana.accounts import CLOCK_SYSVAR, Clock, read_clock
from adapters.solana.errors import DiscoveryRefused
from kernel.errors import FatalError
from kernel.tokens import Token
from kernel.venues import Quote
from kernel.watching import Activation, ChainTime

# A pool seen for the first time needs its mints read with it: one more batch, once.
_ROUNDS = 2


@dataclass(slots=True)
class DammV2PairSnapshot(ChainSnapshot):
    """A pair's DAMM v2 pools as read in one batch at ``clock``."""

    adapter: MeteoraDammV2Adapter
    clock: Clock
    pools: tuple[PoolSnapshot, ...]

    def _quote(self, amount_in: int) -> Quote:
        results = price_snapshots(self.clock, self.pools, self.token_in, self.token_out, amount_in)
        return self.adapter._as_quote(best_priced(results), self.token_in, self.token_out, 0)


class MeteoraDammV2Watcher(ChainPairWatcher[MeteoraDammV2Adapter]):
    """Implements :class:`kernel.watching.PairWatcher` for Meteora DAMM v2."""

    def __init__(self, adapter: MeteoraDammV2Adapter, **options: Any) -> None:
        super().__init__(adapter, **options)
        self._states: dict[Pubkey, Pool] = {}

    def canonical(self, pair: PairWatch) -> list[Pubkey]:
        """The pair's pool PDAs (see :meth:`MeteoraDammV2Client.canonical`)."""
        return self.adapter.client.canonical(*pair.mints)

    async def _search(self, pair: PairWatch) -> None:
        self.search_started(pair)
        pair.calls += 1  # the search is two getProgramAccounts: one per A/B order
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
            keys = _unique([CLOCK_SYSVAR, *candidates, *(k for a in candidates for k in self._accounts_of(a))])
            fetched = dict(zip(keys, await self.accounts(pair, keys), strict=True))
            if not self._learn(candidates, fetched, {token_in.mint, token_out.mint}):
                break
        clock = read_clock(fetched[CLOCK_SYSVAR])
        client = self.adapter.client
        pools = tuple(client.snapshot(a, self._states[a], fetched) for a in candidates if fetched.get(a) is not None)
        opens, pool = activation(pools, clock)
        watch = set(fetched) - {CLOCK_SYSVAR}
        if opens is not None:
            watch.add(CLOCK_SYSVAR)  # the pool activates with time, not with a write: wake every slot until then
        now = ChainTime(clock.slot, clock.unix_timestamp)
        snapshot = DammV2PairSnapshot(
            self.name, self.adapter.label, token_in, token_out, pool, opens, now, 0, self.adapter, clock, pools
        )
        return Read(snapshot, frozenset(watch), fetched)

    def _accounts_of(self, address: Pubkey) -> tuple[Pubkey, ...]:
        state = self._states.get(address)
        return () if state is None else pool_accounts(state)

    def _learn(self, candidates: list[Pubkey], fetched: dict[Pubkey, Account | None], mints: set[str]) -> bool:
        """Decode the pools read; True when one names accounts this batch did not hold."""
        unknown = False
        for address in candidates:
            account = fetched.get(address)
            if account is None:
                continue
            state = self.adapter.client.decode_pool(address, account)
            if {str(state.token_a_mint), str(state.token_b_mint)} != mints:
                raise FatalError(f"pool {address} trades {state.token_a_mint}/{state.token_b_mint}, not this pair")
            self._states[address] = state
            unknown = unknown or any(k not in fetched for k in self._accounts_of(address))
        return unknown


def _point(state: Pool, clock: Clock) -> int:
    return clock.slot if state.activation_type == ActivationType.SLOT else clock.unix_timestamp


def _when(state: Pool) -> Activation:
    if state.activation_type == ActivationType.SLOT:
        return Activation(slot=state.activation_point)
    return Activation(unix_time=state.activation_point)


def activation(pools: Iterable[PoolSnapshot], clock: Clock) -> tuple[Activation | None, str | None]:
    """``(opens, pool)``: no activation once some pool takes swaps (that pool is named), else the first
    activation of the enabled pools waiting for theirs; ``pool`` None with no pool at all."""
    pools = list(pools)
    live = [p for p in pools if p.state.swap_enabled and p.state.activation_type in tuple(ActivationType)]
    open_now = [p for p in live if _point(p.state, clock) >= p.state.activation_point]
    if open_now:
        return None, str(open_now[0].address)
    if live:
        # Slots and seconds do not compare: the pool closest to its activation in its own unit goes first.
        first = min(live, key=lambda p: p.state.activation_point - _point(p.state, clock))
        return _when(first.state), str(first.address)
    return None, str(pools[0].address) if pools else None


def _unique(keys: Iterable[Pubkey]) -> list[Pubkey]:
    return list(dict.fromkeys(keys))
