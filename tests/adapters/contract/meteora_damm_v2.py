"""Meteora DAMM v2 pools on a localnet, built byte-exactly with the adapter's own encoders, for the contract suite
and the adapter's tests.

:func:`build_concentrated_pool` and :func:`build_compounding_pool` write a pool's accounts (the Pool and its two
vaults, owned by the program's pool authority; Token-2022 vaults for a token whose ``program`` is Token-2022) as
solana CLI account files, which
``running_localnet(accounts=...)`` loads. Nothing else of the program's is needed to swap: no config account.
:func:`adapter_under_test` yields an adapter quoting a SOL/USDC pool loaded into a fresh localnet.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from solders.pubkey import Pubkey

from adapters.dexes.meteora_damm_v2 import MeteoraDammV2Adapter
from adapters.dexes.meteora_damm_v2.config import DEX_NAME
from adapters.dexes.meteora_damm_v2.instructions import pool_authority
from adapters.dexes.meteora_damm_v2.layouts import (
    ActivationType,
    BaseFee,
    CollectFeeMode,
    DynamicFee,
    FeeTimeScheduler,
    Pool,
    PoolFees,
    encode_pool,
)
from adapters.pools import METEORA_DAMM_V2, PoolBook
from adapters.settlement import ChainConfig, ChainRpc
from adapters.solana.accounts import TransferFee, TransferFeeConfig, encode_mint, encode_token_account
from adapters.solana.spl import NATIVE_MINT, TOKEN_2022_PROGRAM_ID, TOKEN_ACCOUNT_RENT, TOKEN_PROGRAM_ID
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from localnet import running_localnet
from tests.adapters.contract.accounts import AccountFiles

PROGRAM_ID = Pubkey.from_string(PoolBook.load(Network.LOCALNET).program(METEORA_DAMM_V2))
TOKENS = TokenRegistry.for_network(Network.LOCALNET)
SOL = TOKENS.by_mint(str(NATIVE_MINT))
USDC = TOKENS.by_mint("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
RAY = TOKENS.by_mint("4k3Dyjzvzp8eMZWUXbBCjEvwSkkk59S5iCNLY3QrkX6R")

MIN_SQRT_PRICE = 4_295_048_016
MAX_SQRT_PRICE = 79_226_673_521_066_979_257_578_248_091
BIN_STEP_U128 = 1_844_674_407_370_955  # one basis point, (1 << 64) / 10_000
# The dynamic fee mainnet pools carry (bin step 1).
MAINNET_DYNAMIC_FEE = DynamicFee(
    initialized=1, max_volatility_accumulator=14_460_000, variable_fee_control=1913, bin_step=1, filter_period=10,
    decay_period=120, reduction_factor=5000, bin_step_u128=BIN_STEP_U128,
)  # fmt: skip


def placeholder(*parts: bytes) -> Pubkey:
    """A key named by ``parts`` (pools and their vaults)."""
    return Pubkey.from_bytes(hashlib.sha256(b"oee-damm-v2" + b"".join(parts)).digest())


def sqrt_price_of(price_b_per_a: float | int, decimals_a: int, decimals_b: int) -> int:
    """The Q64.64 square root of a price in token B per token A, in raw units."""
    raw = int(price_b_per_a * 10**decimals_b) << 128
    return math.isqrt(raw // 10**decimals_a)


@dataclass(frozen=True)
class LocalPool:
    """A pool written by the builders: its address and state."""

    address: Pubkey
    state: Pool

    def book_entry(self) -> dict[str, Any]:
        return {"dex": DEX_NAME, "address": str(self.address), "mints": [str(self.state.token_a_mint),
                                                                         str(self.state.token_b_mint)]}  # fmt: skip


# A Token-2022 account's TransferFeeAmount extension (account type 2, then extension 2 of 8 bytes: nothing
# withheld), which every account of a mint with a transfer fee carries.
TRANSFER_FEE_AMOUNT = bytes([2]) + (2).to_bytes(2, "little") + (8).to_bytes(2, "little") + bytes(8)


def is_token_2022(token: Token) -> bool:
    return token.program == str(TOKEN_2022_PROGRAM_ID)


def token_account_data(token: Token, owner: Pubkey, amount: int) -> tuple[Pubkey, bytes]:
    """The token program and bytes of ``owner``'s account of ``token`` holding ``amount`` (not native)."""
    mint = Pubkey.from_string(token.mint)
    if is_token_2022(token):
        return TOKEN_2022_PROGRAM_ID, encode_token_account(mint, owner, amount) + TRANSFER_FEE_AMOUNT
    return TOKEN_PROGRAM_ID, encode_token_account(mint, owner, amount)


def write_transfer_fee_mint(files: AccountFiles, token: Token, basis_points: int, maximum_fee: int) -> None:
    """A Token-2022 mint for ``token`` charging ``basis_points`` on every transfer, at most ``maximum_fee``."""
    fee = TransferFee(0, maximum_fee, basis_points)
    data = encode_mint(token.decimals, 10**18, transfer_fee=TransferFeeConfig(fee, fee))
    files.write(Pubkey.from_string(token.mint), TOKEN_2022_PROGRAM_ID, data)


def _write(
    files: AccountFiles, address: Pubkey, pool: Pool, program_id: Pubkey, tokens: tuple[Token, Token]
) -> LocalPool:
    files.write(address, program_id, encode_pool(pool))
    authority = pool_authority(program_id)
    for vault, token, amount in ((pool.token_a_vault, tokens[0], pool.token_a_amount),
                                 (pool.token_b_vault, tokens[1], pool.token_b_amount)):  # fmt: skip
        if token.native:
            data = encode_token_account(NATIVE_MINT, authority, amount, native_reserve=TOKEN_ACCOUNT_RENT)
            files.write(vault, TOKEN_PROGRAM_ID, data, TOKEN_ACCOUNT_RENT + amount)
        else:
            owner, data = token_account_data(token, authority, amount)
            files.write(vault, owner, data)
    return LocalPool(address, pool)


def _fees(base_fee: BaseFee | None, dynamic: bool, **options: Any) -> PoolFees:
    return PoolFees(
        base_fee if base_fee is not None else FeeTimeScheduler(2_500_000),
        dynamic_fee=MAINNET_DYNAMIC_FEE if dynamic else DynamicFee(), **options,
    )  # fmt: skip


def build_concentrated_pool(
    files: AccountFiles,
    token_a: Token,
    token_b: Token,
    price: float,
    reserve_a: int,
    *,
    width: float | None = None,
    base_fee: BaseFee | None = None,
    dynamic_fee: bool = False,
    collect_fee_mode: int = CollectFeeMode.BOTH_TOKEN,
    activation_type: int = ActivationType.TIMESTAMP,
    activation_point: int = 0,
    pool_status: int = 0,
    address: Pubkey | None = None,
    program_id: Pubkey = PROGRAM_ID,
) -> LocalPool:
    """A pool concentrated between ``price / width**2`` and ``price * width**2`` (``width`` None: the whole
    range the program allows, a constant product) holding ``reserve_a`` of token A above the price; its liquidity
    and token B reserve follow, as the program computes them (rounded up). The mints are not written."""
    mint_a, mint_b = Pubkey.from_string(token_a.mint), Pubkey.from_string(token_b.mint)
    pool_key = address or placeholder(b"pool", bytes(mint_a), bytes(mint_b), str(width).encode())
    sqrt_price = sqrt_price_of(price, token_a.decimals, token_b.decimals)
    if width is None:
        lower, upper = MIN_SQRT_PRICE, MAX_SQRT_PRICE
    else:
        lower, upper = int(sqrt_price / width), int(sqrt_price * width)
    liquidity = reserve_a * sqrt_price * upper // (upper - sqrt_price)
    amount_a = -(-liquidity * (upper - sqrt_price) // (sqrt_price * upper))
    amount_b = -(-liquidity * (sqrt_price - lower) // (1 << 128))
    state = Pool(
        _fees(base_fee, dynamic_fee, init_sqrt_price=sqrt_price), mint_a, mint_b,
        placeholder(b"vault a", bytes(pool_key)), placeholder(b"vault b", bytes(pool_key)), liquidity=liquidity,
        sqrt_min_price=lower, sqrt_max_price=upper, sqrt_price=sqrt_price, activation_point=activation_point,
        activation_type=activation_type, pool_status=pool_status, collect_fee_mode=collect_fee_mode,
        token_a_amount=amount_a, token_b_amount=amount_b, creator=placeholder(b"creator"),
        token_a_flag=int(is_token_2022(token_a)), token_b_flag=int(is_token_2022(token_b)),
    )  # fmt: skip
    return _write(files, pool_key, state, program_id, (token_a, token_b))


def build_compounding_pool(
    files: AccountFiles,
    token_a: Token,
    reserve_a: int,
    token_b: Token,
    reserve_b: int,
    *,
    base_fee: BaseFee | None = None,
    dynamic_fee: bool = False,
    compounding_fee_bps: int = 5000,
    activation_type: int = ActivationType.TIMESTAMP,
    activation_point: int = 0,
    address: Pubkey | None = None,
    program_id: Pubkey = PROGRAM_ID,
) -> LocalPool:
    """A compounding (constant-product, no price range) pool holding the two reserves."""
    mint_a, mint_b = Pubkey.from_string(token_a.mint), Pubkey.from_string(token_b.mint)
    pool_key = address or placeholder(b"compounding", bytes(mint_a), bytes(mint_b))
    sqrt_price = math.isqrt((reserve_b << 128) // reserve_a)
    state = Pool(
        _fees(base_fee, dynamic_fee, compounding_fee_bps=compounding_fee_bps, init_sqrt_price=sqrt_price), mint_a,
        mint_b, placeholder(b"vault a", bytes(pool_key)), placeholder(b"vault b", bytes(pool_key)),
        liquidity=math.isqrt(reserve_a * reserve_b) << 64, sqrt_min_price=0, sqrt_max_price=2**128 - 1,
        sqrt_price=sqrt_price, activation_point=activation_point, activation_type=activation_type,
        collect_fee_mode=CollectFeeMode.COMPOUNDING, token_a_amount=reserve_a, token_b_amount=reserve_b,
        creator=placeholder(b"creator"), token_a_flag=int(is_token_2022(token_a)),
        token_b_flag=int(is_token_2022(token_b)),
    )  # fmt: skip
    return _write(files, pool_key, state, program_id, (token_a, token_b))


def build_sol_usdc_pool(files: AccountFiles, **options: Any) -> LocalPool:
    """The contract suite's SOL/USDC pool: a constant product over the whole range, 1,000 SOL at 150 USDC."""
    return build_concentrated_pool(files, SOL, USDC, 150.0, 1_000 * 10**9, **options)


def book_with(pools: Sequence[LocalPool]) -> PoolBook:
    """The localnet pool book (mainnet program IDs) with ``pools`` configured."""
    return PoolBook.load(Network.LOCALNET, inline=orjson.dumps({"pools": [p.book_entry() for p in pools]}).decode())


def chain_config(url: str, **overrides: Any) -> ChainConfig:
    options: dict[str, Any] = {"rpc_backoff_s": 0.01, "rpc_backoff_max_s": 0.05, "rpc_max_attempts": 3}
    return ChainConfig(Network.LOCALNET, url, **(options | overrides))


@contextlib.asynccontextmanager
async def adapter_under_test() -> AsyncIterator[tuple[MeteoraDammV2Adapter, Token, Token, int]]:
    """A DAMM v2 adapter over a fresh localnet holding one SOL/USDC pool: ``(adapter, SOL, USDC, 1 SOL)``."""
    with tempfile.TemporaryDirectory(prefix="oee-damm-v2-") as folder:
        files = AccountFiles(Path(folder))
        pool = build_sol_usdc_pool(files)
        async with running_localnet(slot_ms=50, accounts=files.accounts) as net:
            adapter = MeteoraDammV2Adapter(ChainRpc(chain_config(net.url)), book_with([pool]), TOKENS)
            try:
                yield adapter, SOL, USDC, 10**9
            finally:
                await adapter.aclose()
