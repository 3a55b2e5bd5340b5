"""Raydium CLMM pools on a localnet, built byte-exactly with the adapter's own encoders, for the contract suite
and the adapter's tests.

:func:`build_pool` writes everything a ``swap_v2`` reads (the AmmConfig, the PoolState at its PDA, both vaults
owned by the pool, the ObservationState, the bitmap extension and every tick array its positions touch) as
solana CLI account files, which ``running_localnet(accounts=...)`` loads. Liquidity is given as positions
(a tick range and its liquidity); the ticks' ``liquidity_net`` and ``liquidity_gross``, the pool's in-range
liquidity, its tick-array bitmap and the vaults' balances follow from them as the program keeps them.
:func:`adapter_under_test` yields an adapter quoting a SOL/USDC pool loaded into a fresh localnet.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from solders.pubkey import Pubkey

from adapters.dexes.raydium_clmm import RaydiumClmmAdapter
from adapters.dexes.raydium_clmm.config import DEX_NAME, MAINNET_PROGRAM_ID
from adapters.dexes.raydium_clmm.instructions import (
    amm_config_address,
    bitmap_extension_address,
    observation_address,
    pool_address,
    tick_array_address,
    vault_address,
)
from adapters.dexes.raydium_clmm.layouts import (
    TICK_ARRAY_SIZE,
    AmmConfig,
    PoolState,
    TickArrayBitmapExtension,
    TickArrayState,
    TickState,
    encode_amm_config,
    encode_bitmap_extension,
    encode_observation_state,
    encode_pool,
    encode_tick_array,
)
from adapters.dexes.raydium_clmm.math import (
    bitmaps_with,
    delta_amount_0,
    delta_amount_1,
    get_sqrt_price_at_tick,
    get_tick_at_sqrt_price,
    tick_array_start_index,
)
from adapters.pools import PoolBook
from adapters.settlement import ChainConfig, ChainRpc
from adapters.solana.accounts import encode_token_account
from adapters.solana.spl import NATIVE_MINT, TOKEN_ACCOUNT_RENT, TOKEN_PROGRAM_ID
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from localnet import running_localnet
from tests.adapters.contract.accounts import AccountFiles

PROGRAM_ID = MAINNET_PROGRAM_ID
TOKENS = TokenRegistry.for_network(Network.LOCALNET)
SOL = TOKENS.by_mint(str(NATIVE_MINT))
USDC = TOKENS.by_mint("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
RAY = TOKENS.by_mint("4k3Dyjzvzp8eMZWUXbBCjEvwSkkk59S5iCNLY3QrkX6R")
VAULT_SLACK = 10**6  # raw units above what the positions hold, as a real pool's rounding leaves


@dataclass(frozen=True)
class Position:
    """Liquidity ``liquidity`` between two ticks (multiples of the pool's spacing)."""

    lower: int
    upper: int
    liquidity: int


@dataclass(frozen=True)
class LocalClmmPool:
    """A pool written by :func:`build_pool`: its address, state, config and tick arrays by start index."""

    address: Pubkey
    state: PoolState
    config: AmmConfig
    tick_arrays: dict[int, TickArrayState]
    extension: TickArrayBitmapExtension
    tokens: tuple[Token, Token]  # token 0, token 1
    positions: tuple[Position, ...] = field(default=())

    def book_entry(self) -> dict[str, Any]:
        return {"dex": DEX_NAME, "address": str(self.address), "mints": [t.mint for t in self.tokens]}


def sqrt_price_of(price_1_per_0: float, decimals_0: int, decimals_1: int) -> int:
    """The Q64.64 square root of a price in token 1 per token 0, in raw units."""
    return math.isqrt((int(price_1_per_0 * 10**decimals_1) << 128) // 10**decimals_0)


def position_amounts(position: Position, sqrt_price: int) -> tuple[int, int]:
    """Token 0 and token 1 a position holds at ``sqrt_price``, rounded up as the program deposits them."""
    lower, upper = get_sqrt_price_at_tick(position.lower), get_sqrt_price_at_tick(position.upper)
    amount_0 = delta_amount_0(max(sqrt_price, lower), upper, position.liquidity, True) if sqrt_price < upper else 0
    amount_1 = delta_amount_1(lower, min(sqrt_price, upper), position.liquidity, True) if sqrt_price > lower else 0
    assert amount_0 is not None and amount_1 is not None
    return amount_0, amount_1


def _tick_arrays(pool: Pubkey, positions: Sequence[Position], spacing: int) -> dict[int, TickArrayState]:
    net: dict[int, int] = {}
    gross: dict[int, int] = {}
    for p in positions:
        assert p.lower < p.upper and p.lower % spacing == 0 and p.upper % spacing == 0, p
        for tick, delta in ((p.lower, p.liquidity), (p.upper, -p.liquidity)):
            net[tick] = net.get(tick, 0) + delta
            gross[tick] = gross.get(tick, 0) + p.liquidity
    arrays: dict[int, TickArrayState] = {}
    for start in sorted({tick_array_start_index(t, spacing) for t in gross}):
        ticks = []
        for i in range(TICK_ARRAY_SIZE):
            tick = start + i * spacing
            ticks.append(TickState(tick, net.get(tick, 0), gross.get(tick, 0)) if tick in gross else TickState())
        count = sum(1 for t in ticks if t.initialized)
        arrays[start] = TickArrayState(pool, start, tuple(ticks), count)
    return arrays


def _write_token_account(files: AccountFiles, address: Pubkey, token: Token, owner: Pubkey, amount: int) -> None:
    if token.native:
        data = encode_token_account(NATIVE_MINT, owner, amount, native_reserve=TOKEN_ACCOUNT_RENT)
        files.write(address, TOKEN_PROGRAM_ID, data, TOKEN_ACCOUNT_RENT + amount)
    else:
        files.write(address, TOKEN_PROGRAM_ID, encode_token_account(Pubkey.from_string(token.mint), owner, amount))


def build_pool(
    files: AccountFiles,
    token_a: Token,
    token_b: Token,
    *,
    tick_spacing: int,
    sqrt_price_x64: int,
    positions: Sequence[Position],
    trade_fee_rate: int = 2500,
    protocol_fee_rate: int = 120_000,
    fund_fee_rate: int = 40_000,
    config_index: int = 0,
    status: int = 0,
    open_time: int = 0,
    program_id: Pubkey = PROGRAM_ID,
) -> LocalClmmPool:
    """A pool of the two tokens (sorted into token 0 and 1 by mint bytes) at ``sqrt_price_x64`` (token 1 per
    token 0) holding ``positions``; its vaults hold what the positions do, plus :data:`VAULT_SLACK`. The mints
    are not written (the localnet makes the engine's tokens)."""
    token_0, token_1 = sorted((token_a, token_b), key=lambda t: bytes(Pubkey.from_string(t.mint)))
    mint_0, mint_1 = Pubkey.from_string(token_0.mint), Pubkey.from_string(token_1.mint)
    config_key = amm_config_address(program_id, config_index)
    config = AmmConfig(trade_fee_rate=trade_fee_rate, tick_spacing=tick_spacing, protocol_fee_rate=protocol_fee_rate,
                       fund_fee_rate=fund_fee_rate, index=config_index)  # fmt: skip
    address, bump = pool_address(program_id, config_key, mint_0, mint_1)
    tick = get_tick_at_sqrt_price(sqrt_price_x64)
    arrays = _tick_arrays(address, positions, tick_spacing)
    bitmap, extension = bitmaps_with(arrays, tick_spacing, address)
    liquidity = sum(p.liquidity for p in positions if p.lower <= tick < p.upper)
    held = [position_amounts(p, sqrt_price_x64) for p in positions]
    amount_0 = sum(a for a, _ in held) + VAULT_SLACK
    amount_1 = sum(b for _, b in held) + VAULT_SLACK
    state = PoolState(
        bump=bump, amm_config=config_key, token_mint_0=mint_0, token_mint_1=mint_1,
        token_vault_0=vault_address(program_id, address, mint_0),
        token_vault_1=vault_address(program_id, address, mint_1),
        observation_key=observation_address(program_id, address), mint_decimals_0=token_0.decimals,
        mint_decimals_1=token_1.decimals, tick_spacing=tick_spacing, liquidity=liquidity,
        sqrt_price_x64=sqrt_price_x64, tick_current=tick, tick_array_bitmap=bitmap,
        status=status, open_time=open_time,
    )  # fmt: skip
    files.write(config_key, program_id, encode_amm_config(config))
    files.write(address, program_id, encode_pool(state))
    files.write(state.observation_key, program_id, encode_observation_state(address))
    files.write(bitmap_extension_address(program_id, address), program_id, encode_bitmap_extension(extension))
    for start, array in arrays.items():
        files.write(tick_array_address(program_id, address, start), program_id, encode_tick_array(array))
    _write_token_account(files, state.token_vault_0, token_0, address, amount_0)
    _write_token_account(files, state.token_vault_1, token_1, address, amount_1)
    return LocalClmmPool(address, state, config, arrays, extension, (token_0, token_1), tuple(positions))


def build_sol_usdc_pool(files: AccountFiles, **options: Any) -> LocalClmmPool:
    """The contract suite's SOL/USDC pool at 150 USDC: tick spacing 1, 0.01% fee, five positions over about
    fourteen tick arrays (the deepest near the price)."""
    price = sqrt_price_of(150.0, SOL.decimals, USDC.decimals)
    center = get_tick_at_sqrt_price(price)
    spans = [(-300, 300, 2 * 10**11), (-100, 40, 5 * 10**11), (-20, 20, 10**12), (5, 250, 3 * 10**11),
             (-500, -350, 4 * 10**11)]  # fmt: skip
    positions = [Position(center + lo, center + hi, liquidity) for lo, hi, liquidity in spans]
    defaults: dict[str, Any] = {"trade_fee_rate": 100, "protocol_fee_rate": 130_000, "fund_fee_rate": 30_000,
                                "config_index": 8}  # fmt: skip
    return build_pool(files, SOL, USDC, tick_spacing=1, sqrt_price_x64=price, positions=positions,
                      **(defaults | options))  # fmt: skip


def book_with(pools: Sequence[LocalClmmPool]) -> PoolBook:
    """The localnet pool book (mainnet program IDs) with ``pools`` configured."""
    return PoolBook.load(Network.LOCALNET, inline=orjson.dumps({"pools": [p.book_entry() for p in pools]}).decode())


def chain_config(url: str, **overrides: Any) -> ChainConfig:
    options: dict[str, Any] = {"rpc_backoff_s": 0.01, "rpc_backoff_max_s": 0.05, "rpc_max_attempts": 3}
    return ChainConfig(Network.LOCALNET, url, **(options | overrides))


@contextlib.asynccontextmanager
async def adapter_under_test() -> AsyncIterator[tuple[RaydiumClmmAdapter, Token, Token, int]]:
    """A CLMM adapter over a fresh localnet holding one SOL/USDC pool: ``(adapter, SOL, USDC, 1 SOL)``."""
    with tempfile.TemporaryDirectory(prefix="oee-clmm-") as folder:
        files = AccountFiles(Path(folder))
        pool = build_sol_usdc_pool(files)
        async with running_localnet(slot_ms=50, accounts=files.accounts) as net:
            adapter = RaydiumClmmAdapter(ChainRpc(chain_config(net.url)), book_with([pool]), TOKENS)
            try:
                yield adapter, SOL, USDC, 10**9
            finally:
                await adapter.aclose()
