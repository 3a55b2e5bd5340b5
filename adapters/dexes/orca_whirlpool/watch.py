"""Watching Orca Whirlpool pairs: snapshots priced with no I/O, new pools found.

A pair's pools are the configured ones, else its pool PDAs (under each configured config at each configured tick
spacing) plus what a ``getProgramAccounts`` search found. The PDAs are read in every snapshot's batch, so a pool
created there is seen in the very next snapshot; the search runs every ``search_interval_s`` while none is known.
Each snapshot reads the pools with their mints and the tick arrays around their prices, and watches them all:
a swap or a position changes the pool or a tick array. A Whirlpool takes swaps from its creation: ``opens`` is
always None.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey

from adapters.dexes.orca_whirlpool.adapter import OrcaWhirlpoolAdapter
from adapters.dexes.orca_whirlpool.client import WhirlpoolSnapshot
from adapters.dexes.orca_whirlpool.config import MAX_POOLS_PER_QUOTE
from adapters.dexes.orca_whirlpool.layouts import Whirlpool
from adapters.dexes.orca_whirlpool.pricing import price_snapshots
from adapters.onchain_dex.adapter import best_priced
from adapters.onchain_dex.watching import ChainPairWatcher, ChainSnapshot, PairWatch, Read
from adapters.solana.accounts import CLOCK_SYSVAR, read_clock
from adapters.solana.errors import DiscoveryRefused
from kernel.errors import FatalError
from kernel.tokens import Token
from kernel.venues import Quote
from kernel.watching import ChainTime

# A pool seen for the first time needs its mints and tick arrays read with it, and a price that moved past the
# arrays read needs them read again around it: three batches at most.
_ROUNDS = 3


@dataclass(slots=True)
class WhirlpoolPairSnapshot(ChainSnapshot):
    """A pair's Whirlpools as read in one batch."""

    adapter: OrcaWhirlpoolAdapter
    pools: tuple[WhirlpoolSnapshot, ...]

    def _quote(self, amount_in: int) -> Quote:
        results = price_snapshots(self.pools, self.token_in, self.token_out, amount_in)
        return self.adapter._as_quote(best_priced(results), self.token_in, self.token_out, 0)


class OrcaWhirlpoolWatcher(ChainPairWatcher[OrcaWhirlpoolAdapter]):
    """Implements :class:`kernel.watching.PairWatcher` for Orca Whirlpool."""

    def __init__(self, adapter: OrcaWhirlpoolAdapter, **options: Any) -> None:
        super().__init__(adapter, **options)
        self._states: dict[Pubkey, Whirlpool] = {}

    def canonical(self, pair: PairWatch) -> list[Pubkey]:
        """The pair's pool PDAs (see :meth:`OrcaWhirlpoolClient.canonical`)."""
        return self.adapter.client.canonical(*pair.mints)

    async def _search(self, pair: PairWatch) -> None:
        self.search_started(pair)
        pair.calls += 1
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
        client = self.adapter.client
        fetched: dict[Pubkey, Account | None] = {}
        for _ in range(_ROUNDS):
            keys = _unique([CLOCK_SYSVAR, *candidates, *(k for a in candidates for k in self._accounts_of(a))])
            fetched = dict(zip(keys, await self.accounts(pair, keys), strict=True))
            if not self._learn(candidates, fetched, {token_in.mint, token_out.mint}):
                break
        else:
            raise FatalError("the Whirlpools' prices moved past their tick arrays on every read")
        clock = read_clock(fetched[CLOCK_SYSVAR])
        pools = tuple(client.snapshot(a, self._states[a], fetched) for a in candidates if fetched.get(a) is not None)
        now = ChainTime(clock.slot, clock.unix_timestamp)
        pool = str(pools[0].address) if pools else None
        snapshot = WhirlpoolPairSnapshot(
            self.name, self.adapter.label, token_in, token_out, pool, None, now, 0, self.adapter, pools
        )
        return Read(snapshot, frozenset(set(fetched) - {CLOCK_SYSVAR}), fetched)

    def _accounts_of(self, address: Pubkey) -> tuple[Pubkey, ...]:
        state = self._states.get(address)
        return () if state is None else self.adapter.client.pool_accounts(address, state)

    def _learn(self, candidates: list[Pubkey], fetched: dict[Pubkey, Account | None], mints: set[str]) -> bool:
        """Decode the pools read; True when one needs accounts this batch did not hold."""
        unknown = False
        for address in candidates:
            account = fetched.get(address)
            if account is None:
                continue
            state = self.adapter.client.decode_pool(address, account)
            if {str(state.token_mint_a), str(state.token_mint_b)} != mints:
                raise FatalError(f"pool {address} trades {state.token_mint_a}/{state.token_mint_b}, not this pair")
            self._states[address] = state
            mints_read = state.token_mint_a in fetched and state.token_mint_b in fetched
            unknown = unknown or not mints_read or not self.adapter.client.holds(address, state, fetched)
        return unknown


def _unique(keys: Iterable[Pubkey]) -> list[Pubkey]:
    return list(dict.fromkeys(keys))
