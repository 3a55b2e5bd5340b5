"""Watching Raydium AMM v4 pairs on a localnet: snapshots price exactly as the adapter quotes, a pool found by
the program search, a pool waiting for its open time, and the registry's watcher when the DEX is enabled."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.dexes.raydium_amm_v4 import RaydiumAmmV4Adapter
from adapters.dexes.raydium_amm_v4.layouts import AmmStatus
from adapters.dexes.raydium_amm_v4.watch import RaydiumAmmV4Watcher
from adapters.settlement import ChainRpc
from adapters.solana.accounts import CLOCK_SYSVAR
from kernel.errors import PoolNotTradable, RejectedError
from kernel.venues import QuoteRequest
from kernel.watching import Activation, PairSnapshot, PairWatcher
from localnet import LocalnetHandle, running_localnet
from tests.adapters.contract.accounts import AccountFiles
from tests.adapters.contract.raydium_amm_v4 import (
    SOL,
    TOKENS,
    USDC,
    book_with,
    build_pool,
    build_sol_usdc_pool,
    chain_config,
)

USDT = TOKENS.by_mint("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB")
SIZES = (1, 7, 10**6, 123_456_789, 10**9, 37 * 10**9)
OPENS = 2**40


@pytest.fixture(scope="module")
async def net() -> AsyncIterator[LocalnetHandle]:
    with tempfile.TemporaryDirectory(prefix="oee-amm-v4-watch-") as folder:
        files = AccountFiles(Path(folder))
        build_sol_usdc_pool(files)
        build_pool(files, SOL, 10**12, USDT, 10**11, status=AmmStatus.WAITING_TRADE, pool_open_time=OPENS)
        async with running_localnet(slot_ms=0, accounts=files.accounts) as handle:
            yield handle


@pytest.fixture
async def adapter(net: LocalnetHandle) -> AsyncIterator[RaydiumAmmV4Adapter]:
    dex = RaydiumAmmV4Adapter(ChainRpc(chain_config(net.url)), book_with([]), TOKENS)  # discovery only
    yield dex
    await dex.aclose()


@pytest.mark.parametrize("pushed", [True, False], ids=["pubsub", "polled"])
async def test_snapshot_quotes_equal_the_adapter_at_every_size(
    net: LocalnetHandle, adapter: RaydiumAmmV4Adapter, pushed: bool
) -> None:
    watcher = RaydiumAmmV4Watcher(adapter, pubsub_url=net.ws_url if pushed else None)
    assert isinstance(watcher, PairWatcher)
    for token_in, token_out in ((SOL, USDC), (USDC, SOL)):
        snapshot = await watcher.snapshot(token_in, token_out)
        assert isinstance(snapshot, PairSnapshot) and snapshot.pool is not None and snapshot.opens is None
        for size in SIZES:
            try:
                expected = await adapter.quote(QuoteRequest(token_in, token_out, size))
            except RejectedError as exc:
                with pytest.raises(type(exc)):
                    snapshot.quote(size)
                continue
            assert snapshot.quote(size) == dataclasses.replace(expected, latency_ms=0)
    # the first direction: a program search (two calls: one per coin/pc order) and one batch; then one batch
    assert watcher.calls() == {"SOL/USDC": 3, "USDC/SOL": 1}
    assert await watcher.wait_change(SOL, USDC, 0.1) is False
    await watcher.aclose()


async def test_a_pool_waiting_for_its_open_time_says_when(adapter: RaydiumAmmV4Adapter) -> None:
    watcher = RaydiumAmmV4Watcher(adapter)
    snapshot = await watcher.snapshot(SOL, USDT)
    assert snapshot.pool is not None and snapshot.opens == Activation(unix_time=OPENS)
    assert CLOCK_SYSVAR in watcher.watched(SOL, USDT)  # it opens with time: the clock wakes the watcher
    with pytest.raises(PoolNotTradable, match="opens at"):
        snapshot.quote(10**9)
    await watcher.aclose()


async def test_the_registry_builds_its_watcher_when_enabled(net: LocalnetHandle) -> None:
    from adapters.registry import build_watchers
    from kernel.settings import Settings

    options = {
        "solana_network": "localnet", "solana_rpc_url": net.url, "routing": "onchain",
        "enabled_dexes": "raydium,raydium_amm_v4",
    }  # fmt: skip
    settings = Settings(_env_file=None, **options)  # type: ignore[call-arg, arg-type]
    watchers = build_watchers(settings)
    try:
        assert sorted(w.name for w in watchers) == ["raydium", "raydium_amm_v4"]
        amm = next(w for w in watchers if isinstance(w, RaydiumAmmV4Watcher))
        assert (await amm.snapshot(SOL, USDC)).pool is not None
    finally:
        for watcher in watchers:
            await watcher.aclose()  # type: ignore[attr-defined]
