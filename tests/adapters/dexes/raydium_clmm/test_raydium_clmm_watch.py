"""Watching Raydium CLMM pairs on a localnet: snapshots price exactly as the adapter quotes at every size
(tick arrays walked included), a pool created later is found at the pair's PDA under a configured AmmConfig,
and its open time is respected."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.dexes.raydium_clmm import RaydiumClmmAdapter
from adapters.dexes.raydium_clmm.config import RaydiumClmmConfig
from adapters.dexes.raydium_clmm.instructions import amm_config_address
from adapters.dexes.raydium_clmm.math import get_sqrt_price_at_tick
from adapters.dexes.raydium_clmm.watch import RaydiumClmmWatcher
from adapters.settlement import ChainRpc
from adapters.solana.accounts import CLOCK_SYSVAR
from kernel.errors import PoolNotTradable, RejectedError, UnsupportedPair
from kernel.venues import Quote, QuoteRequest
from kernel.watching import Activation, PairSnapshot, PairWatcher
from localnet import LocalnetHandle, running_localnet
from tests.adapters.contract.accounts import AccountFiles, place_accounts
from tests.adapters.contract.raydium_clmm import (
    PROGRAM_ID,
    SOL,
    TOKENS,
    USDC,
    Position,
    book_with,
    build_pool,
    build_sol_usdc_pool,
    chain_config,
)
from tests.support import json_rpc as rpc

SIZES = (1, 10**6, 123_456_789, 10**9, 9 * 10**9, 10**15)
LATER_CONFIG = 5


@pytest.fixture(scope="module")
async def net() -> AsyncIterator[LocalnetHandle]:
    with tempfile.TemporaryDirectory(prefix="oee-clmm-watch-") as folder:
        files = AccountFiles(Path(folder))
        build_sol_usdc_pool(files)
        async with running_localnet(slot_ms=0, accounts=files.accounts) as handle:
            yield handle


@pytest.fixture
async def adapter(net: LocalnetHandle) -> AsyncIterator[RaydiumClmmAdapter]:
    config = RaydiumClmmConfig(PROGRAM_ID, discovery_configs=(amm_config_address(PROGRAM_ID, LATER_CONFIG),))
    dex = RaydiumClmmAdapter(ChainRpc(chain_config(net.url)), book_with([]), TOKENS, config=config)
    yield dex
    await dex.aclose()


def _same(snapshot_quote: Quote, adapter_quote: Quote) -> None:
    assert dataclasses.replace(adapter_quote, latency_ms=0) == snapshot_quote


async def _both(snapshot: PairSnapshot, adapter: RaydiumClmmAdapter, size: int) -> None:
    """The snapshot answers ``size`` as the adapter does: the same quote, or the same refusal."""
    try:
        expected = await adapter.quote(QuoteRequest(snapshot.token_in, snapshot.token_out, size))
    except RejectedError as exc:
        with pytest.raises(type(exc)) as refused:
            snapshot.quote(size)
        assert refused.value.code == exc.code
        return
    _same(snapshot.quote(size), expected)


@pytest.mark.parametrize("pushed", [True, False], ids=["pubsub", "polled"])
async def test_snapshot_quotes_equal_the_adapter_at_every_size(
    net: LocalnetHandle, adapter: RaydiumClmmAdapter, pushed: bool
) -> None:
    watcher = RaydiumClmmWatcher(adapter, pubsub_url=net.ws_url if pushed else None)
    assert isinstance(watcher, PairWatcher)
    for token_in, token_out in ((SOL, USDC), (USDC, SOL)):
        snapshot = await watcher.snapshot(token_in, token_out)
        assert isinstance(snapshot, PairSnapshot) and snapshot.pool is not None and snapshot.opens is None
        for size in SIZES:
            await _both(snapshot, adapter, size)
        assert len(watcher.watched(token_in, token_out)) >= 8  # the pool, config, extension, mints, tick arrays
    await watcher.aclose()


async def test_a_pool_created_later_is_found_then_opens_after_its_time(
    net: LocalnetHandle, adapter: RaydiumClmmAdapter
) -> None:
    ray = TOKENS.resolve("RAY")
    assert ray is not None
    watcher = RaydiumClmmWatcher(adapter, poll_interval_s=0.05, search_interval_s=3_600)
    empty = await watcher.snapshot(ray, SOL)
    assert empty.pool is None and empty.opens is None
    with pytest.raises(UnsupportedPair):
        empty.quote(10**6)

    now = await rpc(net.url, "localnet_advanceSlots", {"slots": 1})
    opens_after = now["unixTimestamp"] + 3_600
    with tempfile.TemporaryDirectory(prefix="oee-clmm-later-") as folder:
        files = AccountFiles(Path(folder))
        later = build_pool(files, ray, SOL, tick_spacing=10, sqrt_price_x64=get_sqrt_price_at_tick(-4000),
                           config_index=LATER_CONFIG, open_time=opens_after,
                           positions=[Position(-6000, -2000, 10**12)])  # fmt: skip
        await place_accounts(net.url, files)
    assert await watcher.wait_change(ray, SOL, 10.0) is True

    waiting = await watcher.snapshot(ray, SOL)
    assert waiting.pool == str(later.address) and waiting.opens == Activation(unix_time=opens_after + 1)
    assert CLOCK_SYSVAR in watcher.watched(ray, SOL)
    with pytest.raises(PoolNotTradable):
        waiting.quote(10**6)
    await rpc(net.url, "localnet_advanceSlots", {"slots": 1, "unixTimestamp": opens_after + 1})
    assert await watcher.wait_change(ray, SOL, 10.0) is True
    opened = await watcher.snapshot(ray, SOL)
    assert opened.opens is None
    _same(opened.quote(10**6), await adapter.quote(QuoteRequest(ray, SOL, 10**6)))
    await watcher.aclose()
