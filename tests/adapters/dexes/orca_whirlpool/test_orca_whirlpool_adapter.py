"""OrcaWhirlpoolAdapter and its watcher against a localnet holding pools built byte-exactly with the adapter's own
encoders (no program: the swaps themselves are checked in the real-program test).

The quotes must equal :func:`quote_exact_in` on the same pool and tick arrays. Pools are found by
``getProgramAccounts``, or at the pair's pool PDAs under a configured config where the node refuses that search;
a pool whose price moved past the tick arrays last read is read again around its price.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from adapters.dexes.orca_whirlpool import OrcaWhirlpoolAdapter, OrcaWhirlpoolConfig
from adapters.dexes.orca_whirlpool.math import quote_exact_in, quote_exact_out
from adapters.dexes.orca_whirlpool.watch import OrcaWhirlpoolWatcher
from adapters.settlement import ChainRpc
from adapters.solana.errors import DiscoveryRefused
from kernel.errors import FatalError, InsufficientLiquidity, PoolNotTradable, UnsupportedPair
from kernel.venues import DexAdapter, OnChainDex, QuoteRequest
from localnet import running_localnet
from tests.adapters.contract.accounts import AccountFiles
from tests.adapters.contract.orca_whirlpool import (
    CONFIG,
    PROGRAM_ID,
    RAY,
    SOL,
    TOKENS,
    USDC,
    LocalWhirlpool,
    Position,
    book_with,
    build_sol_usdc_pool,
    build_whirlpool,
    chain_config,
)


@dataclass
class Net:
    url: str
    sol_usdc: LocalWhirlpool  # tick spacing 64
    sol_usdc_8: LocalWhirlpool  # a second SOL/USDC pool, tick spacing 8, deeper near the price
    ray_usdc: LocalWhirlpool


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Net]:
    files = AccountFiles(Path(tmp_path_factory.mktemp("whirlpool")))
    deep = build_sol_usdc_pool(files, tick_spacing=8, fee_rate=500)
    positions = [Position(-313 * 64, 313 * 64, 10**12)]
    pools = Net("", build_sol_usdc_pool(files), deep, build_whirlpool(files, RAY, USDC, 2.5, positions))
    async with running_localnet(slot_ms=50, accounts=files.accounts) as handle:
        pools.url = handle.url
        yield pools


def _adapter(net: Net, pools: list[LocalWhirlpool], **config: object) -> OrcaWhirlpoolAdapter:
    book = book_with(pools)
    options = {"config": OrcaWhirlpoolConfig(PROGRAM_ID, **config)} if config else {}  # type: ignore[arg-type]
    return OrcaWhirlpoolAdapter(ChainRpc(chain_config(net.url)), book, TOKENS, **options)  # type: ignore[arg-type]


@pytest.fixture
async def configured(net: Net) -> AsyncIterator[OrcaWhirlpoolAdapter]:
    adapter = _adapter(net, [net.sol_usdc])
    yield adapter
    await adapter.aclose()


async def test_is_an_on_chain_dex(configured: OrcaWhirlpoolAdapter) -> None:
    assert isinstance(configured, DexAdapter) and isinstance(configured, OnChainDex)
    assert configured.name == "orca_whirlpool"


async def test_quote_equals_the_math_on_the_same_numbers(net: Net, configured: OrcaWhirlpoolAdapter) -> None:
    pool = net.sol_usdc
    for token_in, token_out, amount in ((SOL, USDC, 10**9), (USDC, SOL, 150 * 10**6), (SOL, USDC, 12_345)):
        quote = await configured.quote(QuoteRequest(token_in, token_out, amount))
        expected = quote_exact_in(pool.state, pool.arrays, amount, a_to_b=token_in is SOL)
        assert (quote.pool, quote.amount_out, quote.fee, quote.fee_mint) == (
            str(pool.address), expected.amount_out, expected.fee, token_in.mint)  # fmt: skip
        assert quote.price_impact_pct == expected.price_impact_pct
    needs = await configured.quote_exact_out(str(pool.address), SOL, USDC, 100 * 10**6)
    assert needs == quote_exact_out(pool.state, pool.arrays, 100 * 10**6, a_to_b=True)


async def test_a_size_beyond_the_three_tick_arrays_is_refused(configured: OrcaWhirlpoolAdapter) -> None:
    with pytest.raises(InsufficientLiquidity):
        await configured.quote(QuoteRequest(SOL, USDC, 10**18))


async def test_discovery_finds_every_pool_of_the_pair(net: Net) -> None:
    adapter = _adapter(net, [])
    try:
        grids = await adapter.quote_pools(USDC, SOL, [10**6])
        assert {g.pool for g in grids} == {str(net.sol_usdc.address), str(net.sol_usdc_8.address)}
        assert (await adapter.quote(QuoteRequest(RAY, USDC, 10**6))).pool == str(net.ray_usdc.address)
        with pytest.raises(UnsupportedPair):
            await adapter.quote(QuoteRequest(RAY, SOL, 10**6))
    finally:
        await adapter.aclose()


async def test_where_the_search_is_refused_the_pool_pdas_are_read(net: Net) -> None:
    adapter = _adapter(net, [], discovery_configs=(CONFIG,), discovery_tick_spacings=(8,))

    async def refused(*_: object) -> dict[Pubkey, object]:
        raise DiscoveryRefused("getProgramAccounts is disabled here")

    adapter.client.program_pools = refused  # type: ignore[method-assign,assignment]
    try:
        assert (await adapter.quote(QuoteRequest(SOL, USDC, 10**9))).pool == str(net.sol_usdc_8.address)
    finally:
        await adapter.aclose()


async def test_a_configured_address_that_is_no_pool_is_fatal(net: Net) -> None:
    adapter = _adapter(net, [dataclasses.replace(net.sol_usdc, address=Keypair().pubkey())])
    try:
        with pytest.raises(FatalError, match="no Orca Whirlpool pool exists"):
            await adapter.quote(QuoteRequest(SOL, USDC, 10**9))
    finally:
        await adapter.aclose()


async def test_a_price_that_moved_past_the_arrays_read_is_read_again(net: Net) -> None:
    """The adapter remembers the state it first read; told the price sat far away, it still reads the arrays
    around the price on chain."""
    adapter = _adapter(net, [net.sol_usdc])
    try:
        address = net.sol_usdc.address
        far = dataclasses.replace(net.sol_usdc.state, tick_current_index=net.sol_usdc.state.tick_current_index + 10**5)
        adapter._pools[address] = far
        (snap,) = await adapter.client.snapshots({address: far})
        assert snap.state == net.sol_usdc.state and snap.arrays == {
            s: a for s, a in net.sol_usdc.arrays.items() if s in snap.arrays}  # fmt: skip
        quote = await adapter.quote(QuoteRequest(SOL, USDC, 10**9))
        assert (
            quote.amount_out == quote_exact_in(net.sol_usdc.state, net.sol_usdc.arrays, 10**9, a_to_b=True).amount_out
        )
    finally:
        await adapter.aclose()


async def test_a_mint_with_a_transfer_fee_is_not_priced(net: Net) -> None:
    from adapters.dexes.orca_whirlpool.pricing import check_transfers
    from adapters.solana.accounts import Mint, TransferFee, TransferFeeConfig

    adapter = _adapter(net, [net.sol_usdc])
    try:
        (snap,) = await adapter.client.snapshots({net.sol_usdc.address: net.sol_usdc.state})
        fee = TransferFee(0, 10**9, 100)
        taxed = dataclasses.replace(snap, mint_b=Mint(6, 10**12, TransferFeeConfig(fee, fee)))
        with pytest.raises(PoolNotTradable, match="transfer fee"):
            check_transfers(taxed)
    finally:
        await adapter.aclose()


async def test_a_watchers_snapshot_quotes_as_the_adapter_does(net: Net, configured: OrcaWhirlpoolAdapter) -> None:
    watcher = OrcaWhirlpoolWatcher(configured)
    try:
        for token_in, token_out in ((SOL, USDC), (USDC, SOL)):
            snapshot = await watcher.snapshot(token_in, token_out)
            assert snapshot.pool == str(net.sol_usdc.address) and snapshot.opens is None
            for amount in (10**3, 10**6, 10**9):
                quote = await configured.quote(QuoteRequest(token_in, token_out, amount))
                assert snapshot.quote(amount) == dataclasses.replace(quote, latency_ms=0)
        watched = watcher.watched(SOL, USDC)
        assert net.sol_usdc.address in watched and len(watched) >= 4  # the pool, two mints, tick arrays
    finally:
        await watcher.aclose()
