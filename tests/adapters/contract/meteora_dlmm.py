"""Meteora DLMM pairs on a localnet, built byte-exactly with the adapter's own encoders, for the contract suite
and the adapter's tests.

:func:`adapter_under_test` yields a :class:`MeteoraDlmmAdapter` quoting a SOL/USDC pair loaded into a fresh
localnet. :func:`build_pair` lays out any pair (LbPair, bin arrays, reserves) in memory; :class:`PairFiles`
writes it as solana CLI account files, which ``running_localnet(accounts=...)`` loads.
"""

from __future__ import annotations

import contextlib
import hashlib
import struct
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from solders.pubkey import Pubkey

from adapters.dexes.meteora_dlmm import MeteoraDlmmAdapter, PairAccounts
from adapters.dexes.meteora_dlmm.instructions import bin_array_address, oracle_address, reserve_address
from adapters.dexes.meteora_dlmm.layouts import (
    BINS_PER_ARRAY,
    Bin,
    BinArray,
    LbPair,
    StaticParameters,
    encode_bin_array,
    encode_lb_pair,
)
from adapters.dexes.meteora_dlmm.math import price_from_id
from adapters.pools import METEORA_DLMM, PoolBook
from adapters.settlement import ChainConfig, ChainRpc
from adapters.solana.spl import NATIVE_MINT, TOKEN_PROGRAM_ID
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from localnet import running_localnet
from tests.adapters.contract.accounts import AccountFiles

PROGRAM_ID = Pubkey.from_string(PoolBook.load(Network.LOCALNET).program(METEORA_DLMM))
TOKENS = TokenRegistry.for_network(Network.LOCALNET)
SOL = TOKENS.by_mint(str(NATIVE_MINT))
USDC = TOKENS.by_mint("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
TOKEN_ACCOUNT_RENT = 2_039_280  # rent-exempt minimum of a 165-byte account

# The contract suite's SOL/USDC pair (X = SOL, Y = USDC), bin step 10 (0.1%), base fee 0.1%. The active bin
# -1955 (about 141.7 USDC per SOL) is bin 5 of array -28: selling SOL walks down into array -29 after 6
# bins, buying SOL walks up through -28 and -27, then over -26, which does not exist, into -25.
SOL_USDC_ADDRESS = Pubkey(hashlib.sha256(b"oee-test-dlmm-sol-usdc").digest())
SOL_USDC_ACTIVE_ID = -1955
SOL_USDC_ARRAYS = (-29, -28, -27, -25)
SOL_PER_BIN = 500_000_000  # 0.5 SOL in each bin above the active one
USDC_PER_BIN = 300_000_000  # 300 USDC in each bin below it


def pubkey_for(label: str) -> Pubkey:
    """A stable address for a test account."""
    return Pubkey(hashlib.sha256(f"oee-test-dlmm:{label}".encode()).digest())


def token_account_data(mint: Pubkey, owner: Pubkey, amount: int, *, native_reserve: int | None = None) -> bytes:
    """A classic SPL token account (165 bytes): initialised, no delegate, no close authority."""
    native = struct.pack("<IQ", 1, native_reserve) if native_reserve is not None else bytes(12)
    data = bytes(mint) + bytes(owner) + struct.pack("<Q", amount) + bytes(36) + bytes([1]) + native + bytes(44)
    assert len(data) == 165
    return data


@dataclass
class PairFiles(AccountFiles):
    """Account files, plus the accounts of a DLMM pair."""

    def pool(self, pool: LocalPair) -> LocalPair:
        """Write ``pool``'s LbPair, bin arrays and both reserves."""
        self.write(pool.address, PROGRAM_ID, encode_lb_pair(pool.pair))
        for index, data in pool.array_bytes().items():
            self.write(bin_array_address(pool.address, index, PROGRAM_ID), PROGRAM_ID, data)
        for reserve, mint, amount in (
            (pool.pair.reserve_x, pool.pair.token_x_mint, pool.reserve_x_amount),
            (pool.pair.reserve_y, pool.pair.token_y_mint, pool.reserve_y_amount),
        ):
            if mint == NATIVE_MINT:
                data = token_account_data(mint, pool.address, amount, native_reserve=TOKEN_ACCOUNT_RENT)
                self.write(reserve, TOKEN_PROGRAM_ID, data, TOKEN_ACCOUNT_RENT + amount)
            else:
                self.write(
                    reserve, TOKEN_PROGRAM_ID, token_account_data(mint, pool.address, amount), TOKEN_ACCOUNT_RENT
                )
        return pool


@dataclass(frozen=True)
class LocalPair:
    """A pair laid out by :func:`build_pair`: its LbPair, its bin arrays and what its reserves hold."""

    address: Pubkey
    pair: LbPair
    arrays: dict[int, BinArray]
    reserve_x_amount: int
    reserve_y_amount: int

    def array_bytes(self) -> dict[int, bytes]:
        return {index: encode_bin_array(array) for index, array in self.arrays.items()}

    def accounts(self) -> PairAccounts:
        return PairAccounts(self.address, encode_lb_pair(self.pair), self.pair)

    def book_entry(self) -> dict[str, Any]:
        mints = [str(self.pair.token_x_mint), str(self.pair.token_y_mint)]
        return {"dex": "meteora", "address": str(self.address), "mints": mints}


def build_pair(
    address: Pubkey,
    token_x: Token,
    token_y: Token,
    *,
    active_id: int,
    arrays: Iterable[int],
    x_per_bin: int,
    y_per_bin: int,
    bin_step: int = 10,
    parameters: StaticParameters | None = None,
    **fields: Any,
) -> LocalPair:
    """A pair whose bins below ``active_id`` hold ``y_per_bin`` of Y, those above ``x_per_bin`` of X and the
    active bin half of each, in the given bin arrays only. Reserves hold exactly what the bins hold.
    ``fields`` override LbPair fields (status, pair_type, activation_point, ...)."""
    mint_x, mint_y = Pubkey.from_string(token_x.mint), Pubkey.from_string(token_y.mint)
    indexes = sorted(set(arrays))
    built: dict[int, BinArray] = {}
    total_x = total_y = 0
    for index in indexes:
        bins = []
        for slot in range(BINS_PER_ARRAY):
            bin_id = index * BINS_PER_ARRAY + slot
            if bin_id < active_id:
                amount_x, amount_y = 0, y_per_bin
            elif bin_id > active_id:
                amount_x, amount_y = x_per_bin, 0
            else:
                amount_x, amount_y = x_per_bin // 2, y_per_bin // 2
            price = price_from_id(bin_id, bin_step)
            bins.append(Bin(amount_x, amount_y, price, liquidity_supply=(amount_x * price >> 64) + amount_y))
            total_x += amount_x
            total_y += amount_y
        built[index] = BinArray(index, address, tuple(bins))
    bitmap = sum(1 << (index + 512) for index in indexes)
    pair = LbPair(
        parameters=parameters or StaticParameters(),
        bin_step_seed=struct.pack("<H", bin_step),
        active_id=active_id,
        bin_step=bin_step,
        token_x_mint=mint_x,
        token_y_mint=mint_y,
        reserve_x=reserve_address(address, mint_x, PROGRAM_ID),
        reserve_y=reserve_address(address, mint_y, PROGRAM_ID),
        oracle=oracle_address(address, PROGRAM_ID),
        bin_array_bitmap=bitmap,
        **fields,
    )
    return LocalPair(address, pair, built, total_x, total_y)


def build_sol_usdc() -> LocalPair:
    """The contract suite's SOL/USDC pair (see the module's constants)."""
    return build_pair(
        SOL_USDC_ADDRESS, SOL, USDC, active_id=SOL_USDC_ACTIVE_ID, arrays=SOL_USDC_ARRAYS,
        x_per_bin=SOL_PER_BIN, y_per_bin=USDC_PER_BIN,
    )  # fmt: skip


def book_with(pools: Sequence[LocalPair]) -> PoolBook:
    """The localnet pool book (mainnet program IDs) with ``pools`` configured."""
    return PoolBook.load(Network.LOCALNET, inline=orjson.dumps({"pools": [p.book_entry() for p in pools]}).decode())


def chain_config(url: str, **overrides: Any) -> ChainConfig:
    options: dict[str, Any] = {"rpc_backoff_s": 0.01, "rpc_backoff_max_s": 0.05, "rpc_max_attempts": 3}
    return ChainConfig(Network.LOCALNET, url, **(options | overrides))


@contextlib.asynccontextmanager
async def adapter_under_test() -> AsyncIterator[tuple[MeteoraDlmmAdapter, Token, Token, int]]:
    """A DLMM adapter over a fresh localnet holding one SOL/USDC pair: ``(adapter, SOL, USDC, 1.5 SOL)``."""
    with tempfile.TemporaryDirectory(prefix="oee-dlmm-") as folder:
        files = PairFiles(Path(folder))
        pool = files.pool(build_sol_usdc())
        async with running_localnet(slot_ms=50, accounts=files.accounts) as net:
            adapter = MeteoraDlmmAdapter(ChainRpc(chain_config(net.url)), book_with([pool]), TOKENS)
            try:
                yield adapter, SOL, USDC, 1_500_000_000
            finally:
                await adapter.aclose()
