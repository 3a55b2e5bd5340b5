"""The CLMM adapter's reads: pool states, one consistent snapshot per quote, and pool discovery.

Every call goes through :class:`ChainRpc`'s classification and retries; what fails leaves as an
:mod:`kernel.errors` type. Accounts are checked against what their address promises (owner, size,
discriminator) and a mismatch raises :class:`~adapters.solana.errors.MalformedAccount`.

A quote reads the pool, its AmmConfig (the trade fee), the bitmap extension (absent on pools made before it
existed), both mints (decimals, token program, Token-2022 transfer fees) and the tick arrays its walk may use:
the initialized one holding the current tick, the one behind it and the next ones ahead in the swap's
direction, chosen from the pool as last read. When the pool read shows the price moved to where other arrays
are needed, everything is read again together, so one snapshot is always of one slot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from solders.account import Account
from solders.pubkey import Pubkey

from adapters.dexes.raydium_clmm.config import MAX_POOLS_PER_QUOTE, TICK_ARRAYS_AHEAD, RaydiumClmmConfig
from adapters.dexes.raydium_clmm.instructions import bitmap_extension_address, pool_address, tick_array_address
from adapters.dexes.raydium_clmm.layouts import (
    POOL_LEN,
    TOKEN_MINT_0_OFFSET,
    TOKEN_MINT_1_OFFSET,
    AmmConfig,
    PoolState,
    TickArrayBitmapExtension,
    TickArrayState,
    decode_amm_config,
    decode_bitmap_extension,
    decode_pool,
    decode_tick_array,
)
from adapters.dexes.raydium_clmm.math import initialized_tick_arrays, tick_array_start_index
from adapters.onchain_dex.discovery import search_program
from adapters.solana.accounts import CLOCK_SYSVAR, Clock, Mint, read_clock, read_mint
from adapters.solana.errors import DiscoveryRefused, MalformedAccount
from adapters.solana.rpc import ChainRpc
from kernel.errors import FatalError

log = logging.getLogger("oee.raydium_clmm")

MAX_ACCOUNTS_PER_CALL = 100
_ROUNDS = 2  # a second read only when the first shows the price moved to other tick arrays


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    """A pool and everything its quote in one direction reads, all from one ``getMultipleAccounts``."""

    address: Pubkey
    state: PoolState
    config: AmmConfig
    extension: TickArrayBitmapExtension | None
    tick_arrays: dict[int, TickArrayState]
    mint_0: Mint
    mint_1: Mint
    program_0: Pubkey  # the token program owning each mint
    program_1: Pubkey


def walk_window(state: PoolState, extension: TickArrayBitmapExtension | None, zero_for_one: bool) -> list[int]:
    """The initialized tick arrays a swap in one direction may walk, in walk order: the one behind the current
    tick's array, that array (when initialized), then :data:`TICK_ARRAYS_AHEAD` more ahead."""
    starts = initialized_tick_arrays(state, extension)
    here = tick_array_start_index(state.tick_current, state.tick_spacing)
    if zero_for_one:
        behind = [s for s in starts if s > here][:1]
        ahead = [s for s in reversed(starts) if s <= here][: TICK_ARRAYS_AHEAD + 1]
    else:
        behind = [s for s in reversed(starts) if s < here][:1]
        ahead = [s for s in starts if s >= here][: TICK_ARRAYS_AHEAD + 1]
    return behind + ahead


class RaydiumClmmClient:
    """Reads CLMM accounts through ``rpc``. Holds no state between calls."""

    def __init__(self, rpc: ChainRpc, config: RaydiumClmmConfig) -> None:
        self.rpc = rpc
        self.config = config

    @property
    def program_id(self) -> Pubkey:
        return self.config.program_id

    async def accounts(self, keys: Sequence[Pubkey]) -> list[Account | None]:
        """``getMultipleAccounts`` (base64) of at most 100 keys, in order; None where no account exists."""
        if len(keys) > MAX_ACCOUNTS_PER_CALL:
            raise FatalError(f"getMultipleAccounts takes at most {MAX_ACCOUNTS_PER_CALL} keys, got {len(keys)}")
        return await self.rpc.multiple_accounts(keys, f"reading {len(keys)} Raydium CLMM accounts")

    def _owned(self, key: Pubkey, account: Account, what: str) -> bytes:
        if account.owner != self.program_id:
            raise MalformedAccount(f"{what} {key} is owned by {account.owner}, not the CLMM program {self.program_id}")
        return bytes(account.data)

    def decode_pool(self, key: Pubkey, account: Account) -> PoolState:
        try:
            return decode_pool(self._owned(key, account, "pool"))
        except MalformedAccount as exc:
            raise MalformedAccount(f"pool {key}: {exc}") from exc

    async def program_pools(self, mint_x: Pubkey, mint_y: Pubkey) -> dict[Pubkey, PoolState]:
        """Every pool of the pair, by ``getProgramAccounts`` with memcmp filters on both mints (mint 0 is the
        lower in byte order). Raises :class:`DiscoveryRefused` when the node refuses that request."""
        mint_0, mint_1 = sorted((mint_x, mint_y), key=bytes)
        mints = ((TOKEN_MINT_0_OFFSET, mint_0), (TOKEN_MINT_1_OFFSET, mint_1))
        accounts = await search_program(self.rpc, self.program_id, POOL_LEN, mints, "searching CLMM pools")
        found = {key: self.decode_pool(key, account) for key, account in accounts}
        return {k: s for k, s in found.items() if (s.token_mint_0, s.token_mint_1) == (mint_0, mint_1)}

    def canonical(self, mint_x: Pubkey, mint_y: Pubkey) -> list[Pubkey]:
        """The pair's pool PDA under each configured AmmConfig."""
        mint_0, mint_1 = sorted((mint_x, mint_y), key=bytes)
        return [pool_address(self.program_id, c, mint_0, mint_1)[0] for c in self.config.discovery_configs]

    async def pool_states(self, addresses: Sequence[Pubkey]) -> dict[Pubkey, PoolState | None]:
        """The state of each pool address; None where no account exists."""
        found = await self.accounts(addresses)
        return {
            key: None if acc is None else self.decode_pool(key, acc) for key, acc in zip(addresses, found, strict=True)
        }

    async def discover(self, mint_x: Pubkey, mint_y: Pubkey) -> dict[Pubkey, PoolState]:
        """Every pool of the pair the node can find: ``getProgramAccounts``, or where the node refuses that,
        the :meth:`canonical` addresses."""
        try:
            return await self.program_pools(mint_x, mint_y)
        except DiscoveryRefused as exc:
            log.debug("getProgramAccounts refused (%s); checking the pair's pool addresses", exc)
            states = await self.pool_states(self.canonical(mint_x, mint_y))
            return {key: state for key, state in states.items() if state is not None}

    def keys_of(
        self, address: Pubkey, state: PoolState, extension: TickArrayBitmapExtension | None, zero_for_one: bool
    ) -> list[Pubkey]:
        """What a quote of the pool in one direction reads, the pool first."""
        arrays = [tick_array_address(self.program_id, address, s) for s in walk_window(state, extension, zero_for_one)]
        return [address, state.amm_config, bitmap_extension_address(self.program_id, address), state.token_mint_0,
                state.token_mint_1, *arrays]  # fmt: skip

    async def snapshots(
        self, pools: dict[Pubkey, PoolState], zero_for_one: dict[Pubkey, bool]
    ) -> tuple[Clock, list[PoolSnapshot]]:
        """The clock and, for each pool, what its quote in its direction reads, in ONE ``getMultipleAccounts``
        (two when the pool moved to tick arrays the first did not ask for). ``pools`` is each pool as last
        read, which says where to look."""
        if len(pools) > MAX_POOLS_PER_QUOTE:
            raise FatalError(f"at most {MAX_POOLS_PER_QUOTE} pools per quote, got {len(pools)}")
        known, extensions = dict(pools), dict.fromkeys(pools)
        fetched: dict[Pubkey, Account | None] = {}
        for _ in range(_ROUNDS):
            wanted = {a: self.keys_of(a, s, extensions[a], zero_for_one[a]) for a, s in known.items()}
            keys = _unique([CLOCK_SYSVAR, *(k for ks in wanted.values() for k in ks)])
            fetched = dict(zip(keys, await self.accounts(keys), strict=True))
            moved = False
            for address in known:
                known[address] = self._fresh_state(address, fetched)
                extensions[address] = self.extension_of(address, fetched)
                needs = self.keys_of(address, known[address], extensions[address], zero_for_one[address])
                moved = moved or any(k not in fetched for k in needs)
            if not moved:
                break
        clock = read_clock(fetched[CLOCK_SYSVAR])
        return clock, [self.snapshot(a, known[a], fetched, zero_for_one[a]) for a in pools]

    def _fresh_state(self, address: Pubkey, fetched: dict[Pubkey, Account | None]) -> PoolState:
        account = fetched.get(address)
        if account is None:
            raise FatalError(f"Raydium CLMM pool {address} no longer exists")
        return self.decode_pool(address, account)

    def extension_of(self, address: Pubkey, fetched: dict[Pubkey, Account | None]) -> TickArrayBitmapExtension | None:
        key = bitmap_extension_address(self.program_id, address)
        account = fetched.get(key)
        if account is None:
            return None
        extension = decode_bitmap_extension(self._owned(key, account, "bitmap extension"))
        if extension.pool_id != address:
            raise MalformedAccount(f"bitmap extension {key} belongs to {extension.pool_id}, not {address}")
        return extension

    def snapshot(
        self, address: Pubkey, state: PoolState, fetched: dict[Pubkey, Account | None], zero_for_one: bool
    ) -> PoolSnapshot:
        """The pool at ``address`` from accounts already fetched."""
        state = self._fresh_state(address, fetched)
        extension = self.extension_of(address, fetched)
        config = decode_amm_config(
            self._owned(state.amm_config, _present(fetched, state.amm_config, "config"), "config")
        )
        arrays: dict[int, TickArrayState] = {}
        for start in walk_window(state, extension, zero_for_one):
            key = tick_array_address(self.program_id, address, start)
            account = fetched.get(key)
            if account is None:
                continue  # not read (or not there): a walk into it raises TickArrayMissing
            array = decode_tick_array(self._owned(key, account, "tick array"))
            if array.pool_id != address or array.start_tick_index != start:
                raise MalformedAccount(f"tick array {key} is not the array at {start} of pool {address}")
            arrays[start] = array
        account_0 = _present(fetched, state.token_mint_0, "mint")
        account_1 = _present(fetched, state.token_mint_1, "mint")
        mint_0 = read_mint(account_0, state.token_mint_0)
        mint_1 = read_mint(account_1, state.token_mint_1)
        return PoolSnapshot(address, state, config, extension, arrays, mint_0, mint_1, account_0.owner, account_1.owner)


def _present(fetched: dict[Pubkey, Account | None], key: Pubkey, what: str) -> Account:
    account = fetched.get(key)
    if account is None:
        raise MalformedAccount(f"{what} {key} does not exist")
    return account


def _unique(keys: Iterable[Pubkey]) -> list[Pubkey]:
    return list(dict.fromkeys(keys))
