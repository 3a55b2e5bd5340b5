"""Raydium AMM v4 pools on a localnet, built byte-exactly with the adapter's own encoders, for the contract suite
and the adapter's tests.

:func:`adapter_under_test` yields a :class:`RaydiumAmmV4Adapter` quoting a SOL/USDC pool loaded into a fresh
localnet. :func:`build_pool` writes any pool's accounts (the AmmInfo and its two vaults) as solana CLI account
files, which ``running_localnet(accounts=...)`` loads. A pool that swaps without its order book needs no
OpenBook market: its market, open orders and target orders are placeholder keys that hold no account.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from solders.pubkey import Pubkey

from adapters.dexes.raydium_amm_v4 import RaydiumAmmV4Adapter
from adapters.dexes.raydium_amm_v4.config import DEX_NAME
from adapters.dexes.raydium_amm_v4.instructions import authority_address
from adapters.dexes.raydium_amm_v4.layouts import AmmInfo, AmmStatus, Fees, StateData, encode_amm_info
from adapters.pools import RAYDIUM_AMM_V4, PoolBook
from adapters.settlement import ChainConfig, ChainRpc
from adapters.solana.accounts import encode_token_account
from adapters.solana.spl import NATIVE_MINT, TOKEN_ACCOUNT_RENT, TOKEN_PROGRAM_ID
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from localnet import running_localnet
from tests.adapters.contract.accounts import AccountFiles

PROGRAM_ID = Pubkey.from_string(PoolBook.load(Network.LOCALNET).program(RAYDIUM_AMM_V4))
OPENBOOK_PROGRAM_ID = Pubkey.from_string("srmqPvymJeFKQ4zGQed1GFppgkRHL9kaELCbyksJtPX")
TOKENS = TokenRegistry.for_network(Network.LOCALNET)
SOL = TOKENS.by_mint(str(NATIVE_MINT))
USDC = TOKENS.by_mint("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")

# The SOL/USDC pool the contract suite quotes: SOL the coin, USDC the pc (as mainnet's), 1,000 SOL and
# 150,000 USDC of liquidity beyond the PnL the protocol has yet to take from each vault.
SOL_RESERVE, USDC_RESERVE = 1_000 * 10**9, 150_000 * 10**6
SOL_USDC_PNL = (1_234_567, 89_012)


def placeholder(*parts: bytes) -> Pubkey:
    """A key no account lives at, named by ``parts`` (pools' markets, open orders and vault addresses)."""
    return Pubkey.from_bytes(hashlib.sha256(b"oee-amm-v4" + b"".join(parts)).digest())


@dataclass(frozen=True)
class LocalPool:
    """A pool written by :func:`build_pool`: its address, state and vault amounts."""

    address: Pubkey
    state: AmmInfo
    coin_vault_amount: int
    pc_vault_amount: int

    def book_entry(self) -> dict[str, Any]:
        mints = [str(self.state.coin_vault_mint), str(self.state.pc_vault_mint)]
        return {"dex": DEX_NAME, "address": str(self.address), "mints": mints}


def build_pool(
    files: AccountFiles,
    coin: Token,
    coin_reserve: int,
    pc: Token,
    pc_reserve: int,
    *,
    address: Pubkey | None = None,
    program_id: Pubkey = PROGRAM_ID,
    status: int = AmmStatus.SWAP_ONLY,
    pool_open_time: int = 0,
    need_take_pnl: tuple[int, int] = (0, 0),
    fees: Fees = Fees(),
) -> LocalPool:
    """Write a pool trading ``coin`` for ``pc`` with the given liquidity (reserves exclude the PnL owed,
    ``need_take_pnl`` in coin/pc order). ``address`` None names it after its mints. The mints are not written."""
    coin_mint, pc_mint = Pubkey.from_string(coin.mint), Pubkey.from_string(pc.mint)
    pool = address or placeholder(b"pool", bytes(coin_mint), bytes(pc_mint))
    authority, nonce = authority_address(program_id)
    coin_vault, pc_vault = placeholder(b"coin", bytes(pool)), placeholder(b"pc", bytes(pool))
    coin_amount, pc_amount = coin_reserve + need_take_pnl[0], pc_reserve + need_take_pnl[1]
    sys_decimal_value = 10 ** max(coin.decimals, pc.decimals)
    state = AmmInfo(
        status=status, nonce=nonce, order_num=7, depth=3, coin_decimals=coin.decimals, pc_decimals=pc.decimals,
        state=1, reset_flag=1, min_size=1_000_000, vol_max_cut_ratio=500, amount_wave=sys_decimal_value * 5 // 1000,
        coin_lot_size=1_000_000, pc_lot_size=1_000, min_price_multiplier=1, max_price_multiplier=1_000_000_000,
        sys_decimal_value=sys_decimal_value, fees=fees,
        state_data=StateData(need_take_pnl_coin=need_take_pnl[0], need_take_pnl_pc=need_take_pnl[1],
                             pool_open_time=pool_open_time),
        coin_vault=coin_vault, pc_vault=pc_vault, coin_vault_mint=coin_mint, pc_vault_mint=pc_mint,
        lp_mint=placeholder(b"lp", bytes(pool)), open_orders=placeholder(b"open orders", bytes(pool)),
        market=placeholder(b"market", bytes(pool)), market_program=OPENBOOK_PROGRAM_ID,
        target_orders=placeholder(b"target orders", bytes(pool)), amm_owner=placeholder(b"owner"),
        lp_amount=10**12,
    )  # fmt: skip
    files.write(pool, program_id, encode_amm_info(state))
    for vault, mint, amount in ((coin_vault, coin_mint, coin_amount), (pc_vault, pc_mint, pc_amount)):
        if mint == NATIVE_MINT:
            data = encode_token_account(mint, authority, amount, native_reserve=TOKEN_ACCOUNT_RENT)
            files.write(vault, TOKEN_PROGRAM_ID, data, TOKEN_ACCOUNT_RENT + amount)
        else:
            files.write(vault, TOKEN_PROGRAM_ID, encode_token_account(mint, authority, amount), TOKEN_ACCOUNT_RENT)
    return LocalPool(pool, state, coin_amount, pc_amount)


def build_sol_usdc_pool(files: AccountFiles, **options: Any) -> LocalPool:
    """The contract suite's SOL/USDC pool."""
    return build_pool(files, SOL, SOL_RESERVE, USDC, USDC_RESERVE, need_take_pnl=SOL_USDC_PNL, **options)


def book_with(pools: Sequence[LocalPool]) -> PoolBook:
    """The localnet pool book (mainnet program IDs) with ``pools`` configured."""
    return PoolBook.load(Network.LOCALNET, inline=orjson.dumps({"pools": [p.book_entry() for p in pools]}).decode())


def chain_config(url: str, **overrides: Any) -> ChainConfig:
    options: dict[str, Any] = {"rpc_backoff_s": 0.01, "rpc_backoff_max_s": 0.05, "rpc_max_attempts": 3}
    return ChainConfig(Network.LOCALNET, url, **(options | overrides))


@contextlib.asynccontextmanager
async def adapter_under_test() -> AsyncIterator[tuple[RaydiumAmmV4Adapter, Token, Token, int]]:
    """A Raydium AMM v4 adapter over a fresh localnet holding one SOL/USDC pool: ``(adapter, SOL, USDC, 1 SOL)``."""
    with tempfile.TemporaryDirectory(prefix="oee-amm-v4-") as folder:
        files = AccountFiles(Path(folder))
        pool = build_sol_usdc_pool(files)
        async with running_localnet(slot_ms=50, accounts=files.accounts) as net:
            adapter = RaydiumAmmV4Adapter(ChainRpc(chain_config(net.url)), book_with([pool]), TOKENS)
            try:
                yield adapter, SOL, USDC, 10**9
            finally:
                await adapter.aclose()
