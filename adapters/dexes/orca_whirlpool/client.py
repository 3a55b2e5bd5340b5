"""The Whirlpool adapter's reads: pool states, one consistent snapshot per quote, and pool discovery.

Every call goes through :class:`ChainRpc`'s classification and retries; what fails leaves as an
:mod:`kernel.errors` type. Accounts are checked against what their address promises (owner, size,
discriminator, the pool a tick array belongs to) and a mismatch raises
:class:`~adapters.solana.errors.MalformedAccount`.

A quote reads the pool, both mints (decimals, their token program, a Token-2022 transfer fee) and the tick arrays
around the pool's price: the three a swap may walk each way and one more on each side, all in one
``getMultipleAccounts``. Should the price have moved so far since the pool was last read that the walk needs an
array that call did not hold, the whole batch is read again around the fresh price. An array account that does
not exist is a stretch of uninitialized ticks, as the program takes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from solders.account import Account
from solders.pubkey import Pubkey

from adapters.dexes.orca_whirlpool.config import MAX_POOLS_PER_QUOTE, TICK_ARRAYS_READ_PER_SIDE, OrcaWhirlpoolConfig
from adapters.dexes.orca_whirlpool.instructions import tick_array_address, whirlpool_address
from adapters.dexes.orca_whirlpool.layouts import (
    TOKEN_MINT_A_OFFSET,
    TOKEN_MINT_B_OFFSET,
    WHIRLPOOL_LEN,
    TickArray,
    Whirlpool,
    decode_tick_array,
    decode_whirlpool,
)
from adapters.dexes.orca_whirlpool.math import is_valid_start_tick, tick_array_starts, ticks_in_array
from adapters.onchain_dex.discovery import search_program
from adapters.solana.accounts import Mint, read_mint
from adapters.solana.errors import DiscoveryRefused, MalformedAccount
from adapters.solana.rpc import ChainRpc
from kernel.errors import FatalError

log = logging.getLogger("oee.orca_whirlpool")

MAX_ACCOUNTS_PER_CALL = 100
_ROUNDS = 2  # a second read only when the price moved past the arrays the first one held


@dataclass(frozen=True, slots=True)
class WhirlpoolSnapshot:
    """A pool and everything its quote reads, all from one ``getMultipleAccounts`` (the same slot): its mints
    with the token program owning each, and its initialized tick arrays by start index."""

    address: Pubkey
    state: Whirlpool
    mint_a: Mint
    mint_b: Mint
    program_a: Pubkey
    program_b: Pubkey
    arrays: dict[int, TickArray]


def array_starts_read(state: Whirlpool) -> list[int]:
    """The start indexes of the tick arrays read with the pool: from ``TICK_ARRAYS_READ_PER_SIDE`` arrays below
    the current one to as many above."""
    width = ticks_in_array(state.tick_spacing)
    base = state.tick_current_index // width * width
    span = range(-TICK_ARRAYS_READ_PER_SIDE, TICK_ARRAYS_READ_PER_SIDE + 1)
    return [base + k * width for k in span if is_valid_start_tick(base + k * width, state.tick_spacing)]


def walk_starts(state: Whirlpool) -> set[int]:
    """The start indexes of every array a swap either way may walk from the pool's price."""
    return set(tick_array_starts(state, a_to_b=True)) | set(tick_array_starts(state, a_to_b=False))


class OrcaWhirlpoolClient:
    """Reads Whirlpool accounts through ``rpc``. Holds no state between calls."""

    def __init__(self, rpc: ChainRpc, config: OrcaWhirlpoolConfig) -> None:
        self.rpc = rpc
        self.config = config

    @property
    def program_id(self) -> Pubkey:
        return self.config.program_id

    async def accounts(self, keys: Sequence[Pubkey]) -> list[Account | None]:
        """``getMultipleAccounts`` (base64) of at most 100 keys, in order; None where no account exists."""
        if len(keys) > MAX_ACCOUNTS_PER_CALL:
            raise FatalError(f"getMultipleAccounts takes at most {MAX_ACCOUNTS_PER_CALL} keys, got {len(keys)}")
        return await self.rpc.multiple_accounts(keys, f"reading {len(keys)} Orca Whirlpool accounts")

    def decode_pool(self, key: Pubkey, account: Account) -> Whirlpool:
        if account.owner != self.program_id:
            raise MalformedAccount(
                f"pool {key} is owned by {account.owner}, not the Whirlpool program {self.program_id}"
            )
        try:
            return decode_whirlpool(bytes(account.data))
        except MalformedAccount as exc:
            raise MalformedAccount(f"pool {key}: {exc}") from exc

    def tick_array_keys(self, address: Pubkey, starts: Iterable[int]) -> dict[int, Pubkey]:
        return {start: tick_array_address(self.program_id, address, start) for start in starts}

    def pool_accounts(self, address: Pubkey, state: Whirlpool) -> tuple[Pubkey, ...]:
        """The accounts a quote reads besides the pool itself: its mints and the tick arrays around its price."""
        arrays = self.tick_array_keys(address, array_starts_read(state)).values()
        return (state.token_mint_a, state.token_mint_b, *arrays)

    async def program_pools(self, mint_x: Pubkey, mint_y: Pubkey) -> dict[Pubkey, Whirlpool]:
        """Every pool of the pair, by ``getProgramAccounts`` with memcmp filters on both mints (token A's is the
        lower in byte order). Raises :class:`DiscoveryRefused` when the node answers with a JSON-RPC error."""
        mint_a, mint_b = sorted((mint_x, mint_y), key=bytes)
        mints = ((TOKEN_MINT_A_OFFSET, mint_a), (TOKEN_MINT_B_OFFSET, mint_b))
        accounts = await search_program(self.rpc, self.program_id, WHIRLPOOL_LEN, mints, "searching Whirlpools")
        found: dict[Pubkey, Whirlpool] = {}
        for key, account in accounts:
            state = self.decode_pool(key, account)
            if (state.token_mint_a, state.token_mint_b) == (mint_a, mint_b):
                found[key] = state
        return found

    def canonical(self, mint_x: Pubkey, mint_y: Pubkey) -> list[Pubkey]:
        """The pair's pool PDAs under each configured config at each configured tick spacing."""
        mint_a, mint_b = sorted((mint_x, mint_y), key=bytes)
        return [
            whirlpool_address(self.program_id, config, mint_a, mint_b, spacing)
            for config in self.config.discovery_configs
            for spacing in self.config.discovery_tick_spacings
        ]

    async def pool_states(self, addresses: Sequence[Pubkey]) -> dict[Pubkey, Whirlpool | None]:
        """The state of each pool address; None where no account exists."""
        found: dict[Pubkey, Whirlpool | None] = {}
        for at in range(0, len(addresses), MAX_ACCOUNTS_PER_CALL):
            chunk = addresses[at : at + MAX_ACCOUNTS_PER_CALL]
            for key, acc in zip(chunk, await self.accounts(chunk), strict=True):
                found[key] = None if acc is None else self.decode_pool(key, acc)
        return found

    async def discover(self, mint_x: Pubkey, mint_y: Pubkey) -> dict[Pubkey, Whirlpool]:
        """Every pool of the pair the node can find: ``getProgramAccounts``, or where the node refuses that, the
        :meth:`canonical` addresses."""
        try:
            return await self.program_pools(mint_x, mint_y)
        except DiscoveryRefused as exc:
            log.debug("getProgramAccounts refused (%s); checking the pair's pool addresses", exc)
            states = await self.pool_states(self.canonical(mint_x, mint_y))
            return {key: state for key, state in states.items() if state is not None}

    async def snapshots(self, pools: dict[Pubkey, Whirlpool]) -> list[WhirlpoolSnapshot]:
        """For each pool, its fresh state, mints and tick arrays, in ONE ``getMultipleAccounts`` so every value
        is from the same slot. ``pools`` gives the states last seen (where to look for the arrays)."""
        if len(pools) > MAX_POOLS_PER_QUOTE:
            raise FatalError(f"at most {MAX_POOLS_PER_QUOTE} pools per quote, got {len(pools)}")
        around = dict(pools)
        for _ in range(_ROUNDS):
            keys = _unique(k for a, state in around.items() for k in (a, *self.pool_accounts(a, state)))
            fetched = dict(zip(keys, await self.accounts(keys), strict=True))
            fresh = {a: self.decode_pool(a, _present(fetched, a, "Whirlpool")) for a in around}
            if all(self.holds(a, state, fetched) for a, state in fresh.items()):
                return [self.snapshot(a, pools[a], fetched) for a in pools]
            around = fresh
        raise FatalError("the Whirlpools' prices moved past their tick arrays twice while being read")

    def holds(self, address: Pubkey, state: Whirlpool, fetched: dict[Pubkey, Account | None]) -> bool:
        """Whether ``fetched`` holds every tick array a swap either way may walk from ``state``'s price."""
        return all(key in fetched for key in self.tick_array_keys(address, walk_starts(state)).values())

    def snapshot(self, address: Pubkey, known: Whirlpool, fetched: dict[Pubkey, Account | None]) -> WhirlpoolSnapshot:
        """The pool at ``address`` from accounts already fetched (it named the mints of ``known``); the caller
        checked that they hold every tick array its walks need."""
        pool_account = fetched.get(address)
        if pool_account is None:
            raise FatalError(f"Orca Whirlpool {address} no longer exists")
        state = self.decode_pool(address, pool_account)
        if (state.token_mint_a, state.token_mint_b) != (known.token_mint_a, known.token_mint_b):
            raise MalformedAccount(f"pool {address} now names other mints than it did")
        account_a = _present(fetched, state.token_mint_a, "mint")
        account_b = _present(fetched, state.token_mint_b, "mint")
        arrays: dict[int, TickArray] = {}
        for start, key in self.tick_array_keys(address, walk_starts(state)).items():
            account = fetched.get(key)
            if account is None:
                continue  # no account: the program walks it as uninitialized ticks
            arrays[start] = self.decode_tick_array(key, account, address, start)
        return WhirlpoolSnapshot(
            address, state, read_mint(account_a, state.token_mint_a), read_mint(account_b, state.token_mint_b),
            account_a.owner, account_b.owner, arrays,
        )  # fmt: skip

    def decode_tick_array(self, key: Pubkey, account: Account, pool: Pubkey, start: int) -> TickArray:
        if account.owner != self.program_id:
            raise MalformedAccount(f"tick array {key} is owned by {account.owner}, not the Whirlpool program")
        try:
            array = decode_tick_array(bytes(account.data))
        except MalformedAccount as exc:
            raise MalformedAccount(f"tick array {key}: {exc}") from exc
        if (array.whirlpool, array.start_tick_index) != (pool, start):
            raise MalformedAccount(f"tick array {key} is not pool {pool}'s array at tick {start}")
        return array


def _present(fetched: dict[Pubkey, Account | None], key: Pubkey, what: str) -> Account:
    account = fetched.get(key)
    if account is None:
        raise MalformedAccount(f"{what} {key} does not exist")
    return account


def _unique(keys: Iterable[Pubkey]) -> list[Pubkey]:
    return list(dict.fromkeys(keys))
