"""Watching Raydium CPMM pairs on a localnet: snapshots price exactly as the adapter quotes, a pool created
later is found at its canonical address (pushed over PubSub, or polled), and ``open_time`` is respected."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.dexes.raydium_cpmm import RaydiumCpmmAdapter
from adapters.dexes.raydium_cpmm.watch import RaydiumCpmmWatcher
from adapters.settlement import ChainRpc
from adapters.solana.accounts import CLOCK_SYSVAR
from kernel.errors import PoolNotTradable, RejectedError, UnsupportedPair
from kernel.tokens import Token
from kernel.venues import Quote, QuoteRequest
from kernel.watching import Activation, PairSnapshot, PairWatcher
from localnet import LocalnetHandle, running_localnet
from tests.adapters.contract.accounts import place_accounts
from tests.adapters.contract.raydium_cpmm import (
    SOL,
    TOKENS,
    USDC,
    PoolFiles,
    book_with,
    build_pool,
    build_sol_usdc_pool,
    chain_config,
)
from tests.support import eventually
from tests.support import json_rpc as rpc

JUP = TOKENS.resolve("JUP")
assert JUP is not None
SIZES = (1, 10**6, 123_456_789, 10**9, 37 * 10**9)


@pytest.fixture(scope="module")
async def net() -> AsyncIterator[LocalnetHandle]:
    with tempfile.TemporaryDirectory(prefix="oee-cpmm-watch-") as folder:
        files = PoolFiles(Path(folder))
        files.amm_config()
        build_sol_usdc_pool(files)
        async with running_localnet(slot_ms=0, accounts=files.accounts) as handle:
            yield handle


@pytest.fixture
async def adapter(net: LocalnetHandle) -> AsyncIterator[RaydiumCpmmAdapter]:
    # Discovery only: the watcher finds pools at their canonical PDAs (the localnet also answers searches).
    dex = RaydiumCpmmAdapter(ChainRpc(chain_config(net.url)), book_with([]), TOKENS)
    yield dex
    await dex.aclose()


async def _now(net: LocalnetHandle) -> int:
    return int((await rpc(net.url, "localnet_advanceSlots", {"slots": 1}))["unixTimestamp"])


def _same(snapshot_quote: Quote, adapter_quote: Quote) -> None:
    assert dataclasses.replace(adapter_quote, latency_ms=0) == snapshot_quote


async def _both(snapshot: PairSnapshot, adapter: RaydiumCpmmAdapter, size: int) -> None:
    """The snapshot answers ``size`` as the adapter does: the same quote, or the same refusal."""
    try:
        expected = await adapter.quote(QuoteRequest(snapshot.token_in, snapshot.token_out, size))
    except RejectedError as exc:
        with pytest.raises(type(exc)) as refused:
            snapshot.quote(size)
        assert refused.value.code == exc.code and str(refused.value) == str(exc)
        return
    _same(snapshot.quote(size), expected)


@pytest.mark.parametrize("pushed", [True, False], ids=["pubsub", "polled"])
async def test_snapshot_quotes_equal_the_adapter_at_every_size(
    net: LocalnetHandle, adapter: RaydiumCpmmAdapter, pushed: bool
) -> None:
    watcher = RaydiumCpmmWatcher(adapter, pubsub_url=net.ws_url if pushed else None)
    assert isinstance(watcher, PairWatcher)
    for token_in, token_out in ((SOL, USDC), (USDC, SOL)):
        snapshot = await watcher.snapshot(token_in, token_out)
        assert isinstance(snapshot, PairSnapshot) and snapshot.pool is not None and snapshot.opens is None
        for size in SIZES:
            await _both(snapshot, adapter, size)
    # one batch per snapshot, and nothing more for the quotes
    # the first: a program search (its answer holds the pool's state, and serves both ways) and one batch;
    # then one batch per snapshot
    assert watcher.calls() == {"SOL/USDC": 2, "USDC/SOL": 1}
    await watcher.aclose()


async def test_an_unchanged_pair_keeps_its_version_and_a_swap_moves_it(
    net: LocalnetHandle, adapter: RaydiumCpmmAdapter
) -> None:
    watcher = RaydiumCpmmWatcher(adapter, pubsub_url=net.ws_url)
    first = await watcher.snapshot(SOL, USDC)
    await rpc(net.url, "localnet_advanceSlots", 3)
    assert (await watcher.snapshot(SOL, USDC)).version == first.version
    assert await watcher.wait_change(SOL, USDC, 0.2) is False
    await watcher.aclose()


async def _sniper(net: LocalnetHandle, adapter: RaydiumCpmmAdapter, watcher: RaydiumCpmmWatcher, token: Token) -> None:
    """No pool, then a pool placed at its canonical PDA that opens later, then open at its first second."""
    empty = await watcher.snapshot(token, SOL)
    assert empty.pool is None and empty.opens is None
    with pytest.raises(UnsupportedPair):
        empty.quote(10**6)
    assert await watcher.wait_change(token, SOL, 0.3) is False  # nothing there yet

    open_time = await _now(net) + 3_600
    with tempfile.TemporaryDirectory(prefix="oee-cpmm-later-") as folder:
        files = PoolFiles(Path(folder))
        later = build_pool(files, token, 5_000_000 * 10**6, SOL, 10_000 * 10**9, open_time=open_time)
        await place_accounts(net.url, files)
    assert await watcher.wait_change(token, SOL, 10.0) is True

    waiting = await watcher.snapshot(token, SOL)
    assert waiting.pool == str(later.address) and waiting.opens == Activation(unix_time=open_time)
    assert not waiting.opens.reached(waiting.now)
    with pytest.raises(PoolNotTradable):
        waiting.quote(10**6)

    await rpc(net.url, "localnet_advanceSlots", {"slots": 1, "unixTimestamp": open_time - 1})
    assert await watcher.wait_change(token, SOL, 10.0) is True  # the Clock is watched while it waits
    assert (await watcher.snapshot(token, SOL)).opens is not None  # one second early: still shut
    await rpc(net.url, "localnet_advanceSlots", {"slots": 1, "unixTimestamp": open_time})
    assert await watcher.wait_change(token, SOL, 10.0) is True
    assert CLOCK_SYSVAR in watcher.watched(token, SOL)
    opened = await watcher.snapshot(token, SOL)
    assert opened.opens is None and opened.now.unix_time == open_time
    _same(opened.quote(10**6), await adapter.quote(QuoteRequest(token, SOL, 10**6)))
    # open: the Clock is no longer watched (nor subscribed, where the stream is up)
    assert CLOCK_SYSVAR not in watcher.watched(token, SOL) | watcher.subscribed
    assert later.address in watcher.watched(token, SOL)


async def test_a_pool_created_later_is_pushed_then_opens_on_time(
    net: LocalnetHandle, adapter: RaydiumCpmmAdapter
) -> None:
    watcher = RaydiumCpmmWatcher(adapter, pubsub_url=net.ws_url, search_interval_s=3_600)
    await _sniper(net, adapter, watcher, JUP)
    assert watcher.pushed
    await watcher.aclose()


async def test_a_pool_created_later_is_polled_without_pubsub(net: LocalnetHandle, adapter: RaydiumCpmmAdapter) -> None:
    bonk = TOKENS.resolve("BONK")
    assert bonk is not None
    watcher = RaydiumCpmmWatcher(adapter, poll_interval_s=0.05, search_interval_s=3_600)
    await _sniper(net, adapter, watcher, bonk)
    assert not watcher.pushed
    await watcher.aclose()


async def test_the_registry_builds_a_watcher_per_enabled_chain_dex(net: LocalnetHandle) -> None:
    from adapters.registry import build_watchers
    from kernel.settings import Settings

    options = {"solana_network": "localnet", "solana_rpc_url": net.url, "routing": "onchain"}
    settings = Settings(_env_file=None, **options)  # type: ignore[call-arg, arg-type]
    watchers = build_watchers(settings)
    try:
        assert sorted(w.name for w in watchers) == ["meteora", "raydium"]
        assert all(isinstance(w, PairWatcher) for w in watchers)
        cpmm = next(w for w in watchers if isinstance(w, RaydiumCpmmWatcher))
        assert (await cpmm.snapshot(SOL, USDC)).pool is not None

        async def pushed() -> bool:
            return cpmm.pushed

        assert await eventually(pushed, bool, within=10)  # over the localnet's PubSub, derived from its RPC URL
        assert await cpmm.wait_change(SOL, USDC, 0.2) is False
    finally:
        for watcher in watchers:
            await watcher.aclose()  # type: ignore[attr-defined]
