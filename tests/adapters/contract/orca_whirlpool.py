"""Orca Whirlpool pools on a localnet, built byte-exactly with the adapter's own encoders, for the contract suite
and the adapter's tests.

:func:`whirlpool_state` makes a pool's state (the Whirlpool and its tick arrays) from liquidity positions, as the
program would hold them after opening those positions; :func:`write_whirlpool` writes it as solana CLI account
files, which ``running_localnet(accounts=...)`` loads: the Whirlpool at its PDA (its vaults sign with its seeds),
both vaults (owned by the pool) holding what the positions put in, and every tick array a position's tick sits
in. Arrays holding no initialized tick are not written: the program takes such an account as empty. Nothing
else is needed to swap: the config and the oracle are never read. :func:`adapter_under_test` yields an adapter
quoting a SOL/USDC pool loaded into a fresh localnet.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from solders.pubkey import Pubkey

from adapters.dexes.orca_whirlpool import OrcaWhirlpoolAdapter
from adapters.dexes.orca_whirlpool.config import DEX_NAME
from adapters.dexes.orca_whirlpool.instructions import tick_array_address, whirlpool_address, whirlpool_bump
from adapters.dexes.orca_whirlpool.layouts import (
    TICK_ARRAY_SIZE,
    Tick,
    TickArray,
    Whirlpool,
    encode_tick_array,
    encode_whirlpool,
)
from adapters.dexes.orca_whirlpool.math import (
    sqrt_price_from_tick_index,
    tick_index_from_sqrt_price,
    try_amount_delta_a,
    try_amount_delta_b,
)
from adapters.pools import ORCA_WHIRLPOOL, PoolBook
from adapters.settlement import ChainConfig, ChainRpc
from adapters.solana.accounts import encode_token_account
from adapters.solana.spl import NATIVE_MINT, TOKEN_ACCOUNT_RENT, TOKEN_PROGRAM_ID
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from localnet import running_localnet
from tests.adapters.contract.accounts import AccountFiles

PROGRAM_ID = Pubkey.from_string(PoolBook.load(Network.LOCALNET).program(ORCA_WHIRLPOOL))
TOKENS = TokenRegistry.for_network(Network.LOCALNET)
SOL = TOKENS.by_mint(str(NATIVE_MINT))
USDC = TOKENS.by_mint("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
RAY = TOKENS.by_mint("4k3Dyjzvzp8eMZWUXbBCjEvwSkkk59S5iCNLY3QrkX6R")


def placeholder(*parts: bytes) -> Pubkey:
    """A key named by ``parts`` (configs and vaults)."""
    return Pubkey.from_bytes(hashlib.sha256(b"oee-whirlpool" + b"".join(parts)).digest())


CONFIG = placeholder(b"config")


def sqrt_price_of(price_b_per_a: float, decimals_a: int, decimals_b: int) -> int:
    """The Q64.64 square root of a price in token B per token A, in raw units."""
    return math.isqrt((int(price_b_per_a * 10**decimals_b) << 128) // 10**decimals_a)


@dataclass(frozen=True)
class Position:
    """Liquidity between two usable ticks (``lower`` < ``upper``, both multiples of the tick spacing)."""

    lower: int
    upper: int
    liquidity: int


@dataclass(frozen=True)
class LocalWhirlpool:
    """A pool made by the builders: its address, state, tick arrays (by start index) and what its vaults hold."""

    address: Pubkey
    state: Whirlpool
    arrays: dict[int, TickArray] = field(default_factory=dict)
    amount_a: int = 0
    amount_b: int = 0

    def book_entry(self) -> dict[str, Any]:
        mints = [str(self.state.token_mint_a), str(self.state.token_mint_b)]
        return {"dex": DEX_NAME, "address": str(self.address), "mints": mints}


def _held(sqrt_price: int, positions: Sequence[Position]) -> tuple[int, int]:
    """Token A and B the positions put in, rounded up as the program rounds a deposit."""
    amount_a = amount_b = 0
    for p in positions:
        lower, upper = sqrt_price_from_tick_index(p.lower), sqrt_price_from_tick_index(p.upper)
        if sqrt_price < upper:
            amount_a += try_amount_delta_a(max(sqrt_price, lower), upper, p.liquidity, True) or 0
        if sqrt_price > lower:
            amount_b += try_amount_delta_b(lower, min(sqrt_price, upper), p.liquidity, True) or 0
    return amount_a, amount_b


def whirlpool_state(
    mint_a: Pubkey,
    mint_b: Pubkey,
    sqrt_price: int,
    positions: Sequence[Position],
    *,
    tick_spacing: int = 64,
    fee_rate: int = 3000,
    protocol_fee_rate: int = 1300,
    config: Pubkey = CONFIG,
    program_id: Pubkey = PROGRAM_ID,
) -> LocalWhirlpool:
    """The pool of ``config`` for the two mints (A below B in byte order) at ``sqrt_price`` holding ``positions``."""
    if bytes(mint_a) >= bytes(mint_b):
        raise ValueError("mint A must be below mint B in byte order")
    address = whirlpool_address(program_id, config, mint_a, mint_b, tick_spacing)
    tick = tick_index_from_sqrt_price(sqrt_price)
    nets: dict[int, int] = {}
    grosses: dict[int, int] = {}
    for p in positions:
        if p.lower >= p.upper or p.lower % tick_spacing or p.upper % tick_spacing:
            raise ValueError(f"not a usable range for spacing {tick_spacing}: {p}")
        for index, net in ((p.lower, p.liquidity), (p.upper, -p.liquidity)):
            nets[index] = nets.get(index, 0) + net
            grosses[index] = grosses.get(index, 0) + p.liquidity
    width = TICK_ARRAY_SIZE * tick_spacing
    arrays: dict[int, TickArray] = {}
    for start in sorted({index // width * width for index in nets}):
        ticks = [Tick()] * TICK_ARRAY_SIZE
        for offset in range(TICK_ARRAY_SIZE):
            index = start + offset * tick_spacing
            if index in nets:
                ticks[offset] = Tick(True, nets[index], grosses[index])
        arrays[start] = TickArray(start, address, tuple(ticks))
    liquidity = sum(p.liquidity for p in positions if p.lower <= tick < p.upper)
    amount_a, amount_b = _held(sqrt_price, positions)
    state = Whirlpool(
        whirlpools_config=config, tick_spacing=tick_spacing, fee_rate=fee_rate, protocol_fee_rate=protocol_fee_rate,
        liquidity=liquidity, sqrt_price=sqrt_price, tick_current_index=tick, token_mint_a=mint_a,
        token_vault_a=placeholder(b"vault a", bytes(address)), token_mint_b=mint_b,
        token_vault_b=placeholder(b"vault b", bytes(address)),
        whirlpool_bump=whirlpool_bump(program_id, config, mint_a, mint_b, tick_spacing),
    )  # fmt: skip
    return LocalWhirlpool(address, state, arrays, amount_a, amount_b)


def write_whirlpool(
    files: AccountFiles, pool: LocalWhirlpool, tokens: tuple[Token, Token], program_id: Pubkey = PROGRAM_ID
) -> LocalWhirlpool:
    """Write the pool, its vaults (classic SPL Token; SOL as wrapped SOL) and its tick arrays."""
    files.write(pool.address, program_id, encode_whirlpool(pool.state))
    for array in pool.arrays.values():
        files.write(tick_array_address(program_id, pool.address, array.start_tick_index), program_id,
                    encode_tick_array(array))  # fmt: skip
    vaults = (
        (pool.state.token_vault_a, tokens[0], pool.amount_a),
        (pool.state.token_vault_b, tokens[1], pool.amount_b),
    )
    for vault, token, amount in vaults:
        mint = Pubkey.from_string(token.mint)
        if token.native:
            data = encode_token_account(NATIVE_MINT, pool.address, amount, native_reserve=TOKEN_ACCOUNT_RENT)
            files.write(vault, TOKEN_PROGRAM_ID, data, TOKEN_ACCOUNT_RENT + amount)
        else:
            files.write(vault, TOKEN_PROGRAM_ID, encode_token_account(mint, pool.address, amount))
    return pool


def build_whirlpool(
    files: AccountFiles,
    token_a: Token,
    token_b: Token,
    price: float,
    positions: Sequence[Position],
    **options: Any,
) -> LocalWhirlpool:
    """A pool of ``token_a`` (whose mint must be the lower) and ``token_b`` at ``price`` (B per A) holding
    ``positions``, written to ``files``."""
    mint_a, mint_b = Pubkey.from_string(token_a.mint), Pubkey.from_string(token_b.mint)
    sqrt_price = sqrt_price_of(price, token_a.decimals, token_b.decimals)
    return write_whirlpool(files, whirlpool_state(mint_a, mint_b, sqrt_price, positions, **options),
                           (token_a, token_b))  # fmt: skip


def build_sol_usdc_pool(files: AccountFiles, **options: Any) -> LocalWhirlpool:
    """The contract suite's SOL/USDC pool at 150 USDC: a wide position and a narrower one around the price."""
    sqrt_price = sqrt_price_of(150.0, SOL.decimals, USDC.decimals)
    tick = tick_index_from_sqrt_price(sqrt_price)
    spacing = options.pop("tick_spacing", 64)
    at = tick // spacing * spacing
    positions = [Position(at - 200 * spacing, at + 200 * spacing, 10**13),
                 Position(at - 10 * spacing, at + 10 * spacing, 5 * 10**13)]  # fmt: skip
    return build_whirlpool(files, SOL, USDC, 150.0, positions, tick_spacing=spacing, **options)


def chain_config(url: str, **overrides: Any) -> ChainConfig:
    options: dict[str, Any] = {"rpc_backoff_s": 0.01, "rpc_backoff_max_s": 0.05, "rpc_max_attempts": 3}
    return ChainConfig(Network.LOCALNET, url, **(options | overrides))


def book_with(pools: Sequence[LocalWhirlpool]) -> PoolBook:
    """The localnet pool book (mainnet program IDs) with ``pools`` configured."""
    return PoolBook.load(Network.LOCALNET, inline=orjson.dumps({"pools": [p.book_entry() for p in pools]}).decode())


@contextlib.asynccontextmanager
async def adapter_under_test() -> AsyncIterator[tuple[OrcaWhirlpoolAdapter, Token, Token, int]]:
    """A Whirlpool adapter over a fresh localnet holding one SOL/USDC pool: ``(adapter, SOL, USDC, 1 SOL)``."""
    with tempfile.TemporaryDirectory(prefix="oee-whirlpool-") as folder:
        files = AccountFiles(Path(folder))
        pool = build_sol_usdc_pool(files)
        async with running_localnet(slot_ms=50, accounts=files.accounts) as net:
            adapter = OrcaWhirlpoolAdapter(ChainRpc(chain_config(net.url)), book_with([pool]), TOKENS)
            try:
                yield adapter, SOL, USDC, 10**9
            finally:
                await adapter.aclose()
