"""The bench's on-chain pools: placed on a localnet with the adapter's encoders, the Raydium CPMM adapter
quotes each at its reserves, and replacing a vault moves the price."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.dexes.raydium_cpmm import RaydiumCpmmAdapter
from adapters.dexes.raydium_cpmm.math import quote_exact_in
from adapters.pools import PoolBook
from adapters.settlement import ChainConfig, ChainRpc
from kernel.settings import Network
from kernel.tokens import TokenRegistry
from kernel.venues import QuoteRequest
from localnet import running_localnet
from tools.bench_waiting_chain import RESERVES, pools_on_chain
from tools.chain_pools import CONFIG_0, place

TOKENS = TokenRegistry.for_network(Network.LOCALNET)


@pytest.fixture
async def adapter() -> AsyncIterator[tuple[RaydiumCpmmAdapter, str]]:
    pools, accounts = pools_on_chain()
    async with running_localnet(slot_ms=0) as net:
        async with httpx.AsyncClient() as http:
            await place(http, net.url, accounts)
        book = PoolBook.load(Network.LOCALNET, inline=json.dumps({"pools": [p.book_entry() for p in pools.values()]}))
        dex = RaydiumCpmmAdapter(ChainRpc(ChainConfig(Network.LOCALNET, net.url)), book, TOKENS)
        try:
            yield dex, net.url
        finally:
            await dex.aclose()


async def test_each_pool_quotes_at_its_reserves_and_a_replaced_vault_moves_it(
    adapter: tuple[RaydiumCpmmAdapter, str],
) -> None:
    dex, url = adapter
    pools, _ = pools_on_chain()
    for (base, quote), (base_amount, quote_amount) in RESERVES.items():
        pool = pools[f"{base}/{quote}"]
        b, q = TOKENS.resolve(base), TOKENS.resolve(quote)
        assert b is not None and q is not None
        size = 10**b.decimals
        got = await dex.quote(QuoteRequest(b, q, size))
        assert got.pool == str(pool.address)
        reserves = {b.mint: base_amount * 10**b.decimals, q.mint: quote_amount * 10**q.decimals}
        zero_for_one = pool.token_0.mint == b.mint
        expected = quote_exact_in(
            pool.state, CONFIG_0, reserves[pool.token_0.mint], reserves[pool.token_1.mint], size,
            zero_for_one=zero_for_one, now=2**40,
        )  # fmt: skip
        assert got.amount_out == expected.amount_out > 0

    sol_usdc = pools["SOL/USDC"]
    sol, usdc = sol_usdc.token_0, sol_usdc.token_1
    assert (sol.symbol, usdc.symbol) == ("SOL", "USDC")  # SOL's mint sorts first
    before = await dex.quote(QuoteRequest(sol, usdc, 10**9))
    async with httpx.AsyncClient() as http:
        await place(http, url, [sol_usdc.vault_with(1, 2 * RESERVES[("SOL", "USDC")][1] * 10**6)])
    after = await dex.quote(QuoteRequest(sol, usdc, 10**9))
    assert after.amount_out > 1.9 * before.amount_out
