"""The AMM v4 adapter's reads: pool states, one consistent snapshot per quote, and pool discovery.

Every call goes through :class:`ChainRpc`'s classification and retries; what fails leaves as an
:mod:`kernel.errors` type. Accounts are checked against what their address promises (owner, size, mint)
and a mismatch raises :class:`~adapters.solana.errors.MalformedAccount`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from solders.account import Account
from solders.pubkey import Pubkey

from adapters.dexes.raydium_amm_v4.config import MAX_POOLS_PER_QUOTE, RaydiumAmmV4Config
from adapters.dexes.raydium_amm_v4.layouts import (
    AMM_INFO_LEN,
    COIN_MINT_OFFSET,
    PC_MINT_OFFSET,
    AmmInfo,
    decode_amm_info,
)
from adapters.dexes.raydium_amm_v4.math import swaps_without_book
from adapters.onchain_dex.discovery import search_program
from adapters.solana.accounts import CLOCK_SYSVAR, Clock, Mint, decode_token_account, read_clock, read_mint
from adapters.solana.errors import DiscoveryRefused, MalformedAccount
from adapters.solana.rpc import ChainRpc
from adapters.solana.spl import TOKEN_PROGRAM_ID
from kernel.errors import FatalError

log = logging.getLogger("oee.raydium_amm_v4")

MAX_ACCOUNTS_PER_CALL = 100


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    """A pool and everything its quote reads, all from one ``getMultipleAccounts`` (the same slot)."""

    address: Pubkey
    state: AmmInfo
    coin_vault_amount: int
    pc_vault_amount: int
    coin_mint: Mint
    pc_mint: Mint


def pool_accounts(state: AmmInfo) -> tuple[Pubkey, ...]:
    """The accounts a quote reads besides the pool itself."""
    return (state.coin_vault, state.pc_vault, state.coin_vault_mint, state.pc_vault_mint)


class RaydiumAmmV4Client:
    """Reads AMM v4 accounts through ``rpc``. Holds no state between calls."""

    def __init__(self, rpc: ChainRpc, config: RaydiumAmmV4Config) -> None:
        self.rpc = rpc
        self.config = config

    @property
    def program_id(self) -> Pubkey:
        return self.config.program_id

    async def accounts(self, keys: Sequence[Pubkey]) -> list[Account | None]:
        """``getMultipleAccounts`` (base64) of at most 100 keys, in order; None where no account exists."""
        if len(keys) > MAX_ACCOUNTS_PER_CALL:
            raise FatalError(f"getMultipleAccounts takes at most {MAX_ACCOUNTS_PER_CALL} keys, got {len(keys)}")
        return await self.rpc.multiple_accounts(keys, f"reading {len(keys)} Raydium AMM v4 accounts")

    async def program_pools(self, mint_a: Pubkey, mint_b: Pubkey) -> dict[Pubkey, AmmInfo]:
        """Every pool of the pair that swaps without its order book, by ``getProgramAccounts`` with memcmp
        filters on both mints, once for each coin/pc order (a pool's sides are in no byte order). Raises
        :class:`DiscoveryRefused` when the node answers that request with a JSON-RPC error."""
        found: dict[Pubkey, AmmInfo] = {}
        for coin, pc in ((mint_a, mint_b), (mint_b, mint_a)):
            mints = ((COIN_MINT_OFFSET, coin), (PC_MINT_OFFSET, pc))
            accounts = await search_program(
                self.rpc, self.program_id, AMM_INFO_LEN, mints, "searching Raydium AMM v4 pools"
            )
            for key, account in accounts:
                state = self.decode_pool(key, account)
                if (state.coin_vault_mint, state.pc_vault_mint) != (coin, pc):
                    continue
                if swaps_without_book(state.status, self.config.build):  # the only pools traded here
                    found[key] = state
        return found

    async def discover(self, mint_a: Pubkey, mint_b: Pubkey) -> dict[Pubkey, AmmInfo]:
        """:meth:`program_pools`; none where the node refuses to search (AMM v4 pools sit at addresses made
        from their OpenBook market, so there is no address to derive from the mints alone)."""
        try:
            return await self.program_pools(mint_a, mint_b)
        except DiscoveryRefused as exc:
            log.debug("getProgramAccounts refused (%s); no Raydium AMM v4 pool can be found", exc)
            return {}

    def decode_pool(self, key: Pubkey, account: Account) -> AmmInfo:
        if account.owner != self.program_id:
            raise MalformedAccount(f"pool {key} is owned by {account.owner}, not the AMM v4 program {self.program_id}")
        try:
            return decode_amm_info(bytes(account.data))
        except MalformedAccount as exc:
            raise MalformedAccount(f"pool {key}: {exc}") from exc

    async def pool_states(self, addresses: Sequence[Pubkey]) -> dict[Pubkey, AmmInfo | None]:
        """The state of each pool address; None where no account exists."""
        found = await self.accounts(addresses)
        return {
            key: None if acc is None else self.decode_pool(key, acc) for key, acc in zip(addresses, found, strict=True)
        }

    async def snapshots(self, pools: dict[Pubkey, AmmInfo]) -> tuple[Clock, list[PoolSnapshot]]:
        """The clock and, for each pool, its fresh state, both vault amounts and both mints, in ONE
        ``getMultipleAccounts`` so every amount is from the same slot. ``pools`` gives the addresses the states
        point at (they never change for a pool)."""
        if len(pools) > MAX_POOLS_PER_QUOTE:
            raise FatalError(f"at most {MAX_POOLS_PER_QUOTE} pools per quote, got {len(pools)}")
        keys = _unique([CLOCK_SYSVAR] + [k for a, state in pools.items() for k in (a, *pool_accounts(state))])
        fetched = dict(zip(keys, await self.accounts(keys), strict=True))
        clock = read_clock(fetched[CLOCK_SYSVAR])
        return clock, [self.snapshot(address, known, fetched) for address, known in pools.items()]

    def snapshot(self, address: Pubkey, known: AmmInfo, fetched: dict[Pubkey, Account | None]) -> PoolSnapshot:
        """The pool at ``address`` from accounts already fetched (it pointed at the accounts of ``known``)."""
        pool_account = fetched.get(address)
        if pool_account is None:
            raise FatalError(f"Raydium AMM v4 pool {address} no longer exists")
        state = self.decode_pool(address, pool_account)
        if pool_accounts(state) != pool_accounts(known):
            raise MalformedAccount(f"pool {address} now points at other accounts than it did")
        coin_amount = _vault_amount(fetched, state.coin_vault, state.coin_vault_mint)
        pc_amount = _vault_amount(fetched, state.pc_vault, state.pc_vault_mint)
        coin_mint = read_mint(_present(fetched, state.coin_vault_mint, "mint"), state.coin_vault_mint, TOKEN_PROGRAM_ID)
        pc_mint = read_mint(_present(fetched, state.pc_vault_mint, "mint"), state.pc_vault_mint, TOKEN_PROGRAM_ID)
        return PoolSnapshot(address, state, coin_amount, pc_amount, coin_mint, pc_mint)


def _vault_amount(fetched: dict[Pubkey, Account | None], vault: Pubkey, mint: Pubkey) -> int:
    account = _present(fetched, vault, "pool vault")
    if account.owner != TOKEN_PROGRAM_ID:
        raise MalformedAccount(f"vault {vault} is owned by {account.owner}, not SPL Token")
    view = decode_token_account(bytes(account.data))
    if view.mint != mint:
        raise MalformedAccount(f"vault {vault} holds {view.mint}, not {mint}")
    return view.amount


def _present(fetched: dict[Pubkey, Account | None], key: Pubkey, what: str) -> Account:
    account = fetched.get(key)
    if account is None:
        raise MalformedAccount(f"{what} {key} does not exist")
    return account


def _unique(keys: Iterable[Pubkey]) -> list[Pubkey]:
    return list(dict.fromkeys(keys))
