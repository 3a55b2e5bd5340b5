"""Wrapped SOL through the real cp-swap program: the wallet's own wSOL account (3 SOL) is never touched,
and the recorded output is exactly what the program paid, both ways."""

from __future__ import annotations

import uuid

from kernel.routes import LegMode, RouteLeg, RoutePlan
from kernel.tokens import Token
from kernel.venues import QuoteRequest, SwapTicket, TxState
from tests.adapters.settlement.helpers import SOL, landed
from tests.adapters.settlement.plans.conftest import HELD_WSOL, SIGNATURE_FEE, USDC, Plans


async def settle(plans: Plans, ticket: SwapTicket) -> int:
    """Prepare, send and wait for ``ticket``; the output the settlement recorded."""
    tx = await plans.venue.prepare(ticket)
    await plans.venue.send(tx)
    status = await landed(plans.venue, tx)
    assert status.state is TxState.LANDED, status
    assert status.amount_out is not None
    return status.amount_out


async def _single(plans: Plans, token_in: Token, token_out: Token, amount: int) -> tuple[SwapTicket, int]:
    quote = await plans.cpmm.quote(QuoteRequest(token_in, token_out, amount))
    return SwapTicket(str(uuid.uuid4()), quote, token_in, token_out, quote.amount_out), quote.amount_out


async def test_sol_in_with_wrapped_sol_held(plans: Plans) -> None:
    held = await plans.held_wsol()
    assert held[1] == HELD_WSOL
    lamports, usdc = await plans.holding(SOL), await plans.holding(USDC)
    ticket, quoted = await _single(plans, SOL, USDC, 2 * 10**9)
    recorded = await settle(plans, ticket)
    assert recorded == quoted == await plans.holding(USDC) - usdc
    assert await plans.holding(SOL) == lamports - 2 * 10**9 - SIGNATURE_FEE
    assert await plans.held_wsol() == held


async def test_sol_out_with_wrapped_sol_held(plans: Plans) -> None:
    held = await plans.held_wsol()
    lamports, usdc = await plans.holding(SOL), await plans.holding(USDC)
    ticket, quoted = await _single(plans, USDC, SOL, 250 * 10**6)
    recorded = await settle(plans, ticket)
    # The SOL the program paid, to the lamport: no account's rent is counted as output.
    assert recorded == quoted == await plans.holding(SOL) - lamports + SIGNATURE_FEE
    assert usdc - await plans.holding(USDC) == 250 * 10**6
    assert await plans.held_wsol() == held


async def test_an_exact_out_leg_spends_what_the_inverse_quote_says(plans: Plans) -> None:
    """``swap_base_output`` for exactly 1 SOL takes exactly the computed USDC, the fee rounding included."""
    pool = str(plans.sol_usdc.address)
    wanted = 10**9 + 12_345
    exact = await plans.cpmm.quote_exact_out(pool, USDC, SOL, wanted)
    leg = RouteLeg("raydium", pool, USDC, SOL, exact.amount_in, wanted, wanted, mode=LegMode.EXACT_OUT)
    plan = RoutePlan((leg,), USDC, SOL, exact.amount_in, wanted, wanted)
    quote = (await _single(plans, USDC, SOL, exact.amount_in))[0].route
    lamports, usdc = await plans.holding(SOL), await plans.holding(USDC)
    recorded = await settle(plans, SwapTicket(str(uuid.uuid4()), quote, USDC, SOL, wanted, plan))
    assert recorded == wanted == await plans.holding(SOL) - lamports + SIGNATURE_FEE
    assert usdc - await plans.holding(USDC) == exact.amount_in
