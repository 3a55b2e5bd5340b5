"""Watching Meteora DLMM pairs on a localnet: snapshots price exactly as the adapter quotes, a pair created
later is found by the program search, and slot activation is respected to the slot."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.dexes.meteora_dlmm import MeteoraDlmmAdapter
from adapters.dexes.meteora_dlmm.layouts import ACTIVATION_BY_SLOT, PAIR_PERMISSION
from adapters.dexes.meteora_dlmm.watch import MeteoraDlmmWatcher
from adapters.settlement import ChainRpc
from kernel.errors import PoolNotTradable, QuoteUnavailable, RejectedError, UnsupportedPair
from kernel.venues import QuoteRequest
from kernel.watching import Activation, PairSnapshot, PairWatcher
from localnet import LocalnetHandle, running_localnet
from tests.adapters.contract.accounts import place_accounts
from tests.adapters.contract.meteora_dlmm import (
    SOL,
    TOKENS,
    USDC,
    PairFiles,
    book_with,
    build_pair,
    build_sol_usdc,
    chain_config,
    pubkey_for,
)
from tests.support import json_rpc as rpc

SIZES = (1, 10**6, 400_000_000, 1_500_000_000, 20 * 10**9, 10**12)


@pytest.fixture(scope="module")
async def net() -> AsyncIterator[LocalnetHandle]:
    with tempfile.TemporaryDirectory(prefix="oee-dlmm-watch-") as folder:
        files = PairFiles(Path(folder))
        files.pool(build_sol_usdc())
        async with running_localnet(slot_ms=0, accounts=files.accounts) as handle:
            yield handle


@pytest.fixture
async def adapter(net: LocalnetHandle) -> AsyncIterator[MeteoraDlmmAdapter]:
    dex = MeteoraDlmmAdapter(ChainRpc(chain_config(net.url)), book_with([]), TOKENS)
    yield dex
    await dex.aclose()


async def _both(snapshot: PairSnapshot, adapter: MeteoraDlmmAdapter, size: int) -> None:
    """The snapshot answers ``size`` as the adapter does: the same quote, or the same refusal."""
    try:
        expected = await adapter.quote(QuoteRequest(snapshot.token_in, snapshot.token_out, size))
    except RejectedError as exc:
        with pytest.raises(type(exc)) as refused:
            snapshot.quote(size)
        assert refused.value.code == exc.code
        return
    assert snapshot.quote(size) == dataclasses.replace(expected, latency_ms=0)


async def test_snapshot_quotes_equal_the_adapter_at_every_size(
    net: LocalnetHandle, adapter: MeteoraDlmmAdapter
) -> None:
    watcher = MeteoraDlmmWatcher(adapter, pubsub_url=net.ws_url)
    assert isinstance(watcher, PairWatcher)
    for token_in, token_out in ((SOL, USDC), (USDC, SOL)):
        snapshot = await watcher.snapshot(token_in, token_out)
        assert snapshot.pool is not None and snapshot.opens is None
        for size in SIZES:
            await _both(snapshot, adapter, size)
    await watcher.aclose()


async def test_a_walk_past_the_arrays_read_reads_more_next_time(
    net: LocalnetHandle, adapter: MeteoraDlmmAdapter
) -> None:
    watcher = MeteoraDlmmWatcher(adapter, arrays=1)
    size = 20 * 10**9  # selling 20 SOL walks out of the active array into -29
    with pytest.raises(QuoteUnavailable):
        (await watcher.snapshot(SOL, USDC)).quote(size)
    await _both(await watcher.snapshot(SOL, USDC), adapter, size)


async def test_a_pair_created_later_is_found_and_activates_at_its_slot(
    net: LocalnetHandle, adapter: MeteoraDlmmAdapter
) -> None:
    jup = TOKENS.resolve("JUP")
    assert jup is not None
    watcher = MeteoraDlmmWatcher(adapter, pubsub_url=net.ws_url, search_interval_s=0.05)
    empty = await watcher.snapshot(jup, USDC)
    assert empty.pool is None
    with pytest.raises(UnsupportedPair):
        empty.quote(10**6)

    slot = int((await rpc(net.url, "localnet_advanceSlots", 1))["slot"])
    activation = slot + 3
    with tempfile.TemporaryDirectory(prefix="oee-dlmm-later-") as folder:
        files = PairFiles(Path(folder))
        later = files.pool(
            build_pair(
                pubkey_for("jup-usdc-later"), jup, USDC, active_id=0, arrays=(-1, 0), x_per_bin=10**9,
                y_per_bin=10**9, pair_type=PAIR_PERMISSION, activation_type=ACTIVATION_BY_SLOT,
                activation_point=activation,
            )
        )  # fmt: skip
        await place_accounts(net.url, files)
    assert await watcher.wait_change(jup, USDC, 10.0) is True  # the search is due
    waiting = await watcher.snapshot(jup, USDC)
    assert waiting.pool == str(later.address) and waiting.opens == Activation(slot=activation)
    with pytest.raises(PoolNotTradable):
        waiting.quote(10**6)
    while True:
        await rpc(net.url, "localnet_advanceSlots", 1)
        assert await watcher.wait_change(jup, USDC, 10.0) is True  # the Clock is watched while it waits
        snapshot = await watcher.snapshot(jup, USDC)
        if snapshot.opens is None:
            break
        assert snapshot.now.slot < activation
    assert snapshot.now.slot == activation
    await _both(snapshot, adapter, 10**6)
    await watcher.aclose()
