"""The CPMM adapter's reads: pool states, one consistent snapshot per quote, and pool discovery.

Every call goes through :class:`ChainRpc`'s classification and retries; what fails leaves as
an :mod:`kernel.errors` type. Accounts are checked against what their address promises (owner, size,
discriminator, mint) and a mismatch raises :class:`~adapters.solana.errors.MalformedAccount`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from solders.account import Account
from solders.pubkey import Pubkey

from adapters.dexes.raydium_cpmm.config import MAX_POOLS_PER_QUOTE, RaydiumCpmmConfig
from adapters.dexes.raydium_cpmm.instructions import config_address, pool_address, sort_mints
from adapters.dexes.raydium_cpmm.layouts import (
    POOL_STATE_LEN,
    TOKEN_0_MINT_OFFSET,
    TOKEN_1_MINT_OFFSET,
    AmmConfig,
    PoolState,
    decode_amm_config,
    decode_pool_state,
)
from adapters.onchain_dex.discovery import search_program
from adapters.solana.accounts import CLOCK_SYSVAR, Clock, Mint, decode_token_account, read_clock, read_mint
from adapters.solana.errors import DiscoveryRefused, MalformedAccount
from adapters.solana.rpc import ChainRpc
from kernel.errors import FatalError

log = logging.getLogger("oee.raydium_cpmm")

MAX_ACCOUNTS_PER_CALL = 100


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    """A pool and everything its quote reads, all from one ``getMultipleAccounts`` (the same slot)."""

    address: Pubkey
    state: PoolState
    config: AmmConfig
    vault_0_amount: int
    vault_1_amount: int
    mint_0: Mint
    mint_1: Mint


class RaydiumCpmmClient:
    """Reads CPMM accounts through ``rpc``. Holds no state between calls."""

    def __init__(self, rpc: ChainRpc, config: RaydiumCpmmConfig) -> None:
        self.rpc = rpc
        self.config = config

    @property
    def program_id(self) -> Pubkey:
        return self.config.program_id

    # --- raw reads ----------------------------------------------------------------------------------

    async def accounts(self, keys: Sequence[Pubkey]) -> list[Account | None]:
        """``getMultipleAccounts`` (base64) of at most 100 keys, in order; None where no account exists."""
        if len(keys) > MAX_ACCOUNTS_PER_CALL:
            raise FatalError(f"getMultipleAccounts takes at most {MAX_ACCOUNTS_PER_CALL} keys, got {len(keys)}")
        return await self.rpc.multiple_accounts(keys, f"reading {len(keys)} Raydium CPMM accounts")

    async def program_pools(self, mint_0: Pubkey, mint_1: Pubkey) -> dict[Pubkey, PoolState]:
        """Every pool of the sorted pair, by ``getProgramAccounts`` with memcmp filters on both mints.
        Raises :class:`DiscoveryRefused` when the node answers that request with a JSON-RPC error."""
        mints = ((TOKEN_0_MINT_OFFSET, mint_0), (TOKEN_1_MINT_OFFSET, mint_1))
        found = await search_program(self.rpc, self.program_id, POOL_STATE_LEN, mints, "searching Raydium CPMM pools")
        pools = {key: self.decode_pool(key, account) for key, account in found}
        return {k: p for k, p in pools.items() if (p.token_0_mint, p.token_1_mint) == (mint_0, mint_1)}

    # --- decoding with ownership checks -----------------------------------------------------------------

    def decode_pool(self, key: Pubkey, account: Account) -> PoolState:
        if account.owner != self.program_id:
            raise MalformedAccount(f"pool {key} is owned by {account.owner}, not the CPMM program {self.program_id}")
        try:
            return decode_pool_state(bytes(account.data))
        except MalformedAccount as exc:
            raise MalformedAccount(f"pool {key}: {exc}") from exc

    # --- what the adapter asks -------------------------------------------------------------------------

    async def pool_states(self, addresses: Sequence[Pubkey]) -> dict[Pubkey, PoolState | None]:
        """The state of each pool address; None where no account exists."""
        found = await self.accounts(addresses)
        return {
            key: None if acc is None else self.decode_pool(key, acc) for key, acc in zip(addresses, found, strict=True)
        }

    async def canonical_pools(self, mint_a: Pubkey, mint_b: Pubkey) -> dict[Pubkey, PoolState]:
        """The pair's pools at their PDAs under the configured AmmConfig indexes, where they exist."""
        mint_0, mint_1 = sort_mints(mint_a, mint_b)
        addresses = [
            pool_address(self.program_id, config_address(self.program_id, index), mint_0, mint_1)
            for index in self.config.discovery_config_indexes
        ]
        states = await self.pool_states(addresses)
        return {key: state for key, state in states.items() if state is not None}

    async def discover(self, mint_a: Pubkey, mint_b: Pubkey) -> dict[Pubkey, PoolState]:
        """Every pool of the pair the node can find: ``getProgramAccounts``, or where the node refuses that,
        the canonical PDAs."""
        mint_0, mint_1 = sort_mints(mint_a, mint_b)
        try:
            return await self.program_pools(mint_0, mint_1)
        except DiscoveryRefused as exc:
            log.debug("getProgramAccounts refused (%s); checking the canonical pool addresses", exc)
            return await self.canonical_pools(mint_0, mint_1)

    async def snapshots(self, pools: dict[Pubkey, PoolState]) -> tuple[Clock, list[PoolSnapshot]]:
        """The clock and, for each pool, its fresh state, AmmConfig, both vault amounts and both mints, in
        ONE ``getMultipleAccounts`` so every amount is from the same slot. ``pools`` gives the addresses the
        states point at (they never change for a pool)."""
        if len(pools) > MAX_POOLS_PER_QUOTE:
            raise FatalError(f"at most {MAX_POOLS_PER_QUOTE} pools per quote, got {len(pools)}")
        keys = _unique(
            [CLOCK_SYSVAR]
            + [k for address, state in pools.items() for k in (address, *_pool_accounts(state))]
        )  # fmt: skip
        fetched = dict(zip(keys, await self.accounts(keys), strict=True))
        clock = read_clock(fetched[CLOCK_SYSVAR])
        return clock, [self._snapshot(address, known, fetched) for address, known in pools.items()]

    def _snapshot(self, address: Pubkey, known: PoolState, fetched: dict[Pubkey, Account | None]) -> PoolSnapshot:
        pool_account = fetched[address]
        if pool_account is None:
            raise FatalError(f"Raydium CPMM pool {address} no longer exists")
        state = self.decode_pool(address, pool_account)
        if _pool_accounts(state) != _pool_accounts(known):
            raise MalformedAccount(f"pool {address} now points at other accounts than it did")
        config_account = _present(fetched, state.amm_config, f"AmmConfig of pool {address}")
        if config_account.owner != self.program_id:
            raise MalformedAccount(f"AmmConfig {state.amm_config} is not owned by the CPMM program")
        try:
            config = decode_amm_config(bytes(config_account.data))
        except MalformedAccount as exc:
            raise MalformedAccount(f"AmmConfig {state.amm_config}: {exc}") from exc
        amounts = [
            self._vault_amount(fetched, vault, mint, program)
            for vault, mint, program in (
                (state.token_0_vault, state.token_0_mint, state.token_0_program),
                (state.token_1_vault, state.token_1_mint, state.token_1_program),
            )
        ]
        mint_0 = self._mint(fetched, state.token_0_mint, state.token_0_program)
        mint_1 = self._mint(fetched, state.token_1_mint, state.token_1_program)
        return PoolSnapshot(address, state, config, amounts[0], amounts[1], mint_0, mint_1)

    @staticmethod
    def _vault_amount(fetched: dict[Pubkey, Account | None], vault: Pubkey, mint: Pubkey, program: Pubkey) -> int:
        account = _present(fetched, vault, "pool vault")
        if account.owner != program:
            raise MalformedAccount(f"vault {vault} is owned by {account.owner}, not {program}")
        view = decode_token_account(bytes(account.data))
        if view.mint != mint:
            raise MalformedAccount(f"vault {vault} holds {view.mint}, not {mint}")
        return view.amount

    @staticmethod
    def _mint(fetched: dict[Pubkey, Account | None], mint: Pubkey, program: Pubkey) -> Mint:
        return read_mint(_present(fetched, mint, "mint"), mint, program)


def _pool_accounts(state: PoolState) -> tuple[Pubkey, ...]:
    """The accounts a quote reads besides the pool itself."""
    return (state.amm_config, state.token_0_vault, state.token_1_vault, state.token_0_mint, state.token_1_mint)


def _present(fetched: dict[Pubkey, Account | None], key: Pubkey, what: str) -> Account:
    account = fetched.get(key)
    if account is None:
        raise MalformedAccount(f"{what} {key} does not exist")
    return account


def _unique(keys: Iterable[Pubkey]) -> list[Pubkey]:
    return list(dict.fromkeys(keys))
