"""The DAMM v2 adapter's reads: pool states, one consistent snapshot per quote, and pool discovery.

Every call goes through :class:`ChainRpc`'s classification and retries; what fails leaves as an
:mod:`kernel.errors` type. Accounts are checked against what their address promises (owner, size,
discriminator, token program) and a mismatch raises :class:`~adapters.solana.errors.MalformedAccount`.

A quote reads the pool (its fees, price, liquidity and tracked reserves are all there), both mints (decimals,
Token-2022 transfer fees) and the Clock: the vaults hold the same tokens but the program never prices on them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from solders.account import Account
from solders.pubkey import Pubkey

from adapters.dexes.meteora_damm_v2.config import MAX_POOLS_PER_QUOTE, MeteoraDammV2Config
from adapters.dexes.meteora_damm_v2.instructions import customizable_pool_address, pool_address, token_programs
from adapters.dexes.meteora_damm_v2.layouts import (
    POOL_LEN,
    TOKEN_A_MINT_OFFSET,
    TOKEN_B_MINT_OFFSET,
    Pool,
    decode_pool,
)
from adapters.onchain_dex.discovery import search_program
from adapters.solana.accounts import CLOCK_SYSVAR, Clock, Mint, read_clock, read_mint
from adapters.solana.errors import DiscoveryRefused, MalformedAccount
from adapters.solana.rpc import ChainRpc
from kernel.errors import FatalError

log = logging.getLogger("oee.meteora_damm_v2")

MAX_ACCOUNTS_PER_CALL = 100


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    """A pool and everything its quote reads, all from one ``getMultipleAccounts`` (the same slot)."""

    address: Pubkey
    state: Pool
    mint_a: Mint
    mint_b: Mint


def pool_accounts(state: Pool) -> tuple[Pubkey, ...]:
    """The accounts a quote reads besides the pool itself: its two mints."""
    return (state.token_a_mint, state.token_b_mint)


class MeteoraDammV2Client:
    """Reads DAMM v2 accounts through ``rpc``. Holds no state between calls."""

    def __init__(self, rpc: ChainRpc, config: MeteoraDammV2Config) -> None:
        self.rpc = rpc
        self.config = config

    @property
    def program_id(self) -> Pubkey:
        return self.config.program_id

    async def accounts(self, keys: Sequence[Pubkey]) -> list[Account | None]:
        """``getMultipleAccounts`` (base64) of at most 100 keys, in order; None where no account exists."""
        if len(keys) > MAX_ACCOUNTS_PER_CALL:
            raise FatalError(f"getMultipleAccounts takes at most {MAX_ACCOUNTS_PER_CALL} keys, got {len(keys)}")
        return await self.rpc.multiple_accounts(keys, f"reading {len(keys)} Meteora DAMM v2 accounts")

    def decode_pool(self, key: Pubkey, account: Account) -> Pool:
        if account.owner != self.program_id:
            raise MalformedAccount(f"pool {key} is owned by {account.owner}, not the DAMM v2 program {self.program_id}")
        try:
            return decode_pool(bytes(account.data))
        except MalformedAccount as exc:
            raise MalformedAccount(f"pool {key}: {exc}") from exc

    async def program_pools(self, mint_x: Pubkey, mint_y: Pubkey) -> dict[Pubkey, Pool]:
        """Every pool of the pair, by ``getProgramAccounts`` with memcmp filters on both mints, once for each
        A/B order (a pool's tokens are in its creator's order). Raises :class:`DiscoveryRefused` when the node
        answers that request with a JSON-RPC error."""
        found: dict[Pubkey, Pool] = {}
        for mint_a, mint_b in ((mint_x, mint_y), (mint_y, mint_x)):
            mints = ((TOKEN_A_MINT_OFFSET, mint_a), (TOKEN_B_MINT_OFFSET, mint_b))
            accounts = await search_program(self.rpc, self.program_id, POOL_LEN, mints, "searching DAMM v2 pools")
            for key, account in accounts:
                state = self.decode_pool(key, account)
                if (state.token_a_mint, state.token_b_mint) == (mint_a, mint_b):
                    found[key] = state
        return found

    def canonical(self, mint_x: Pubkey, mint_y: Pubkey) -> list[Pubkey]:
        """The addresses the pair's pools sit at when the program made them: its customizable pool, and its
        pool under each of the configured configs."""
        program = self.program_id
        return [
            customizable_pool_address(program, mint_x, mint_y),
            *(pool_address(program, config, mint_x, mint_y) for config in self.config.discovery_configs),
        ]

    async def pool_states(self, addresses: Sequence[Pubkey]) -> dict[Pubkey, Pool | None]:
        """The state of each pool address; None where no account exists."""
        found = await self.accounts(addresses)
        return {
            key: None if acc is None else self.decode_pool(key, acc) for key, acc in zip(addresses, found, strict=True)
        }

    async def discover(self, mint_x: Pubkey, mint_y: Pubkey) -> dict[Pubkey, Pool]:
        """Every pool of the pair the node can find: ``getProgramAccounts``, or where the node refuses that,
        the :meth:`canonical` addresses."""
        try:
            return await self.program_pools(mint_x, mint_y)
        except DiscoveryRefused as exc:
            log.debug("getProgramAccounts refused (%s); checking the pair's pool addresses", exc)
            states = await self.pool_states(self.canonical(mint_x, mint_y))
            return {key: state for key, state in states.items() if state is not None}

    async def snapshots(self, pools: dict[Pubkey, Pool]) -> tuple[Clock, list[PoolSnapshot]]:
        """The clock and, for each pool, its fresh state and both mints, in ONE ``getMultipleAccounts`` so every
        value is from the same slot. ``pools`` gives the mints the states name (they never change for a pool)."""
        if len(pools) > MAX_POOLS_PER_QUOTE:
            raise FatalError(f"at most {MAX_POOLS_PER_QUOTE} pools per quote, got {len(pools)}")
        keys = _unique([CLOCK_SYSVAR] + [k for a, state in pools.items() for k in (a, *pool_accounts(state))])
        fetched = dict(zip(keys, await self.accounts(keys), strict=True))
        clock = read_clock(fetched[CLOCK_SYSVAR])
        return clock, [self.snapshot(address, known, fetched) for address, known in pools.items()]

    def snapshot(self, address: Pubkey, known: Pool, fetched: dict[Pubkey, Account | None]) -> PoolSnapshot:
        """The pool at ``address`` from accounts already fetched (it named the mints of ``known``)."""
        pool_account = fetched.get(address)
        if pool_account is None:
            raise FatalError(f"Meteora DAMM v2 pool {address} no longer exists")
        state = self.decode_pool(address, pool_account)
        if pool_accounts(state) != pool_accounts(known):
            raise MalformedAccount(f"pool {address} now names other mints than it did")
        try:
            program_a, program_b = token_programs(state)
        except ValueError as exc:
            raise MalformedAccount(f"pool {address}: {exc}") from exc
        mint_a = read_mint(_present(fetched, state.token_a_mint, "mint"), state.token_a_mint, program_a)
        mint_b = read_mint(_present(fetched, state.token_b_mint, "mint"), state.token_b_mint, program_b)
        return PoolSnapshot(address, state, mint_a, mint_b)


def _present(fetched: dict[Pubkey, Account | None], key: Pubkey, what: str) -> Account:
    account = fetched.get(key)
    if account is None:
        raise MalformedAccount(f"{what} {key} does not exist")
    return account


def _unique(keys: Iterable[Pubkey]) -> list[Pubkey]:
    return list(dict.fromkeys(keys))
