"""Raydium CPMM pools on a localnet, built byte-exactly with the adapter's own encoders, for the contract suite
and the adapter's tests.

:func:`adapter_under_test` yields a :class:`RaydiumCpmmAdapter` quoting a SOL/USDC pool loaded into a fresh
localnet. :class:`PoolFiles` and :func:`build_pool` write any pool's accounts as solana CLI account files,
which ``running_localnet(accounts=...)`` loads.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from solders.pubkey import Pubkey

from adapters.dexes.raydium_cpmm import RaydiumCpmmAdapter
from adapters.dexes.raydium_cpmm.instructions import (
    authority_address,
    config_address,
    observation_address,
    pool_address,
    sort_mints,
    vault_address,
)
from adapters.dexes.raydium_cpmm.layouts import (
    AmmConfig,
    PoolState,
    encode_amm_config,
    encode_observation_state,
    encode_pool_state,
)
from adapters.pools import PoolBook
from adapters.settlement import ChainConfig, ChainRpc
from adapters.solana.accounts import encode_token_account
from adapters.solana.spl import NATIVE_MINT, TOKEN_PROGRAM_ID
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from localnet import running_localnet
from tests.adapters.contract.accounts import AccountFiles
from tools.chain_pools import CONFIG_0, PROGRAM_ID, TOKEN_ACCOUNT_RENT

TOKENS = TokenRegistry.for_network(Network.LOCALNET)
SOL = TOKENS.by_mint(str(NATIVE_MINT))
USDC = TOKENS.by_mint("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")

# The SOL/USDC pool the contract suite quotes: 1,000 SOL and 150,000 USDC of liquidity, with protocol and
# fund fees accrued in both vaults (SOL sorts first, so it is token 0).
SOL_RESERVE, USDC_RESERVE = 1_000 * 10**9, 150_000 * 10**6
SOL_USDC_FEES = {"protocol": (1_200_000, 30_000), "fund": (400_000, 10_000)}


@dataclass
class PoolFiles(AccountFiles):
    """Account files, plus the AmmConfig a CPMM pool points at."""

    def amm_config(self, config: AmmConfig = CONFIG_0, program_id: Pubkey = PROGRAM_ID) -> Pubkey:
        address = config_address(program_id, config.index)
        self.write(address, program_id, encode_amm_config(config))
        return address


@dataclass(frozen=True)
class LocalPool:
    """A pool written by :func:`build_pool`: its address, state, fee tier and vault amounts."""

    address: Pubkey
    state: PoolState
    config: AmmConfig
    vault_0_amount: int
    vault_1_amount: int

    def book_entry(self) -> dict[str, Any]:
        mints = [str(self.state.token_0_mint), str(self.state.token_1_mint)]
        return {"dex": "raydium", "address": str(self.address), "mints": mints}


def build_pool(
    files: PoolFiles,
    token_a: Token,
    reserve_a: int,
    token_b: Token,
    reserve_b: int,
    *,
    config: AmmConfig = CONFIG_0,
    address: Pubkey | None = None,
    program_id: Pubkey = PROGRAM_ID,
    token_programs: dict[str, Pubkey] | None = None,
    protocol: tuple[int, int] = (0, 0),
    fund: tuple[int, int] = (0, 0),
    creator: tuple[int, int] = (0, 0),
    status: int = 0,
    open_time: int = 0,
    creator_fee_on: int = 0,
    enable_creator_fee: bool = False,
) -> LocalPool:
    """Write a pool trading ``token_a``/``token_b`` with the given liquidity (reserves exclude accrued fees;
    fee pairs are in token 0/1 order, the program's sorted order). ``address`` None puts it at its canonical
    PDA under ``config``; vaults and the oracle sit at their PDAs. The AmmConfig and mints are not written."""
    programs = token_programs or {}
    mint_a, mint_b = Pubkey.from_string(token_a.mint), Pubkey.from_string(token_b.mint)
    mint_0, mint_1 = sort_mints(mint_a, mint_b)
    by_mint = {mint_a: (token_a, reserve_a), mint_b: (token_b, reserve_b)}
    (token_0, reserve_0), (token_1, reserve_1) = by_mint[mint_0], by_mint[mint_1]
    program_0 = programs.get(token_0.mint, TOKEN_PROGRAM_ID)
    program_1 = programs.get(token_1.mint, TOKEN_PROGRAM_ID)
    amm_config = config_address(program_id, config.index)
    pool = address or pool_address(program_id, amm_config, mint_0, mint_1)
    authority, bump = authority_address(program_id)
    vault_0, vault_1 = vault_address(program_id, pool, mint_0), vault_address(program_id, pool, mint_1)
    amount_0 = reserve_0 + protocol[0] + fund[0] + creator[0]
    amount_1 = reserve_1 + protocol[1] + fund[1] + creator[1]
    state = PoolState(
        amm_config=amm_config, pool_creator=Pubkey.from_bytes(bytes([3]) * 32), token_0_vault=vault_0,
        token_1_vault=vault_1, lp_mint=Pubkey.find_program_address([b"pool_lp_mint", bytes(pool)], program_id)[0],
        token_0_mint=mint_0, token_1_mint=mint_1, token_0_program=program_0, token_1_program=program_1,
        observation_key=observation_address(program_id, pool), auth_bump=bump, status=status, lp_mint_decimals=9,
        mint_0_decimals=token_0.decimals, mint_1_decimals=token_1.decimals, lp_supply=10**12,
        protocol_fees_token_0=protocol[0], protocol_fees_token_1=protocol[1], fund_fees_token_0=fund[0],
        fund_fees_token_1=fund[1], open_time=open_time, recent_epoch=0, creator_fee_on=creator_fee_on,
        enable_creator_fee=enable_creator_fee, creator_fees_token_0=creator[0], creator_fees_token_1=creator[1],
    )  # fmt: skip
    files.write(pool, program_id, encode_pool_state(state))
    for vault, mint, program, amount in (
        (vault_0, mint_0, program_0, amount_0),
        (vault_1, mint_1, program_1, amount_1),
    ):
        if mint == NATIVE_MINT:
            data = encode_token_account(mint, authority, amount, native_reserve=TOKEN_ACCOUNT_RENT)
            files.write(vault, program, data, TOKEN_ACCOUNT_RENT + amount)
        else:
            files.write(vault, program, encode_token_account(mint, authority, amount), TOKEN_ACCOUNT_RENT)
    files.write(state.observation_key, program_id, encode_observation_state(pool))
    return LocalPool(pool, state, config, amount_0, amount_1)


def build_sol_usdc_pool(files: PoolFiles, **options: Any) -> LocalPool:
    """The contract suite's SOL/USDC pool at its canonical address."""
    return build_pool(
        files, SOL, SOL_RESERVE, USDC, USDC_RESERVE, protocol=SOL_USDC_FEES["protocol"], fund=SOL_USDC_FEES["fund"],
        **options,
    )  # fmt: skip


def book_with(pools: Sequence[LocalPool]) -> PoolBook:
    """The localnet pool book (mainnet program IDs) with ``pools`` configured."""
    return PoolBook.load(Network.LOCALNET, inline=orjson.dumps({"pools": [p.book_entry() for p in pools]}).decode())


def chain_config(url: str, **overrides: Any) -> ChainConfig:
    options: dict[str, Any] = {"rpc_backoff_s": 0.01, "rpc_backoff_max_s": 0.05, "rpc_max_attempts": 3}
    return ChainConfig(Network.LOCALNET, url, **(options | overrides))


@contextlib.asynccontextmanager
async def adapter_under_test() -> AsyncIterator[tuple[RaydiumCpmmAdapter, Token, Token, int]]:
    """A Raydium CPMM adapter over a fresh localnet holding one SOL/USDC pool: ``(adapter, SOL, USDC, 1 SOL)``."""
    with tempfile.TemporaryDirectory(prefix="oee-cpmm-") as folder:
        files = PoolFiles(Path(folder))
        files.amm_config()
        pool = build_sol_usdc_pool(files)
        async with running_localnet(slot_ms=50, accounts=files.accounts) as net:
            adapter = RaydiumCpmmAdapter(ChainRpc(chain_config(net.url)), book_with([pool]), TOKENS)
            try:
                yield adapter, SOL, USDC, 10**9
            finally:
                await adapter.aclose()
