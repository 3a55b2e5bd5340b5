"""Watching Meteora DAMM v2 pairs on a localnet: snapshots price exactly as the adapter quotes, a pool created
later is found at the pair's customizable pool PDA (pushed over PubSub, or polled), and its activation point,
a slot or a unix time, is respected."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from solders.pubkey import Pubkey

from adapters.dexes.meteora_damm_v2 import MeteoraDammV2Adapter
from adapters.dexes.meteora_damm_v2.instructions import customizable_pool_address
from adapters.dexes.meteora_damm_v2.layouts import ActivationType
from adapters.dexes.meteora_damm_v2.watch import MeteoraDammV2Watcher
from adapters.settlement import ChainRpc
from adapters.solana.accounts import CLOCK_SYSVAR
from kernel.errors import PoolNotTradable, RejectedError, UnsupportedPair
from kernel.tokens import Token
from kernel.venues import Quote, QuoteRequest
from kernel.watching import Activation, PairSnapshot, PairWatcher
from localnet import LocalnetHandle, running_localnet
from tests.adapters.contract.accounts import AccountFiles, place_accounts
from tests.adapters.contract.meteora_damm_v2 import (
    PROGRAM_ID,
    SOL,
    TOKENS,
    USDC,
    book_with,
    build_concentrated_pool,
    build_sol_usdc_pool,
    chain_config,
)
from tests.support import json_rpc as rpc

SIZES = (1, 10**6, 123_456_789, 10**9, 37 * 10**9)


@pytest.fixture(scope="module")
async def net() -> AsyncIterator[LocalnetHandle]:
    with tempfile.TemporaryDirectory(prefix="oee-damm-v2-watch-") as folder:
        files = AccountFiles(Path(folder))
        build_sol_usdc_pool(files)
        async with running_localnet(slot_ms=0, accounts=files.accounts) as handle:
            yield handle


@pytest.fixture
async def adapter(net: LocalnetHandle) -> AsyncIterator[MeteoraDammV2Adapter]:
    dex = MeteoraDammV2Adapter(ChainRpc(chain_config(net.url)), book_with([]), TOKENS)
    yield dex
    await dex.aclose()


def _same(snapshot_quote: Quote, adapter_quote: Quote) -> None:
    assert dataclasses.replace(adapter_quote, latency_ms=0) == snapshot_quote


async def _both(snapshot: PairSnapshot, adapter: MeteoraDammV2Adapter, size: int) -> None:
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
    net: LocalnetHandle, adapter: MeteoraDammV2Adapter, pushed: bool
) -> None:
    watcher = MeteoraDammV2Watcher(adapter, pubsub_url=net.ws_url if pushed else None)
    assert isinstance(watcher, PairWatcher)
    for token_in, token_out in ((SOL, USDC), (USDC, SOL)):
        snapshot = await watcher.snapshot(token_in, token_out)
        assert isinstance(snapshot, PairSnapshot) and snapshot.pool is not None and snapshot.opens is None
        for size in SIZES:
            await _both(snapshot, adapter, size)
    # the first: a program search (two getProgramAccounts, serving both ways) and one batch; then one batch
    assert watcher.calls() == {"SOL/USDC": 3, "USDC/SOL": 1}
    await watcher.aclose()


async def _sniper(net: LocalnetHandle, adapter: MeteoraDammV2Adapter, watcher: MeteoraDammV2Watcher,
                  token: Token, activation_type: ActivationType) -> None:  # fmt: skip
    """No pool, then a pool placed at the pair's customizable PDA that activates later, then open at once."""
    empty = await watcher.snapshot(token, SOL)
    assert empty.pool is None and empty.opens is None
    with pytest.raises(UnsupportedPair):
        empty.quote(10**6)
    assert await watcher.wait_change(token, SOL, 0.3) is False  # nothing there yet

    now = await rpc(net.url, "localnet_advanceSlots", {"slots": 1})
    by_slot = activation_type == ActivationType.SLOT
    point = now["slot"] + 5 if by_slot else now["unixTimestamp"] + 3_600
    address = customizable_pool_address(PROGRAM_ID, Pubkey.from_string(token.mint), Pubkey.from_string(SOL.mint))
    with tempfile.TemporaryDirectory(prefix="oee-damm-v2-later-") as folder:
        files = AccountFiles(Path(folder))
        build_concentrated_pool(files, token, SOL, 0.01, 10**12, address=address, activation_type=activation_type,
                                activation_point=point)  # fmt: skip
        await place_accounts(net.url, files)
    assert await watcher.wait_change(token, SOL, 10.0) is True

    waiting = await watcher.snapshot(token, SOL)
    expected = Activation(slot=point) if by_slot else Activation(unix_time=point)
    assert waiting.pool == str(address) and waiting.opens == expected
    assert not waiting.opens.reached(waiting.now)
    with pytest.raises(PoolNotTradable):
        waiting.quote(10**6)

    step = {"slots": 4} if by_slot else {"slots": 1, "unixTimestamp": point - 1}
    await rpc(net.url, "localnet_advanceSlots", step)
    assert await watcher.wait_change(token, SOL, 10.0) is True  # the Clock is watched while it waits
    assert (await watcher.snapshot(token, SOL)).opens is not None  # one short: still shut
    await rpc(net.url, "localnet_advanceSlots", {"slots": 1} if by_slot else {"slots": 1, "unixTimestamp": point})
    assert await watcher.wait_change(token, SOL, 10.0) is True
    assert CLOCK_SYSVAR in watcher.watched(token, SOL)
    opened = await watcher.snapshot(token, SOL)
    assert opened.opens is None
    _same(opened.quote(10**6), await adapter.quote(QuoteRequest(token, SOL, 10**6)))
    assert CLOCK_SYSVAR not in watcher.watched(token, SOL) | watcher.subscribed


async def test_a_pool_created_later_is_pushed_then_activates_at_its_slot(
    net: LocalnetHandle, adapter: MeteoraDammV2Adapter
) -> None:
    watcher = MeteoraDammV2Watcher(adapter, pubsub_url=net.ws_url, search_interval_s=3_600)
    jup = TOKENS.resolve("JUP")
    assert jup is not None
    await _sniper(net, adapter, watcher, jup, ActivationType.SLOT)
    assert watcher.pushed
    await watcher.aclose()


async def test_a_pool_created_later_is_polled_then_activates_at_its_time(
    net: LocalnetHandle, adapter: MeteoraDammV2Adapter
) -> None:
    bonk = TOKENS.resolve("BONK")
    assert bonk is not None
    watcher = MeteoraDammV2Watcher(adapter, poll_interval_s=0.05, search_interval_s=3_600)
    await _sniper(net, adapter, watcher, bonk, ActivationType.TIMESTAMP)
    assert not watcher.pushed
    await watcher.aclose()
