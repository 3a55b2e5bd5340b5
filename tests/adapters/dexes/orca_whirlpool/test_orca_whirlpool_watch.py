"""Watching Orca Whirlpool pairs on a localnet: snapshots price exactly as the adapter quotes, and a pool created
later at the pair's pool PDA is found in the next snapshot (pushed over PubSub, or polled)."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from solders.pubkey import Pubkey

from adapters.dexes.orca_whirlpool import OrcaWhirlpoolAdapter, OrcaWhirlpoolConfig
from adapters.dexes.orca_whirlpool.instructions import whirlpool_address
from adapters.dexes.orca_whirlpool.watch import OrcaWhirlpoolWatcher
from adapters.settlement import ChainRpc
from kernel.errors import RejectedError, UnsupportedPair
from kernel.tokens import Token
from kernel.venues import QuoteRequest
from kernel.watching import PairSnapshot
from localnet import LocalnetHandle, running_localnet
from tests.adapters.contract.accounts import AccountFiles, place_accounts
from tests.adapters.contract.orca_whirlpool import (
    CONFIG,
    PROGRAM_ID,
    SOL,
    TOKENS,
    USDC,
    Position,
    book_with,
    build_sol_usdc_pool,
    build_whirlpool,
    chain_config,
)

SIZES = (1, 10**6, 123_456_789, 10**9, 37 * 10**9, 10**15)
SPACING = 16


@pytest.fixture(scope="module")
async def net() -> AsyncIterator[LocalnetHandle]:
    with tempfile.TemporaryDirectory(prefix="oee-whirlpool-watch-") as folder:
        files = AccountFiles(Path(folder))
        build_sol_usdc_pool(files)
        async with running_localnet(slot_ms=0, accounts=files.accounts) as handle:
            yield handle


@pytest.fixture
async def adapter(net: LocalnetHandle) -> AsyncIterator[OrcaWhirlpoolAdapter]:
    config = OrcaWhirlpoolConfig(PROGRAM_ID, discovery_configs=(CONFIG,), discovery_tick_spacings=(SPACING,))
    dex = OrcaWhirlpoolAdapter(ChainRpc(chain_config(net.url)), book_with([]), TOKENS, config=config)
    yield dex
    await dex.aclose()


async def _both(snapshot: PairSnapshot, adapter: OrcaWhirlpoolAdapter, size: int) -> None:
    """The snapshot answers ``size`` as the adapter does: the same quote, or the same refusal."""
    try:
        expected = await adapter.quote(QuoteRequest(snapshot.token_in, snapshot.token_out, size))
    except RejectedError as exc:
        with pytest.raises(type(exc)) as refused:
            snapshot.quote(size)
        assert refused.value.code == exc.code
        return
    assert snapshot.quote(size) == dataclasses.replace(expected, latency_ms=0)


@pytest.mark.parametrize("pushed", [True, False], ids=["pubsub", "polled"])
async def test_snapshot_quotes_equal_the_adapter_at_every_size(
    net: LocalnetHandle, adapter: OrcaWhirlpoolAdapter, pushed: bool
) -> None:
    options = {"pubsub_url": net.ws_url} if pushed else {"poll_interval_s": 0.05}
    watcher = OrcaWhirlpoolWatcher(adapter, **options)
    try:
        for token_in, token_out in ((SOL, USDC), (USDC, SOL)):
            snapshot = await watcher.snapshot(token_in, token_out)
            assert snapshot.opens is None
            for size in SIZES:
                await _both(snapshot, adapter, size)
    finally:
        await watcher.aclose()


async def _created_later(net: LocalnetHandle, watcher: OrcaWhirlpoolWatcher, token: Token) -> None:
    empty = await watcher.snapshot(token, USDC)
    assert empty.pool is None
    with pytest.raises(UnsupportedPair):
        empty.quote(10**6)
    assert await watcher.wait_change(token, USDC, 0.3) is False  # nothing there yet
    mint = Pubkey.from_string(token.mint)
    usdc = Pubkey.from_string(USDC.mint)
    assert bytes(mint) < bytes(usdc)
    address = whirlpool_address(PROGRAM_ID, CONFIG, mint, usdc, SPACING)
    with tempfile.TemporaryDirectory(prefix="oee-whirlpool-later-") as folder:
        files = AccountFiles(Path(folder))
        local = build_whirlpool(files, token, USDC, 2.0, [Position(-1250 * SPACING, 1250 * SPACING, 10**12)],
                                tick_spacing=SPACING)  # fmt: skip
        assert local.address == address
        await place_accounts(net.url, files)
    assert await watcher.wait_change(token, USDC, 10.0) is True
    found = await watcher.snapshot(token, USDC)
    assert found.pool == str(address) and found.opens is None
    assert found.quote(10**6).amount_out > 0
    await _both(found, watcher.adapter, 10**6)


async def test_a_pool_created_later_is_pushed(net: LocalnetHandle, adapter: OrcaWhirlpoolAdapter) -> None:
    watcher = OrcaWhirlpoolWatcher(adapter, pubsub_url=net.ws_url, search_interval_s=3_600)
    ray = TOKENS.resolve("RAY")
    assert ray is not None
    try:
        await _created_later(net, watcher, ray)
        assert watcher.pushed
    finally:
        await watcher.aclose()


async def test_a_pool_created_later_is_polled(net: LocalnetHandle, adapter: OrcaWhirlpoolAdapter) -> None:
    watcher = OrcaWhirlpoolWatcher(adapter, poll_interval_s=0.05, search_interval_s=3_600)
    jup = TOKENS.resolve("JUP")
    assert jup is not None
    try:
        await _created_later(net, watcher, jup)
        assert not watcher.pushed
    finally:
        await watcher.aclose()
