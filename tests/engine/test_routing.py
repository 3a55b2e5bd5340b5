from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from engine.routing import Router
from kernel.errors import NoRoute, QuoteUnavailable, UnsupportedPair
from kernel.settings import Network
from kernel.tokens import TokenRegistry
from kernel.venues import Quote, QuoteRequest

TOKENS = TokenRegistry.for_network(Network.SIMULATED)
SOL = TOKENS.resolve("SOL")
USDC = TOKENS.resolve("USDC")
assert SOL is not None and USDC is not None
REQUEST = QuoteRequest(SOL, USDC, 1_000_000_000)


class FixedDex:
    """A fake DEX answering a fixed amount, after an optional delay, or failing."""

    def __init__(self, name: str, amount_out: int | None, *, delay: float = 0, error: Exception | None = None):
        self.name = name
        self.amount_out = amount_out
        self.delay = delay
        self.error = error
        self.calls = 0

    async def quote(self, request: QuoteRequest) -> Quote:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        assert self.amount_out is not None
        return Quote(self.name, f"{self.name}-pool", request.amount_in, self.amount_out, 10, USDC.mint,
                     Decimal(self.amount_out) / 1000, Decimal("0.01"))  # fmt: skip

    async def aclose(self) -> None:
        return None


async def test_best_output_wins_and_reason_names_both() -> None:
    router = Router([FixedDex("raydium", 150_000_000), FixedDex("meteora", 153_000_000)], 1.0)
    decision = await router.route(REQUEST)
    assert decision.best.dex == "meteora"
    assert len(decision.quotes) == 2
    assert "meteora pays 153 USDC" in decision.reason
    assert "raydium 150 USDC" in decision.reason
    assert "+2.000%" in decision.reason


async def test_quotes_are_requested_concurrently() -> None:
    in_flight = 0
    peak = 0

    class CountingDex(FixedDex):
        async def quote(self, request: QuoteRequest) -> Quote:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                return await super().quote(request)
            finally:
                in_flight -= 1

    dexes = [CountingDex("raydium", 1, delay=0.05), CountingDex("meteora", 2, delay=0.05)]
    await Router(dexes, 5.0).route(REQUEST)
    assert all(d.calls == 1 for d in dexes)
    assert peak == 2  # both requests were in flight at once


async def test_a_timed_out_dex_is_skipped_and_recorded() -> None:
    router = Router([FixedDex("raydium", 100, delay=5), FixedDex("meteora", 90)], 0.05)
    decision = await router.route(REQUEST)
    assert decision.best.dex == "meteora"
    assert [f.dex for f in decision.failures] == ["raydium"]
    assert "timed out" in decision.failures[0].error
    assert "raydium unavailable" in decision.reason


async def test_no_quote_at_all_is_retryable() -> None:
    router = Router(
        [FixedDex("raydium", None, error=QuoteUnavailable("rpc 503")), FixedDex("meteora", None, delay=5)], 0.05
    )
    with pytest.raises(NoRoute) as exc:
        await router.route(REQUEST)
    assert "rpc 503" in str(exc.value)
    assert len(exc.value.context["failures"]) == 2


async def test_unsupported_everywhere_is_rejected() -> None:
    router = Router([FixedDex("raydium", None, error=UnsupportedPair("no pool"))], 1.0)
    with pytest.raises(UnsupportedPair):
        await router.route(REQUEST)


async def test_tie_is_broken_deterministically() -> None:
    router = Router([FixedDex("meteora", 100), FixedDex("raydium", 100)], 1.0)
    assert (await router.route(REQUEST)).best.dex == "raydium"


def test_min_amount_out_rounds_down() -> None:
    q = Quote("raydium", "p", 1, 1_000_001, 0, USDC.mint, Decimal(1), Decimal(0))
    assert q.min_amount_out(50) == 995_000
    assert q.min_amount_out(1) == 999_900  # 1_000_001 * 9_999 // 10_000
