"""Route plans on the simulated venue: its pools split and hop, and the ledger settles every leg in one
transaction, all or none (against a real Redis)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import redis.asyncio as aioredis
from solders.keypair import Keypair

from adapters.simulated.config import LatencySpan, SimulatedConfig
from adapters.simulated.dex import SimulatedDex
from adapters.simulated.ledger import SimulatedLedger
from adapters.simulated.market import SimulatedMarket
from engine.routing import RoutePolicy, Router, RoutingDecision
from kernel.errors import SlippageExceeded, UnsupportedPair
from kernel.routes import LegMode, PoolQuoter
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from kernel.venues import QuoteRequest, SwapTicket, TxState

T0 = 1_700_000_000.0
TOKENS = TokenRegistry.for_network(Network.SIMULATED)
INSTANT = LatencySpan(0, 0)
CONFIG = SimulatedConfig(quote_latency=INSTANT, execution_latency=INSTANT)


def _token(symbol: str) -> Token:
    found = TOKENS.resolve(symbol)
    assert found is not None
    return found


SOL, USDC, BONK, RAY = _token("SOL"), _token("USDC"), _token("BONK"), _token("RAY")
POLICY = RoutePolicy(max_legs=3, split_steps=20, split_min_gain_bps=2, intermediates=(USDC, SOL), hop_min_gain_bps=2)


@pytest.fixture
async def ledger(redis_url: str) -> AsyncIterator[SimulatedLedger]:
    client = aioredis.Redis.from_url(redis_url)
    prefix = f"oee:simplans:{uuid.uuid4().hex[:12]}"
    market = SimulatedMarket(TOKENS, CONFIG, clock=lambda: T0)
    try:
        yield SimulatedLedger(market, client, CONFIG, Keypair(), key_prefix=prefix)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def _route(market: SimulatedMarket, token_in: Token, token_out: Token, amount: int) -> RoutingDecision:
    dexes = [SimulatedDex(name, market, CONFIG) for name in market.dexes]
    assert all(isinstance(d, PoolQuoter) for d in dexes)
    return await Router(dexes, 1.0, POLICY).route(QuoteRequest(token_in, token_out, amount), slippage_bps=50)


def _ticket(decision: RoutingDecision) -> SwapTicket:
    plan = decision.plan
    return SwapTicket(str(uuid.uuid4()), decision.best, plan.token_in, plan.token_out, plan.min_amount_out, plan)


def test_each_dex_has_two_pools_and_bonk_ray_none() -> None:
    market = SimulatedMarket(TOKENS, CONFIG, clock=lambda: T0)
    for dex in market.dexes:
        deep, thin = market.pools(dex, SOL, USDC)
        grids = market.quote_pools(dex, SOL, USDC, [10**9, 10**12])
        assert [g.pool for g in grids] == [deep, thin]
        # At one size the two pay alike (one price); large, the deeper pool pays more.
        small, large = (g.amounts_out for g in grids)
        assert small[0] is not None and large[0] is not None and small[1] is not None and large[1] is not None
        assert small[1] > large[1]
        assert market.quote(dex, SOL, USDC, 10**12).pool == deep
        with pytest.raises(UnsupportedPair):
            market.quote(dex, BONK, RAY, 10**9)


def test_the_input_an_exact_out_swap_needs_is_the_least_that_buys_it() -> None:
    market = SimulatedMarket(TOKENS, CONFIG, clock=lambda: T0)
    pool = market.pools("raydium", SOL, USDC)[0]
    want = market.quote("raydium", SOL, USDC, 10**9, pool=pool).amount_out
    needed = market.input_for("raydium", pool, SOL, USDC, want, most=2 * 10**9)
    assert needed <= 10**9
    assert market.quote("raydium", SOL, USDC, needed, pool=pool).amount_out >= want
    assert market.quote("raydium", SOL, USDC, needed - 1, pool=pool).amount_out < want
    with pytest.raises(SlippageExceeded):
        market.input_for("raydium", pool, SOL, USDC, want, most=needed - 1)


async def test_a_split_settles_every_leg_in_one_transaction(ledger: SimulatedLedger) -> None:
    market = ledger.market
    decision = await _route(market, SOL, USDC, 5_000 * 10**9)
    plan = decision.plan
    assert plan.kind == "split" and plan.gain_bps >= 2 and len(plan.legs) >= 2
    assert plan.amount_out > decision.best.amount_out
    before = [market.quote(leg.dex, SOL, USDC, 10**9, pool=leg.pool).amount_out for leg in plan.legs]
    tx = await ledger.prepare(_ticket(decision))
    await ledger.send(tx)
    status = await ledger.wait(tx, 2.0)
    assert status.state is TxState.LANDED
    assert status.amount_out == plan.amount_out  # the clock is frozen: each leg fills at its quote
    record = await ledger.record(tx.signature)
    assert record is not None and record.fills is not None
    assert [(f["pool"], f["amount_in"]) for f in record.fills] == [(leg.pool, leg.amount_in) for leg in plan.legs]
    after = [market.quote(leg.dex, SOL, USDC, 10**9, pool=leg.pool).amount_out for leg in plan.legs]
    assert all(a < b for a, b in zip(after, before, strict=True))  # every pool of the split moved


async def test_a_hop_buys_exactly_what_its_second_leg_spends(ledger: SimulatedLedger) -> None:
    decision = await _route(ledger.market, BONK, RAY, 5_000_000 * 10**BONK.decimals)
    plan = decision.plan
    assert plan.kind == "hop" and plan.intermediate is not None
    first, second = plan.legs
    assert first.mode is LegMode.EXACT_OUT and second.amount_in == first.amount_out
    tx = await ledger.prepare(_ticket(decision))
    await ledger.send(tx)
    status = await ledger.wait(tx, 2.0)
    assert status.state is TxState.LANDED and status.amount_out == plan.amount_out
    record = await ledger.record(tx.signature)
    assert record is not None and record.fills is not None
    bought, sold = record.fills
    assert bought["amount_out"] == first.amount_out and int(str(bought["amount_in"])) <= first.amount_in
    assert sold["amount_in"] == first.amount_out
    assert record.amount_in == bought["amount_in"]  # what the order spent; the rest stays in the wallet


async def test_one_leg_under_its_floor_fails_the_whole_plan_and_moves_no_pool(ledger: SimulatedLedger) -> None:
    market = ledger.market
    decision = await _route(market, SOL, USDC, 5_000 * 10**9)
    plan = decision.plan
    assert len(plan.legs) >= 2
    last = plan.legs[-1]
    greedy = replace(plan, legs=(*plan.legs[:-1], replace(last, min_amount_out=last.amount_out + 1)))
    before = [market.quote(leg.dex, SOL, USDC, 10**9, pool=leg.pool).amount_out for leg in plan.legs]
    ticket = SwapTicket(str(uuid.uuid4()), decision.best, SOL, USDC, plan.min_amount_out, greedy)
    tx = await ledger.prepare(ticket)
    await ledger.send(tx)
    status = await ledger.wait(tx, 2.0)
    assert status.state is TxState.FAILED and status.error_code == SlippageExceeded.code
    after = [market.quote(leg.dex, SOL, USDC, 10**9, pool=leg.pool).amount_out for leg in plan.legs]
    assert after == before
