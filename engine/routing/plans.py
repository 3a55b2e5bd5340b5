"""Route plans from quotes: one pool, a split over pools, a hop through an intermediate token. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from engine.routing.split import gain_bps, leg_floors, min_out, shares_bps
from kernel import money
from kernel.routes import LegMode, RouteLeg, RoutePlan
from kernel.tokens import Token
from kernel.venues import Quote


def single_plan(quote: Quote, token_in: Token, token_out: Token, slippage_bps: int) -> RoutePlan:
    """One exact-in leg through ``quote``'s pool."""
    floor = quote.min_amount_out(slippage_bps)
    leg = RouteLeg(quote.dex, quote.pool, token_in, token_out, quote.amount_in, quote.amount_out, floor)
    return RoutePlan((leg,), token_in, token_out, quote.amount_in, quote.amount_out, floor)


def split_plan(
    legs: Sequence[tuple[str, str, int, int]],
    token_in: Token,
    token_out: Token,
    slippage_bps: int,
    reference: int | None,
) -> RoutePlan:
    """Exact-in legs ``(dex, pool, amount_in, amount_out)`` of one pair, their floors adding up to at least the
    plan's minimum; ``reference`` is the best single pool's output, for the gain."""
    outs = [out for _, _, _, out in legs]
    plan_min, floors = leg_floors(outs, slippage_bps)
    shares = shares_bps([amount for _, _, amount, _ in legs])
    route_legs = tuple(
        RouteLeg(dex, pool, token_in, token_out, amount, out, floor, share)
        for (dex, pool, amount, out), floor, share in zip(legs, floors, shares, strict=True)
    )
    total_in, total_out = sum(leg.amount_in for leg in route_legs), sum(outs)
    return RoutePlan(route_legs, token_in, token_out, total_in, total_out, plan_min, gain_bps(total_out, reference))


def hop_margin_bps(slippage_bps: int) -> int:
    """The share of an order's slippage a hop's first leg keeps as its margin: half.

    The first leg buys exactly what the second spends (exact out), for at most the order's input; buying a
    little less than the quote lets that leg fill when its pool has moved against it, and whatever input it
    does not need stays in the wallet.
    """
    return slippage_bps // 2


def hop_plan(
    first: Quote,
    second: Quote,
    token_in: Token,
    middle: Token,
    token_out: Token,
    slippage_bps: int,
    reference: int | None,
) -> RoutePlan:
    """Two legs: ``first`` buys exactly ``second.amount_in`` of ``middle`` for at most the order's input
    (exact out), ``second`` spends all of it (exact in) with the plan's minimum as its floor."""
    spend = second.amount_in
    floor = min_out(second.amount_out, slippage_bps)
    legs = (
        RouteLeg(first.dex, first.pool, token_in, middle, first.amount_in, spend, spend, mode=LegMode.EXACT_OUT),
        RouteLeg(second.dex, second.pool, middle, token_out, spend, second.amount_out, floor, hop=1),
    )
    gain = gain_bps(second.amount_out, reference)
    return RoutePlan(legs, token_in, token_out, first.amount_in, second.amount_out, floor, gain)


def plan_quote(plan: RoutePlan, label: str, fees: Sequence[Quote]) -> Quote:
    """A whole plan as one quote (where no single pool trades the pair): its first leg's pool and fee, the
    impact of its legs added up."""
    first = fees[0]
    impact = sum((q.price_impact_pct for q in fees), Decimal(0))
    return Quote(
        dex=label,
        pool=first.pool,
        amount_in=plan.amount_in,
        amount_out=plan.amount_out,
        fee=first.fee,
        fee_mint=first.fee_mint,
        price=money.price(plan.amount_in, plan.token_in.decimals, plan.amount_out, plan.token_out.decimals),
        price_impact_pct=impact,
        latency_ms=max(q.latency_ms for q in fees),
    )
