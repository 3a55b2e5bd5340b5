"""The simulated DEX adapter: latency, transient failures, and the shared quote shape."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from solders.keypair import Keypair

from adapters.simulated import build_simulated
from adapters.simulated.config import LatencySpan, SimulatedConfig
from adapters.simulated.dex import SimulatedDex
from adapters.simulated.market import SimulatedMarket
from kernel.errors import QuoteUnavailable, UnsupportedPair
from kernel.settings import LatencyRange, Network, Settings
from kernel.tokens import Token, TokenRegistry
from kernel.venues import DexAdapter, QuoteRequest

T0 = 1_700_000_000.0
TOKENS = TokenRegistry.for_network(Network.SIMULATED)


def token(symbol: str) -> Token:
    found = TOKENS.resolve(symbol)
    assert found is not None
    return found


SOL, USDC = token("SOL"), token("USDC")
REQUEST = QuoteRequest(SOL, USDC, 1_500_000_000)


class RecordingSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_dex(name: str = "raydium", **config: object) -> tuple[SimulatedDex, SimulatedMarket, RecordingSleep]:
    cfg = SimulatedConfig(**config)  # type: ignore[arg-type]
    market = SimulatedMarket(TOKENS, cfg, clock=lambda: T0)
    sleep = RecordingSleep()
    return SimulatedDex(name, market, cfg, sleep=sleep), market, sleep


def test_is_a_dex_adapter() -> None:
    dex, _, _ = make_dex()
    assert isinstance(dex, DexAdapter)
    with pytest.raises(ValueError):
        make_dex("orca")


@pytest.mark.parametrize("name", ["raydium", "meteora"])
async def test_quote_is_the_market_quote_with_its_latency(name: str) -> None:
    dex, market, sleep = make_dex(name, quote_latency=LatencySpan(0, 0))
    quote = await dex.quote(REQUEST)
    assert sleep.calls == []  # no latency, no sleep at all
    assert quote.latency_ms == 0
    assert quote == market.quote(name, SOL, USDC, REQUEST.amount_in)
    assert quote.dex == name


async def test_latency_is_drawn_from_the_range_and_slept() -> None:
    dex, _, sleep = make_dex(quote_latency=LatencySpan(150, 250))
    latencies = [(await dex.quote(REQUEST)).latency_ms for _ in range(20)]
    assert all(150 <= ms <= 250 for ms in latencies)
    assert len(set(latencies)) > 1
    assert sleep.calls == [ms / 1000 for ms in latencies]


async def test_same_token_is_unsupported_without_waiting() -> None:
    dex, _, sleep = make_dex(quote_latency=LatencySpan(200, 200))
    with pytest.raises(UnsupportedPair):
        await dex.quote(QuoteRequest(SOL, SOL, 10**9))
    assert sleep.calls == []


async def test_unknown_token_is_unsupported() -> None:
    dex, _, _ = make_dex(quote_latency=LatencySpan(0, 0))
    stranger = Token("WIF", "dogwifhat", 6, "EKpQGSJtjMFqKZ9KQanSqYXRcF8fBopzLHYxdM65zcjm")
    with pytest.raises(UnsupportedPair):
        await dex.quote(QuoteRequest(SOL, stranger, 10**9))


async def test_failure_rate_one_always_fails_transiently() -> None:
    dex, _, sleep = make_dex(quote_latency=LatencySpan(100, 100), failure_rate=1.0)
    for _ in range(5):
        with pytest.raises(QuoteUnavailable):
            await dex.quote(REQUEST)
    assert sleep.calls == [0.1] * 5  # a failure still costs the round trip


async def test_failure_rate_is_a_share_and_seeded() -> None:
    async def outcomes() -> list[bool]:
        dex, _, _ = make_dex(quote_latency=LatencySpan(0, 0), failure_rate=0.3, seed=11)
        results = []
        for _ in range(200):
            try:
                await dex.quote(REQUEST)
                results.append(True)
            except QuoteUnavailable:
                results.append(False)
        return results

    first = await outcomes()
    assert 30 < first.count(False) < 90
    assert await outcomes() == first


async def test_build_sim_shares_one_market() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        simulated_quote_latency_ms=LatencyRange(low_ms=0, high_ms=0),
        simulated_failure_rate=0.0,
        simulated_pool_depth_usd=2_000_000,
    )
    client = aioredis.Redis.from_url("redis://127.0.0.1:1")  # never connected: building touches nothing
    try:
        dexes, ledger = build_simulated(settings, client, Keypair(), clock=lambda: T0)
        assert [d.name for d in dexes] == ["raydium", "meteora"]
        assert ledger.kind == "simulated"
        before = await dexes[0].quote(REQUEST)
        ledger.market.fill("raydium", SOL, USDC, 10**13)  # the ledger's fills move what the DEXes quote
        after = await dexes[0].quote(REQUEST)
        assert after.amount_out < before.amount_out
        assert (await dexes[1].quote(REQUEST)).amount_out == ledger.market.quote(
            "meteora", SOL, USDC, 1_500_000_000
        ).amount_out
    finally:
        await client.aclose()
