"""One localnet running the real cp-swap and lb_clmm programs, for the settlement of whole plans.

Needs ``OEE_CPMM_SO``/``OEE_CPMM_CONFIG`` and ``OEE_DLMM_SO``/``OEE_DLMM_FIXTURES`` (never committed);
skipped without them. Pools, built with the project's encoders unless dumped:

- the DLMM fixture pair ``EtAdVR…`` (a pump token X, 6 decimals, and SOL), loaded from its dump;
- CPMM X/SOL pools on the same mints (the canonical one and ``EXTRA_POOLS`` more at their own addresses),
  and a CPMM SOL/USDC pool.

The wallet holds SOL, X (its associated account), USDC, and 3 wrapped SOL in its own wSOL account.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from adapters.dexes.meteora_dlmm import MeteoraDlmmAdapter
from adapters.dexes.raydium_cpmm import RaydiumCpmmAdapter
from adapters.pools import PoolBook
from adapters.settlement import ChainRpc, SolanaSettlement
from adapters.solana.spl import NATIVE_MINT, associated_token_address
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from localnet import running_localnet
from tests.adapters.contract.meteora_dlmm import PROGRAM_ID as DLMM_PROGRAM_ID
from tests.adapters.contract.meteora_dlmm import PairFiles
from tests.adapters.contract.raydium_cpmm import PROGRAM_ID as CPMM_PROGRAM_ID
from tests.adapters.contract.raydium_cpmm import SOL, USDC, LocalPool, PoolFiles, build_pool, build_sol_usdc_pool
from tests.adapters.dexes.meteora_dlmm.test_meteora_dlmm_program import WALLET, FixturePair, _load
from tests.adapters.dexes.raydium_cpmm.test_raydium_cpmm_program import _config_dump
from tests.adapters.settlement.desk import write_token_account
from tests.adapters.settlement.helpers import chain_config

CPMM_SO, CPMM_CONFIG = os.environ.get("OEE_CPMM_SO"), os.environ.get("OEE_CPMM_CONFIG")
DLMM_SO, DLMM_FIXTURES = os.environ.get("OEE_DLMM_SO"), os.environ.get("OEE_DLMM_FIXTURES")
PROGRAMS_PRESENT = bool(CPMM_SO and CPMM_CONFIG and DLMM_SO and DLMM_FIXTURES)
PAIR = "EtAdVRLFH22rjWh3mcUasKFF27WtHhsaCvK27tPFFWig"
HELD_WSOL = 3 * 10**9
EXTRA_POOLS = 4
SIGNATURE_FEE = 5_000


@dataclass
class Plans:
    """Everything a plan test needs: the settlement (both DEXes), the adapters, and what they trade."""

    url: str
    venue: SolanaSettlement
    rpc: ChainRpc
    cpmm: RaydiumCpmmAdapter
    dlmm: MeteoraDlmmAdapter
    x: Token
    dlmm_pair: FixturePair
    x_sol: LocalPool
    extra: list[LocalPool]
    sol_usdc: LocalPool
    tokens: TokenRegistry
    single: dict[str, RaydiumCpmmAdapter] = field(default_factory=dict)

    @property
    def wallet(self) -> Pubkey:
        return WALLET.pubkey()

    def account(self, token: Token) -> Pubkey:
        return associated_token_address(WALLET.pubkey(), Pubkey.from_string(token.mint))

    async def holding(self, token: Token) -> int:
        """Raw units of ``token`` in the wallet's associated account (lamports for SOL)."""
        if token.native:
            return await self.rpc.balance(self.wallet)
        (found,) = await self.rpc.multiple_accounts([self.account(token)], "reading a token account")
        return 0 if found is None else int.from_bytes(bytes(found.data)[64:72], "little")

    async def held_wsol(self) -> tuple[int, int]:
        """``(lamports, amount)`` of the wallet's own wSOL account."""
        (found,) = await self.rpc.multiple_accounts([associated_token_address(self.wallet, NATIVE_MINT)], "wsol")
        assert found is not None
        return found.lamports, int.from_bytes(bytes(found.data)[64:72], "little")

    def pool_adapter(self, pool: LocalPool) -> RaydiumCpmmAdapter:
        """A CPMM adapter quoting ``pool`` alone (the settlement's adapter builds any pool's legs)."""
        key = str(pool.address)
        if key not in self.single:
            book = _book([pool.book_entry()])
            self.single[key] = RaydiumCpmmAdapter(ChainRpc(chain_config(self.url)), book, self.tokens)
        return self.single[key]


def _book(entries: list[dict[str, object]]) -> PoolBook:
    return PoolBook.load(Network.LOCALNET, inline=orjson.dumps({"pools": entries}).decode())


@pytest.fixture(scope="module")
async def plans(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Plans]:
    if not PROGRAMS_PRESENT:
        pytest.skip("OEE_CPMM_SO, OEE_CPMM_CONFIG, OEE_DLMM_SO and OEE_DLMM_FIXTURES name no program builds")
    folder = Path(tmp_path_factory.mktemp("plans"))
    dlmm_files = PairFiles(folder)
    pair = _load(dlmm_files, Path(DLMM_FIXTURES or "") / PAIR)
    x = pair.x
    files = PoolFiles(folder)
    files.amm_config(_config_dump(Path(CPMM_CONFIG or "")))
    x_sol = build_pool(files, x, 1_000 * 10**6, SOL, 1_500_000_000)
    extra = [
        build_pool(files, x, 700 * 10**6, SOL, 1_000_000_000, address=Keypair().pubkey()) for _ in range(EXTRA_POOLS)
    ]
    sol_usdc = build_sol_usdc_pool(files)
    write_token_account(files, associated_token_address(WALLET.pubkey(), NATIVE_MINT), NATIVE_MINT, WALLET.pubkey(),
                        HELD_WSOL)  # fmt: skip
    tokens = TokenRegistry.for_network(Network.LOCALNET, extra=[x])
    options = {
        "slot_ms": 20, "finality_depth": 2, "accounts": dlmm_files.accounts + files.accounts,
        "programs": [(str(CPMM_PROGRAM_ID), Path(CPMM_SO or "")), (str(DLMM_PROGRAM_ID), Path(DLMM_SO or ""))],
        "fund": [str(WALLET.pubkey())], "fund_tokens": {"USDC": "10000"},
    }  # fmt: skip
    async with running_localnet(**options) as net:
        config = chain_config(net.url, compute_unit_price=0)
        cpmm_book = _book([p.book_entry() for p in (x_sol, sol_usdc)])
        cpmm = RaydiumCpmmAdapter(ChainRpc(config), cpmm_book, tokens)
        dlmm_entry = {"dex": "meteora", "address": PAIR, "mints": [x.mint, SOL.mint]}
        dlmm = MeteoraDlmmAdapter(ChainRpc(config), _book([dlmm_entry]), tokens)
        venue = SolanaSettlement(config, ChainRpc(config), WALLET, swaps={cpmm.name: cpmm, dlmm.name: dlmm})
        rpc = ChainRpc(config)
        found = Plans(net.url, venue, rpc, cpmm, dlmm, x, pair, x_sol, extra, sol_usdc, tokens)
        try:
            yield found
        finally:
            for adapter in [cpmm, dlmm, *found.single.values()]:
                await adapter.aclose()
            await venue.aclose()
            await rpc.aclose()


__all__ = ["HELD_WSOL", "PROGRAMS_PRESENT", "SIGNATURE_FEE", "USDC", "Plans"]
