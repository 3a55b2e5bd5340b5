"""A ticket's route as the instructions of ONE transaction: a single pool, or every leg of a plan.

What the transaction holds, in order:

1. when any leg has a native side, a fresh wSOL account (``CreateAccountWithSeed`` + ``InitializeAccount3``)
   holding the plan's whole input when the input is SOL, else empty (it receives SOL, out or in between);
2. each leg, in plan order, as its DEX builds it: the idempotent creation of its output token account (a
   duplicate of an earlier leg's is dropped) and its swap, the native side naming the fresh account;
3. the fresh account's close, which returns to the wallet every lamport in it: the rent, SOL the swaps paid
   out, and any input an exact-out leg did not spend.

The wallet's own wSOL account is never named, so a balance it holds is never touched. The transaction is
atomic: a leg that fails (its DEX's slippage code, say) fails every leg, and nothing but the fee is spent.

Hops: a second-hop leg spends exactly its ``amount_in`` of the intermediate token, which the first-hop legs
must guarantee: an ``EXACT_OUT`` first leg receives exactly its ``amount_out`` (CPMM ``swap_base_output``,
DLMM ``swap_exact_out2``), an ``EXACT_IN`` one at least its ``min_amount_out`` (any surplus stays with the
wallet: in its intermediate token account, or as lamports when the intermediate is SOL). A plan whose first
hop does not guarantee what its second spends, or whose final floors add up to less than its minimum, is
refused here.
"""

from __future__ import annotations

from collections.abc import Mapping

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from adapters.solana.spl import (
    ASSOCIATED_TOKEN_PROGRAM_ID,
    NATIVE_MINT,
    close_temporary_wsol,
    open_temporary_wsol,
    temporary_seed,
    temporary_wsol_address,
)
from kernel.errors import FatalError
from kernel.routes import LegMode, RouteLeg, RoutePlan
from kernel.venues import SwapBuilder, SwapTicket

_NATIVE = str(NATIVE_MINT)


def plan_of(ticket: SwapTicket) -> RoutePlan:
    """The plan a ticket executes: its own when it has one, else its single route as one exact-in leg."""
    if ticket.plan is not None and ticket.plan.legs:
        return ticket.plan
    route = ticket.route
    leg = RouteLeg(
        route.dex, route.pool, ticket.token_in, ticket.token_out, route.amount_in, route.amount_out,
        ticket.min_amount_out,
    )  # fmt: skip
    return RoutePlan(
        (leg,), ticket.token_in, ticket.token_out, route.amount_in, route.amount_out, ticket.min_amount_out
    )


def _guaranteed(leg: RouteLeg) -> int:
    """What a leg is sure to deliver if the transaction lands."""
    return leg.amount_out if leg.mode is LegMode.EXACT_OUT else leg.min_amount_out


def check_plan(plan: RoutePlan) -> None:
    """Refuse (``FatalError``) a plan that cannot execute as one transaction the way it promises."""
    final = [leg for leg in plan.legs if leg.token_out.mint == plan.token_out.mint]
    if not final:
        raise FatalError(f"no leg of the plan pays out {plan.token_out.symbol}")
    if sum(_guaranteed(leg) for leg in final) < plan.min_amount_out:
        raise FatalError("the plan's legs guarantee less than its minimum out")
    if sum(leg.amount_in for leg in plan.legs if leg.hop == 0) > plan.amount_in:
        raise FatalError("the plan's first legs spend more than its input")
    middle = plan.intermediate
    if middle is not None:
        produced = sum(_guaranteed(leg) for leg in plan.legs if leg.hop == 0 and leg.token_out.mint == middle.mint)
        spent = sum(leg.amount_in for leg in plan.legs if leg.hop == 1)
        if spent > produced:
            raise FatalError(
                f"the plan's second hop spends {spent} raw {middle.symbol}, its first guarantees only {produced}"
            )


async def plan_instructions(
    ticket: SwapTicket, owner: Pubkey, builders: Mapping[str, SwapBuilder]
) -> list[Instruction]:
    """Every instruction of ``ticket``'s swap, framed as the module says. Each leg's DEX re-quotes its pool
    (``SlippageExceeded`` when it already pays less than the leg's floor)."""
    plan = plan_of(ticket)
    check_plan(plan)
    seed = temporary_seed(ticket.order_id)
    native = any(_NATIVE in (leg.token_in.mint, leg.token_out.mint) for leg in plan.legs)
    accounts = {_NATIVE: temporary_wsol_address(owner, seed)} if native else {}
    steps: list[Instruction] = []
    if native:
        steps += open_temporary_wsol(owner, seed, plan.amount_in if plan.token_in.mint == _NATIVE else 0)
    for leg in plan.legs:
        builder = builders.get(leg.dex)
        if builder is None:
            raise FatalError(f"order {ticket.order_id} routes to {leg.dex}, which builds no swaps here")
        for ix in await builder.leg_instructions(leg, owner, accounts):
            if ix.program_id == ASSOCIATED_TOKEN_PROGRAM_ID and ix in steps:
                continue  # the same output account created twice: once is enough
            steps.append(ix)
    if native:
        steps.append(close_temporary_wsol(owner, seed))
    return steps
