"""The router's plans on constant-product pools with no fee, where every amount can be worked by hand:
``out = floor(a * R_out / (R_in + a))``."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest

from adapters.simulated.curves import ConstantProductPool
from engine.routing import RoutePolicy, Router
from engine.routing.split import best_grid_split, grid_amounts, leg_floors
from kernel.errors import UnsupportedPair
from kernel.routes import LegMode, PoolQuoter, PoolQuotes
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from kernel.venues import Quote, QuoteRequest

TOKENS = TokenRegistry.for_network(Network.SIMULATED)


def _token(symbol: str) -> Token:
    found = TOKENS.resolve(symbol)
    assert found is not None
    return found


SOL, USDC, JUP, BONK = _token("SOL"), _token("USDC"), _token("JUP"), _token("BONK")


class CurveDex:
    """A DEX over fee-less constant-product pools: ``pools`` maps a name to (token x, token y, R_x, R_y)."""

    def __init__(self, name: str, pools: dict[str, tuple[Token, Token, int, int]]) -> None:
        self.name = name
        self.pools = {p: (x, y, ConstantProductPool(rx, ry, fee_ppm=0)) for p, (x, y, rx, ry) in pools.items()}

    def _of(self, token_in: Token, token_out: Token) -> list[tuple[str, ConstantProductPool, bool]]:
        found = [(p, c, x.mint == token_in.mint) for p, (x, y, c) in self.pools.items()
                 if {x.mint, y.mint} == {token_in.mint, token_out.mint}]  # fmt: skip
        if not found:
            raise UnsupportedPair(f"{self.name} has no {token_in.symbol}/{token_out.symbol} pool")
        return found

    async def quote(self, request: QuoteRequest) -> Quote:
        quotes = [
            Quote(self.name, p, request.amount_in, c.quote(request.amount_in, x_to_y).amount_out, 0,
                  request.token_in.mint, Decimal(1), Decimal(0))
            for p, c, x_to_y in self._of(request.token_in, request.token_out)
        ]  # fmt: skip
        return max(quotes, key=lambda q: q.amount_out)

    async def quote_pools(self, token_in: Token, token_out: Token, amounts: Sequence[int]) -> list[PoolQuotes]:
        return [
            PoolQuotes(self.name, p, tuple(amounts), tuple(c.quote(a, x_to_y).amount_out or None for a in amounts))
            for p, c, x_to_y in self._of(token_in, token_out)
        ]

    async def aclose(self) -> None:
        return None


POLICY = RoutePolicy(max_legs=3, split_steps=20, split_min_gain_bps=2, intermediates=(USDC, SOL), hop_min_gain_bps=2)


def test_the_curve_dex_is_a_pool_quoter() -> None:
    assert isinstance(CurveDex("raydium", {}), PoolQuoter)


async def test_a_large_order_splits_over_two_equal_pools_and_pays_more() -> None:
    dexes = [
        CurveDex("raydium", {"r1": (SOL, JUP, 1_000_000, 1_000_000)}),
        CurveDex("meteora", {"m1": (SOL, JUP, 1_000_000, 1_000_000)}),
    ]
    decision = await Router(dexes, 1.0, POLICY).route(QuoteRequest(SOL, JUP, 100_000), slippage_bps=50)
    plan = decision.plan
    assert plan.kind == "split"
    # Alone: 100000 * 1e6 / 1.1e6 = 90909. Halves: 50000 * 1e6 / 1.05e6 = 47619 each.
    assert decision.best.amount_out == 90_909
    assert [(leg.dex, leg.amount_in, leg.amount_out) for leg in plan.legs] == [
        ("raydium", 50_000, 47_619),
        ("meteora", 50_000, 47_619),
    ]
    assert plan.amount_out == 95_238 and plan.amount_in == 100_000
    assert plan.gain_bps == (95_238 - 90_909) * 10_000 // 90_909 == 476
    # 95238 * 0.995 = 94761.8; each leg 47619 * 0.995 = 47380.9, and the unit the two floors lose goes back.
    assert plan.min_amount_out == 94_761
    assert [leg.min_amount_out for leg in plan.legs] == [47_381, 47_380]
    assert [leg.share_bps for leg in plan.legs] == [5_000, 5_000]
    assert all(leg.mode is LegMode.EXACT_IN for leg in plan.legs)
    assert decision.dex_label == "raydium+meteora"
    kinds = {c.kind: c.amount_out for c in decision.candidates}
    assert kinds["split"] == 95_238 and kinds["single"] == 90_909


async def test_a_split_over_unequal_pools_of_one_dex_equalises_marginal_prices() -> None:
    dexes = [CurveDex("raydium", {"deep": (SOL, JUP, 3_000_000, 3_000_000), "thin": (SOL, JUP, 1_000_000, 1_000_000)})]
    decision = await Router(dexes, 1.0, POLICY).route(QuoteRequest(SOL, JUP, 400_000), slippage_bps=50)
    plan = decision.plan
    # Equal marginal prices split in proportion to the reserves, 3:1: 300000 * 3e6 / 3.3e6 and 100000 * 1e6 / 1.1e6.
    assert [(leg.pool, leg.amount_in, leg.amount_out, leg.share_bps) for leg in plan.legs] == [
        ("deep", 300_000, 272_727, 7_500),
        ("thin", 100_000, 90_909, 2_500),
    ]
    assert decision.best.amount_out == 400_000 * 3_000_000 // 3_400_000 == 352_941
    assert plan.amount_out == 363_636 and plan.gain_bps == 303
    assert plan.min_amount_out == 363_636 * 9_950 // 10_000 == 361_817
    assert [leg.min_amount_out for leg in plan.legs] == [271_363, 90_454]
    assert decision.dex_label == "raydium (2 pools)"


async def test_a_small_order_does_not_split() -> None:
    dexes = [
        CurveDex("raydium", {"r1": (SOL, JUP, 1_000_000, 1_000_000)}),
        CurveDex("meteora", {"m1": (SOL, JUP, 1_000_000, 1_000_000)}),
    ]
    decision = await Router(dexes, 1.0, POLICY).route(QuoteRequest(SOL, JUP, 1_000), slippage_bps=50)
    # Alone 1000 * 1e6 / 1.001e6 = 999; halves pay 499 each, 998: one pool it is.
    assert decision.plan.kind == "single"
    assert decision.plan.amount_out == 999 and decision.plan.min_amount_out == 999 * 9_950 // 10_000
    assert [c.kind for c in decision.candidates] == ["single", "single"]


async def test_a_split_below_the_threshold_is_not_taken() -> None:
    dexes = [
        CurveDex("raydium", {"r1": (SOL, JUP, 1_000_000, 1_000_000)}),
        CurveDex("meteora", {"m1": (SOL, JUP, 1_000_000, 1_000_000)}),
    ]
    request = QuoteRequest(SOL, JUP, 100_000)
    strict = RoutePolicy(max_legs=2, split_steps=20, split_min_gain_bps=477)
    decision = await Router(dexes, 1.0, strict).route(request, slippage_bps=50)
    # The split pays 476 bps more, under the 477 asked: the grid says so, and no exact quotes are asked for it.
    assert decision.plan.kind == "single" and [c.kind for c in decision.candidates] == ["single", "single"]
    enough = RoutePolicy(max_legs=2, split_steps=20, split_min_gain_bps=476)
    assert (await Router(dexes, 1.0, enough).route(request, slippage_bps=50)).plan.gain_bps == 476


async def test_a_hop_is_taken_when_no_pool_trades_the_pair() -> None:
    dexes = [
        CurveDex("raydium", {"a": (JUP, USDC, 1_000_000, 2_000_000)}),
        CurveDex("meteora", {"b": (USDC, BONK, 2_000_000, 1_000_000)}),
    ]
    decision = await Router(dexes, 1.0, POLICY).route(QuoteRequest(JUP, BONK, 10_000), slippage_bps=50)
    plan = decision.plan
    assert plan.kind == "hop" and plan.intermediate == USDC
    first, second = plan.legs
    # Leg 1 would pay 10000 * 2e6 / 1.01e6 = 19801 USDC; it buys exactly 19801 * 0.9975 = 19751 (half the slippage
    # kept as its margin) for at most the 10000 JUP, and leg 2 spends all of it: 19751 * 1e6 / 2019751 = 9778.
    assert (first.dex, first.mode, first.amount_in, first.amount_out, first.min_amount_out) == (
        "raydium", LegMode.EXACT_OUT, 10_000, 19_751, 19_751,
    )  # fmt: skip
    assert (second.dex, second.mode, second.amount_in, second.amount_out, second.hop) == (
        "meteora", LegMode.EXACT_IN, 19_751, 9_778, 1,
    )  # fmt: skip
    assert plan.amount_out == 9_778 and plan.min_amount_out == second.min_amount_out == 9_778 * 9_950 // 10_000
    assert decision.dex_label == "raydium>meteora via USDC"
    assert "no pool trades JUP/BONK directly" in decision.reason


async def test_no_pool_and_no_hop_is_unsupported() -> None:
    dexes = [CurveDex("raydium", {"a": (JUP, SOL, 1_000_000, 2_000_000)})]
    with pytest.raises(UnsupportedPair):
        await Router(dexes, 1.0, POLICY).route(QuoteRequest(JUP, BONK, 10_000), slippage_bps=50)


def test_the_grid_optimiser_prefers_fewer_legs_on_a_tie() -> None:
    amounts = grid_amounts(10, 2)
    flat = [PoolQuotes("d", name, tuple(amounts), tuple(a for a in amounts)) for name in ("p", "q")]
    found = best_grid_split(flat, 10, 2, 2)
    assert found is not None and found.legs == 1 and found.total_out == 10


@pytest.mark.parametrize("outs", [[1], [3, 3, 3], [47_619, 47_619], [10_001, 7, 999_999], [1, 1, 1, 1]])
@pytest.mark.parametrize("slippage_bps", [1, 50, 333, 5_000])
def test_leg_floors_add_up_to_the_plans_minimum_and_stay_within_each_quote(outs: list[int], slippage_bps: int) -> None:
    plan_min, floors = leg_floors(outs, slippage_bps)
    assert plan_min == sum(outs) * (10_000 - slippage_bps) // 10_000
    assert sum(floors) >= plan_min
    assert all(floor <= out for floor, out in zip(floors, outs, strict=True))


def test_routing_plans_single_pools_for_a_settlement_that_executes_one_swap() -> None:
    from adapters.settlement import SolanaSettlement
    from adapters.simulated import SimulatedLedger
    from kernel.routes import executes_plans
    from kernel.settings import Settings

    class OneSwap:
        """A settlement that says nothing of plans writes one swap per transaction."""

    assert executes_plans(SimulatedLedger) and executes_plans(SolanaSettlement) and not executes_plans(OneSwap)
    settings = Settings(route_max_legs=4, route_intermediates="USDC")  # type: ignore[arg-type]
    assert RoutePolicy.from_settings(settings, TOKENS, plans=False) == RoutePolicy()
    planned = RoutePolicy.from_settings(settings, TOKENS)
    assert planned.max_legs == 4 and planned.intermediates == (USDC,)


def test_pairs_joined_through_an_intermediate_are_tradable_where_plans_execute() -> None:
    from adapters.registry import _with_hops
    from kernel.settings import Settings

    pairs = frozenset({frozenset({SOL.mint, USDC.mint}), frozenset({BONK.mint, USDC.mint})})
    settings = Settings(route_intermediates="USDC,SOL")  # type: ignore[arg-type]
    assert _with_hops(pairs, settings, TOKENS) == pairs | {frozenset({SOL.mint, BONK.mint})}


async def test_a_hop_leg_down_for_now_makes_no_route_retryable_not_an_unsupported_pair() -> None:
    from kernel.errors import NoRoute, QuoteUnavailable

    class DownDex(CurveDex):
        async def quote(self, request: QuoteRequest) -> Quote:
            if request.token_in.mint == USDC.mint:  # the hop's second leg; JUP/BONK itself has no pool
                raise QuoteUnavailable("the RPC timed out")
            return await super().quote(request)

    dexes = [DownDex("raydium", {"a": (JUP, USDC, 1_000_000, 2_000_000), "b": (USDC, BONK, 2_000_000, 1_000_000)})]
    with pytest.raises(NoRoute):
        await Router(dexes, 1.0, POLICY).route(QuoteRequest(JUP, BONK, 10_000), slippage_bps=50)


async def test_no_split_is_planned_when_no_single_pool_quoted() -> None:
    from kernel.errors import NoRoute, QuoteUnavailable

    class QuoteDown(CurveDex):
        async def quote(self, request: QuoteRequest) -> Quote:
            raise QuoteUnavailable("the RPC timed out")

    dexes = [QuoteDown("raydium", {"r1": (SOL, JUP, 1_000_000, 1_000_000), "r2": (SOL, JUP, 1_000_000, 1_000_000)})]
    # The pools would price a split that pays more than either alone, but there is no single quote to weigh it
    # against (nor to fall back to): the attempt has no route, for now.
    with pytest.raises(NoRoute):
        await Router(dexes, 1.0, POLICY).route(QuoteRequest(SOL, JUP, 100_000), slippage_bps=50)
