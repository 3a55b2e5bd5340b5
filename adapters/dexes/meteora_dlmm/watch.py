"""Watching Meteora DLMM pairs: snapshots priced with no I/O, new pairs found, activation respected.

A snapshot's batch holds the Clock, both mints and, per pair, its LbPair, its bitmap extension and the
first ``arrays`` existing bin arrays from the active bin in the swap's direction (chosen from the pair
as last read; when the active bin moved to arrays not read, everything is read again together). A quote
whose walk goes past those arrays is ``QuoteUnavailable`` and the next snapshot reads twice as many for
that pair. A DLMM pair has no canonical address: a pair with none is searched (``getProgramAccounts``
with memcmp on both mints) every ``search_interval_s``. Permissioned and customizable pairs swap from
their ``activation_point`` on, a slot or a unix time by ``activation_type``; until then ``opens`` says
when, and the Clock is watched too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meteora_dlmm import MintInfo
from solders.account import Account
from solders.pubkey import Pubkey

from adapters.dexes.meteora_dlmm.adapter import MeteoraDlmmAdapter
from adapters.dexes.meteora_dlmm.instructions import bin_array_address, bitmap_extension_address
from adapters.dexes.meteora_dlmm.layouts import ACTIVATION_BY_SLOT, PAIR_CUSTOMIZABLE_PERMISSIONLESS, PAIR_PERMISSION
from adapters.dexes.meteora_dlmm.math import NeedBinArrays, PairAccounts
from adapters.dexes.meteora_dlmm.pricing import priced, quote_pair
from adapters.onchain_dex.adapter import best_priced
from adapters.onchain_dex.watching import ChainPairWatcher, ChainSnapshot, PairWatch, Read
from adapters.pools import parse_address
from adapters.solana.accounts import CLOCK_SYSVAR, Clock, read_clock
from adapters.solana.errors import DiscoveryRefused
from kernel.errors import FatalError, QuoteUnavailable
from kernel.tokens import Token
from kernel.venues import Quote
from kernel.watching import Activation, ChainTime

# The active bin may move to arrays the first batch did not name: read once more with the fresh pair.
_ROUNDS = 3
_MAX_ARRAYS = 64  # 100 keys per batch: the clock, two mints, a pair and its extension leave room for this many


@dataclass(frozen=True, slots=True)
class _Pool:
    accounts: PairAccounts
    arrays: Mapping[int, bytes]
    swap_for_y: bool


@dataclass(slots=True)
class DlmmPairSnapshot(ChainSnapshot):
    """A pair's DLMM pools as read in one batch at ``clock``."""

    watcher: MeteoraDlmmWatcher
    pair_watch: PairWatch
    clock: Clock
    pools: tuple[_Pool, ...]
    mint_in: MintInfo | None
    mint_out: MintInfo | None

    def _quote(self, amount_in: int) -> Quote:
        adapter = self.watcher.adapter
        assert self.mint_in is not None and self.mint_out is not None
        results = []
        for pool in self.pools:
            try:
                result = quote_pair(
                    pool.accounts, pool.arrays, amount_in, pool.swap_for_y, clock=self.clock,
                    mint_in=self.mint_in, mint_out=self.mint_out, prefetch=adapter.config.prefetch_arrays,
                )  # fmt: skip
            except NeedBinArrays:
                depth = self.watcher.deepen(self.pair_watch)
                raise QuoteUnavailable(
                    f"{amount_in} raw {self.token_in.symbol} walks past the {len(pool.arrays)} bin arrays read of "
                    f"pair {pool.accounts.address}; the next snapshot reads {depth}"
                ) from None
            results.append(priced(result, self.token_in, self.token_out, amount_in))
        return adapter._as_quote(best_priced(results), self.token_in, self.token_out, 0)


class MeteoraDlmmWatcher(ChainPairWatcher[MeteoraDlmmAdapter]):
    """Implements :class:`kernel.watching.PairWatcher` for Meteora DLMM. ``arrays``: bin arrays read per
    pair and snapshot at first (doubled for a pair whose waiting sizes walk further)."""

    def __init__(self, adapter: MeteoraDlmmAdapter, *, arrays: int = 4, **options: Any) -> None:
        super().__init__(adapter, **options)
        self.arrays = arrays
        self._known: dict[Pubkey, PairAccounts] = {}

    def deepen(self, pair: PairWatch) -> int:
        """Read more bin arrays of ``pair`` from the next snapshot on; returns how many."""
        pair.extra["arrays"] = min(_MAX_ARRAYS, 2 * int(pair.extra.get("arrays", self.arrays)))
        return int(pair.extra["arrays"])

    async def _search(self, pair: PairWatch) -> None:
        self.search_started(pair)
        try:
            found = await self.adapter.client.find_pairs(*pair.mints)
        except DiscoveryRefused:
            found = {}
        enabled = {address: pool for address, pool in found.items() if pool.pair.status == 0}
        self._known.update(enabled)
        pair.search.found = tuple(sorted(enabled, key=str))

    async def _read(self, pair: PairWatch, token_in: Token, token_out: Token) -> Read:
        configured = self.configured(token_in, token_out)
        if not configured:
            await self.search_if_due(pair)
        candidates = (configured or list(pair.search.found))[: self.adapter.max_pools_per_quote]
        mint_in, mint_out = parse_address(token_in.mint, "mint"), parse_address(token_out.mint, "mint")
        depth = int(pair.extra.get("arrays", self.arrays))
        fetched: dict[Pubkey, Account | None] = {}
        for _ in range(_ROUNDS):
            keys = [CLOCK_SYSVAR, mint_in, mint_out]
            for address in candidates:
                keys += [address, self._extension(address), *self._arrays(address, mint_in, depth)]
            keys = list(dict.fromkeys(keys))
            fetched = dict(zip(keys, await self.accounts(pair, keys), strict=True))
            self._learn(candidates, fetched, {mint_in, mint_out})
            if all(k in fetched for a in candidates if fetched.get(a) for k in self._arrays(a, mint_in, depth)):
                break
        clock = read_clock(fetched[CLOCK_SYSVAR])
        client = self.adapter.client
        pools = tuple(
            _Pool(known, self._bin_arrays(a, mint_in, depth, fetched), known.pair.token_x_mint == mint_in)
            for a, known in ((a, self._known[a]) for a in candidates if fetched.get(a) is not None)
        )  # fmt: skip
        minfo_in = client._mint(fetched.get(mint_in), mint_in, clock.epoch) if pools else None
        minfo_out = client._mint(fetched.get(mint_out), mint_out, clock.epoch) if pools else None
        opens, pool = _activation(pools, clock)
        watch = set(fetched) - {CLOCK_SYSVAR, mint_in, mint_out}
        if opens is not None:
            watch.add(CLOCK_SYSVAR)  # the pair activates with time, not with a write: wake every slot until then
        now = ChainTime(clock.slot, clock.unix_timestamp)
        snapshot = DlmmPairSnapshot(
            self.name, self.adapter.label, token_in, token_out, pool, opens, now, 0,
            self, pair, clock, pools, minfo_in, minfo_out,
        )  # fmt: skip
        return Read(snapshot, frozenset(watch), fetched)

    def _extension(self, address: Pubkey) -> Pubkey:
        return bitmap_extension_address(address, self.adapter.program_id)

    def _arrays(self, address: Pubkey, mint_in: Pubkey, depth: int) -> list[Pubkey]:
        """The bin arrays to read of a pair, from the pair as last read (none before it was ever read)."""
        known = self._known.get(address)
        if known is None:
            return []
        indexes = known.arrays_ahead(known.pair.token_x_mint == mint_in, depth)
        return [bin_array_address(address, i, self.adapter.program_id) for i in indexes]

    def _bin_arrays(
        self, address: Pubkey, mint_in: Pubkey, depth: int, fetched: dict[Pubkey, Account | None]
    ) -> dict[int, bytes]:
        known = self._known[address]
        out: dict[int, bytes] = {}
        for index in known.arrays_ahead(known.pair.token_x_mint == mint_in, depth):
            account = fetched.get(bin_array_address(address, index, self.adapter.program_id))
            if account is not None:
                out[index] = self.adapter.client._array(address, index, account)
        return out

    def _learn(self, candidates: list[Pubkey], fetched: dict[Pubkey, Account | None], mints: set[Pubkey]) -> None:
        for address in candidates:
            account = fetched.get(address)
            if account is None:
                continue
            pool = self.adapter.client._pair(address, account, fetched.get(self._extension(address)))
            if {pool.pair.token_x_mint, pool.pair.token_y_mint} != mints:
                raise FatalError(
                    f"pair {address} trades {pool.pair.token_x_mint}/{pool.pair.token_y_mint}, not this pair"
                )
            self._known[address] = pool


def _activation(pools: tuple[_Pool, ...], clock: Clock) -> tuple[Activation | None, str | None]:
    """``(opens, pool)``: no activation once some enabled pair takes swaps (that pair is named), else the
    earliest activation of the enabled pairs waiting for theirs; ``pool`` None with no pair at all."""
    enabled = [p for p in pools if p.accounts.pair.status == 0]
    waiting: list[tuple[int, Activation, _Pool]] = []
    for p in enabled:
        lb = p.accounts.pair
        if lb.pair_type not in (PAIR_PERMISSION, PAIR_CUSTOMIZABLE_PERMISSIONLESS):
            return None, str(p.accounts.address)
        by_slot = lb.activation_type == ACTIVATION_BY_SLOT
        now = clock.slot if by_slot else clock.unix_timestamp
        if now >= lb.activation_point:
            return None, str(p.accounts.address)
        when = Activation(slot=lb.activation_point) if by_slot else Activation(unix_time=lb.activation_point)
        waiting.append((lb.activation_point - now, when, p))
    if waiting:
        _, when, first = min(waiting, key=lambda w: w[0])
        return when, str(first.accounts.address)
    return None, str(pools[0].accounts.address) if pools else None
