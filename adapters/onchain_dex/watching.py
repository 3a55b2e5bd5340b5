"""``ChainPairWatcher``: a :class:`kernel.watching.PairWatcher` over an on-chain DEX adapter.

A snapshot is one ``getMultipleAccounts`` batch: the Clock sysvar (so ``now`` is the slot and unix time
of the very state read), the pair's pools and everything their quote reads. Its ``quote`` prices on those
bytes with the adapter's own math, so it equals what ``adapter.quote`` answers for the same state. A
second batch is read only when the first shows accounts it did not know to ask for (a pool seen for the
first time, bin arrays the active bin moved to); then everything is read again together.

A pair with no pool yet (a sniper's) is watched where its pool would appear: the DEX says which
addresses (Raydium CPMM's canonical pool PDAs) and how often the program is searched. A pool that is
not open yet is watched with the Clock, so ``wait_change`` returns every slot until it opens: the
first snapshot of the first slot it allows is priced.

``wait_change`` is pushed by ``accountSubscribe`` (:class:`~adapters.solana.pubsub.AccountStream`) on every
account the last snapshot read, where the cluster's PubSub is up; else it polls those accounts in one
batched ``getMultipleAccounts`` per ``poll_interval_s``. Every RPC call is counted per pair (:meth:`calls`).

Each direction of a pair is watched on its own (:class:`PairWatch`): a DLMM swap walks bin arrays on one
side of the active bin or the other. The program search is the pair's, shared by both and run once at a
time (:class:`PairSearch`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from solders.account import Account
from solders.pubkey import Pubkey

from adapters.onchain_dex.adapter import OnChainAdapter
from adapters.onchain_dex.discovery import MintPair, Monotonic, mint_pair
from adapters.pools import parse_address
from adapters.solana.accounts import CLOCK_SYSVAR
from adapters.solana.pubsub import AccountStream
from kernel.errors import PoolNotTradable, QuoteUnavailable, RetryableError, UnsupportedPair
from kernel.tokens import Token
from kernel.venues import Quote
from kernel.watching import Activation, ChainTime, PairSnapshot

A = TypeVar("A", bound=OnChainAdapter[Any, Any, Any])


@dataclass(slots=True)
class PairSearch:
    """What the last program search found for a pair, shared by both directions."""

    found: tuple[Pubkey, ...] = ()
    at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one search at a time; the other direction waits


@dataclass(slots=True)
class PairWatch:
    """What a watcher keeps per pair and direction between snapshots (each direction reads its own accounts:
    DLMM's bin arrays lie on either side of the active bin). ``mints`` is the pair in byte order."""

    direction: tuple[Pubkey, Pubkey]  # (mint in, mint out)
    mints: MintPair
    label: str
    search: PairSearch
    watched: frozenset[Pubkey] = frozenset()
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    digest: bytes = b""  # of the watched accounts as the last snapshot read them
    empty: bool = False  # the last snapshot found no pool
    verify: bool = False  # accounts were subscribed after they were read: compare them once, when live
    version: int = 0
    calls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # the DEX's own memory (bin array depth, ...)


@dataclass(slots=True)
class ChainSnapshot(ABC):
    """The fields every on-chain DEX's :class:`~kernel.watching.PairSnapshot` has; ``quote`` is the DEX's."""

    dex: str
    label: str  # the DEX and its pool kind in messages
    token_in: Token
    token_out: Token
    pool: str | None
    opens: Activation | None
    now: ChainTime
    version: int  # set by the watcher once the read is compared with the last

    def quote(self, amount_in: int) -> Quote:
        """Exact-in quote of ``amount_in`` on this snapshot, no I/O (see :class:`~kernel.watching.PairSnapshot`)."""
        if self.pool is None:
            raise UnsupportedPair(f"no {self.label} pool trades {self.token_in.symbol}/{self.token_out.symbol} yet")
        if self.opens is not None:
            when = f"slot {self.opens.slot}" if self.opens.slot is not None else f"unix time {self.opens.unix_time}"
            raise PoolNotTradable(
                f"{self.label} pool {self.pool} opens at {when}; it is slot {self.now.slot}, unix time "
                f"{self.now.unix_time}",
                context={"pool": self.pool},
            )
        return self._quote(amount_in)

    @abstractmethod
    def _quote(self, amount_in: int) -> Quote:
        """The DEX's pricing of the pools read."""


@dataclass(frozen=True, slots=True)
class Read:
    """What a DEX's read gives back: the snapshot (its ``version`` is set here), the accounts to watch and
    those accounts as fetched (their digest decides whether the version moves)."""

    snapshot: ChainSnapshot
    watch: frozenset[Pubkey]
    fetched: dict[Pubkey, Account | None]


def digest(accounts: Sequence[Account | None]) -> bytes:
    """A short fingerprint of accounts as fetched (lamports, owner and data)."""
    h = hashlib.blake2b(digest_size=16)
    for account in accounts:
        if account is None:
            h.update(b"\x00")
            continue
        h.update(account.lamports.to_bytes(8, "little") + bytes(account.owner) + bytes(account.data))
    return h.digest()


class ChainPairWatcher(ABC, Generic[A]):
    """Watches pairs on one on-chain DEX. ``pubsub_url`` None polls only; ``search_interval_s`` is how often a
    pair with no pool is searched for one."""

    def __init__(
        self,
        adapter: A,
        *,
        pubsub_url: str | None = None,
        poll_interval_s: float = 0.4,
        search_interval_s: float = 2.0,
        owns_adapter: bool = False,
        clock: Monotonic = time.monotonic,
    ) -> None:
        self.adapter = adapter
        self._owns_adapter = owns_adapter
        self.name = adapter.name
        self.poll_interval_s = poll_interval_s
        self.search_interval_s = search_interval_s
        self._clock = clock
        self._pairs: dict[tuple[Pubkey, Pubkey], PairWatch] = {}
        self._by_key: dict[Pubkey, set[tuple[Pubkey, Pubkey]]] = {}
        self._searches: dict[MintPair, PairSearch] = {}
        self._stream = AccountStream(pubsub_url, self._account_changed) if pubsub_url else None

    # --- PairWatcher -----------------------------------------------------------------------------------

    async def snapshot(self, token_in: Token, token_out: Token) -> PairSnapshot:
        """Read the pair once and price it with no further I/O. Raises ``QuoteUnavailable`` when the RPC
        cannot be read right now."""
        pair = self._pair(token_in, token_out)
        try:
            read = await self._read(pair, token_in, token_out)
        except QuoteUnavailable:
            raise
        except RetryableError as exc:
            raise QuoteUnavailable(f"{self.name}: {exc}", context={"cause": exc.code}) from exc
        content = digest([read.fetched.get(k) for k in _ordered(read.watch)])
        if content != pair.digest or read.watch != pair.watched:
            pair.version += 1
        pair.digest = content
        pair.empty = read.snapshot.pool is None
        await self._watch(pair, read.watch)
        read.snapshot.version = pair.version
        return read.snapshot

    async def wait_change(self, token_in: Token, token_out: Token, timeout_s: float) -> bool:
        """True once the pair's accounts may have changed (pushed, or seen by a poll), False after
        ``timeout_s``. A pair with no pool also returns True when its program search is due."""
        pair = self._pair(token_in, token_out)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if pair.changed.is_set():
                pair.changed.clear()
                return True
            if pair.empty and self.search_due(pair):
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            if self._stream is not None and self._stream.live and pair.watched:
                if pair.verify:
                    # A change between the read and the subscription would never be pushed: look once.
                    pair.verify = False
                    if await self._polled_change(pair):
                        return True
                    continue
                try:
                    async with asyncio.timeout(min(left, self.search_interval_s)):
                        await pair.changed.wait()
                except TimeoutError:
                    continue
                continue
            await asyncio.sleep(min(left, self.poll_interval_s))
            if pair.watched and await self._polled_change(pair):
                return True

    def calls(self) -> dict[str, int]:
        """RPC calls made per pair and direction (``SOL/USDC`` labels, in then out) since the watcher started."""
        return {pair.label: pair.calls for pair in self._pairs.values()}

    def calls_for(self, token_in: Token, token_out: Token) -> int:
        """RPC calls made for one pair and direction since the watcher started."""
        return self._pair(token_in, token_out).calls

    def watched(self, token_in: Token, token_out: Token) -> frozenset[Pubkey]:
        """The accounts the pair's last snapshot read, whose changes wake :meth:`wait_change`."""
        return self._pair(token_in, token_out).watched

    @property
    def subscribed(self) -> frozenset[Pubkey]:
        """The accounts subscribed over PubSub for every pair (none without a stream)."""
        return self._stream.watched if self._stream is not None else frozenset()

    @property
    def pushed(self) -> bool:
        """Whether changes are being pushed by the cluster right now (else they are polled)."""
        return self._stream is not None and self._stream.live

    async def aclose(self) -> None:
        """Close the stream (and the adapter, when it was given to this watcher to own)."""
        if self._stream is not None:
            await self._stream.aclose()
        if self._owns_adapter:
            await self.adapter.aclose()

    # --- what each DEX fills in ------------------------------------------------------------------------

    @abstractmethod
    async def _read(self, pair: PairWatch, token_in: Token, token_out: Token) -> Read:
        """One read of the pair's pools (see the module docstring)."""

    def _can_search(self) -> bool:
        """Whether pools may be found by searching the program (off when only configured pools trade)."""
        return bool(self.adapter.config.discover)

    # --- shared --------------------------------------------------------------------------------------

    def configured(self, token_in: Token, token_out: Token) -> list[Pubkey]:
        """The pool book's pools of the pair for this DEX."""
        pools = self.adapter._book.find(self.name, token_in.mint, token_out.mint)
        return [parse_address(p.address, "configured pool") for p in pools]

    async def accounts(self, pair: PairWatch, keys: Sequence[Pubkey]) -> list[Account | None]:
        """One counted ``getMultipleAccounts``; accounts without lamports count as absent."""
        pair.calls += 1
        found = await self.adapter._rpc.multiple_accounts(keys, f"reading {len(keys)} {self.adapter.label} accounts")
        return [a if a is not None and a.lamports else None for a in found]

    async def search_if_due(self, pair: PairWatch) -> None:
        """Search the program for the pair's pools when it is due (:meth:`_search`), once for both directions."""
        async with pair.search.lock:
            if self.search_due(pair):
                await self._search(pair)

    async def _search(self, pair: PairWatch) -> None:
        """Search the program for the pair's pools into ``pair.search`` (none by default)."""
        return None

    def search_started(self, pair: PairWatch) -> None:
        pair.search.at = self._clock()
        pair.calls += 1

    def search_due(self, pair: PairWatch) -> bool:
        """Whether the program should be searched for the pair's pools now."""
        search = pair.search
        return self._can_search() and not search.found and self._clock() - search.at >= self.search_interval_s

    def _pair(self, token_in: Token, token_out: Token) -> PairWatch:
        direction = (parse_address(token_in.mint, "mint"), parse_address(token_out.mint, "mint"))
        pair = self._pairs.get(direction)
        if pair is None:
            mints = mint_pair(*direction)
            search = self._searches.setdefault(mints, PairSearch())
            pair = PairWatch(direction, mints, f"{token_in.symbol}/{token_out.symbol}", search)
            self._pairs[direction] = pair
        return pair

    async def _watch(self, pair: PairWatch, keys: frozenset[Pubkey]) -> None:
        if keys == pair.watched:
            return
        unwatched = []
        for key in pair.watched - keys:
            holders = self._by_key.get(key, set())
            holders.discard(pair.direction)
            if not holders:
                self._by_key.pop(key, None)
                unwatched.append(key)
        for key in keys:
            self._by_key.setdefault(key, set()).add(pair.direction)
        added = keys - pair.watched
        pair.watched = keys
        if self._stream is not None:
            pair.verify = pair.verify or bool(added)
            await self._stream.watch(keys)
            await self._stream.unwatch(unwatched)  # no pair reads them any more (a bin array left behind)

    def _account_changed(self, key: Pubkey) -> None:
        for direction in self._by_key.get(key, ()):
            self._pairs[direction].changed.set()

    async def _polled_change(self, pair: PairWatch) -> bool:
        """Whether the watched accounts differ from what the last snapshot read (one batched read)."""
        keys = _ordered(pair.watched)
        try:
            return digest(await self.accounts(pair, keys)) != pair.digest
        except RetryableError:
            return True  # the RPC hiccuped: let the caller snapshot (and see the error) rather than wait blind


def _ordered(keys: frozenset[Pubkey]) -> list[Pubkey]:
    return sorted(keys, key=bytes)


__all__ = ["CLOCK_SYSVAR", "ChainPairWatcher", "ChainSnapshot", "PairSearch", "PairWatch", "Read", "digest"]
