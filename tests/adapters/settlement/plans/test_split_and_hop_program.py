"""Whole plans through the real programs, each in one transaction: a split across real CPMM and real DLMM
on one pair, two-hop plans (their second leg made to fail too), and a plan too large for a legacy message."""

from __future__ import annotations

import uuid

from solders.instruction import Instruction
from solders.message import MessageV0
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from adapters.dexes.raydium_cpmm.config import EXCEEDED_SLIPPAGE
from adapters.settlement.plans import plan_instructions
from adapters.solana.errors import custom_error
from adapters.solana.transactions import SwapMemo, build_transaction, encode_memo
from kernel.routes import LegMode, RouteLeg, RoutePlan
from kernel.venues import PreparedTx, Quote, QuoteRequest, SettlementKind, SwapTicket, TxState
from tests.adapters.settlement.helpers import SOL, landed
from tests.adapters.settlement.plans.conftest import SIGNATURE_FEE, USDC, Plans

SELL = 600 * 10**6  # raw X sold for SOL: large against both pools


def _ticket(plan: RoutePlan, quote: Quote) -> SwapTicket:
    return SwapTicket(str(uuid.uuid4()), quote, plan.token_in, plan.token_out, plan.min_amount_out, plan)


def _split_plan(legs: list[Quote], plans: Plans) -> RoutePlan:
    total_in, total_out = sum(q.amount_in for q in legs), sum(q.amount_out for q in legs)
    routed = tuple(
        RouteLeg(q.dex, q.pool, plans.x, SOL, q.amount_in, q.amount_out, q.amount_out, q.amount_in * 10_000 // total_in)
        for q in legs
    )
    return RoutePlan(routed, plans.x, SOL, total_in, total_out, total_out)


async def _best_split(plans: Plans) -> tuple[list[Quote], Quote]:
    """The CPMM/DLMM split of ``SELL`` paying the most by the adapters' exact quotes (a golden-section search
    over the CPMM share: the total is concave in it), and the best single pool for the whole size."""

    async def legs(on_cpmm: int) -> list[Quote]:
        return [await plans.cpmm.quote(QuoteRequest(plans.x, SOL, on_cpmm)),
                await plans.dlmm.quote(QuoteRequest(plans.x, SOL, SELL - on_cpmm))]  # fmt: skip

    async def total(on_cpmm: int) -> int:
        return sum(q.amount_out for q in await legs(on_cpmm))

    low, high = SELL // 1000, SELL - SELL // 1000
    while high - low > 1_000:
        a, b = low + (high - low) * 382 // 1000, low + (high - low) * 618 // 1000
        if await total(a) < await total(b):
            low = a
        else:
            high = b
    singles = [await plans.cpmm.quote(QuoteRequest(plans.x, SOL, SELL)),
               await plans.dlmm.quote(QuoteRequest(plans.x, SOL, SELL))]  # fmt: skip
    return await legs(low), max(singles, key=lambda q: q.amount_out)


async def test_a_split_across_cpmm_and_dlmm_pays_the_sum_of_its_legs(plans: Plans) -> None:
    legs, single = await _best_split(plans)
    plan = _split_plan(legs, plans)
    assert {leg.dex for leg in plan.legs} == {"raydium", "meteora"}
    assert plan.amount_out > single.amount_out  # the split pays more than the best single pool for the size
    x, held = await plans.holding(plans.x), await plans.held_wsol()
    recorded, lamports = await _settle_measured(plans, _ticket(plan, single))
    assert recorded == plan.amount_out == await plans.holding(SOL) - lamports + SIGNATURE_FEE
    assert x - await plans.holding(plans.x) == SELL
    assert await plans.held_wsol() == held


async def _hop(plans: Plans, first_mode: LegMode) -> tuple[RoutePlan, Quote]:
    """X -> SOL -> USDC: the first leg on DLMM (exact out: what 200 X buys) or CPMM (exact out from the inverse
    quote), the second on CPMM spending exactly the SOL the first produced."""
    sold = 200 * 10**6
    if first_mode is LegMode.EXACT_OUT:
        probe = await plans.dlmm.quote(QuoteRequest(plans.x, SOL, sold))
        middle = probe.amount_out
        first = RouteLeg("meteora", probe.pool, plans.x, SOL, sold, middle, middle, mode=LegMode.EXACT_OUT)
    else:
        middle = 50_000_000
        pool = str(plans.x_sol.address)
        needed = (await plans.cpmm.quote_exact_out(pool, plans.x, SOL, middle)).amount_in
        first = RouteLeg("raydium", pool, plans.x, SOL, needed, middle, middle, mode=LegMode.EXACT_OUT)
    second_quote = await plans.cpmm.quote(QuoteRequest(SOL, USDC, middle))
    second = RouteLeg("raydium", second_quote.pool, SOL, USDC, middle, second_quote.amount_out,
                      second_quote.amount_out, hop=1)  # fmt: skip
    plan = RoutePlan((first, second), plans.x, USDC, first.amount_in, second.amount_out, second.amount_out)
    return plan, second_quote


async def _settle_measured(plans: Plans, ticket: SwapTicket) -> tuple[int, int]:
    """Settle ``ticket``; the recorded output and the wallet's lamports once prepared (a lookup table the
    plan needs is made, and paid for, while preparing)."""
    tx = await plans.venue.prepare(ticket)
    prepared = await plans.holding(SOL)
    await plans.venue.send(tx)
    status = await landed(plans.venue, tx)
    assert status.state is TxState.LANDED and status.amount_out is not None, status
    return status.amount_out, prepared


async def test_two_hops_dlmm_exact_out_then_cpmm_pay_exactly_the_quote(plans: Plans) -> None:
    plan, quote = await _hop(plans, LegMode.EXACT_OUT)
    x, usdc = await plans.holding(plans.x), await plans.holding(USDC)
    recorded, lamports = await _settle_measured(plans, _ticket(plan, quote))
    assert recorded == plan.amount_out == await plans.holding(USDC) - usdc
    assert 0 < x - await plans.holding(plans.x) <= plan.amount_in  # swap_exact_out2 spends at most its maximum
    assert await plans.holding(SOL) == lamports - SIGNATURE_FEE  # the intermediate SOL all went into leg two


async def test_two_hops_cpmm_exact_out_then_cpmm_spend_exactly_the_inverse_quote(plans: Plans) -> None:
    plan, quote = await _hop(plans, LegMode.EXACT_IN)
    x, usdc = await plans.holding(plans.x), await plans.holding(USDC)
    recorded, lamports = await _settle_measured(plans, _ticket(plan, quote))
    assert recorded == plan.amount_out == await plans.holding(USDC) - usdc
    assert x - await plans.holding(plans.x) == plan.amount_in
    assert await plans.holding(SOL) == lamports - SIGNATURE_FEE


async def test_a_failing_second_leg_fails_the_whole_plan_and_spends_only_the_fee(plans: Plans) -> None:
    plan, quote = await _hop(plans, LegMode.EXACT_IN)
    ticket = _ticket(plan, quote)
    steps = await plan_instructions(ticket, plans.wallet, plans.venue._swaps)
    # The second leg's floor one unit above its quote (the adapter would refuse to build it: patch the bytes).
    index = max(i for i, ix in enumerate(steps) if ix.program_id == plans.cpmm.program_id)
    swap = steps[index]
    steps[index] = Instruction(
        swap.program_id, swap.data[:16] + (plan.amount_out + 1).to_bytes(8, "little"), swap.accounts
    )
    tables = [await plans.venue.tables.covering(steps)]  # too large for a legacy message
    blockhash, last_valid = await plans.rpc.latest_blockhash()
    memo = encode_memo(SwapMemo.for_ticket(ticket, simulated=False))
    tx = build_transaction(plans.venue._keypair, blockhash, 1_400_000, 0, memo, steps, tables)
    before = {t.symbol: await plans.holding(t) for t in (SOL, plans.x, USDC)}
    held = await plans.held_wsol()
    prepared = PreparedTx(str(tx.signatures[0]), bytes(tx), last_valid, SettlementKind.CHAIN)
    await plans.venue.send(prepared)
    status = await landed(plans.venue, prepared)
    assert status.state is TxState.FAILED and status.error_code == "slippage_exceeded", status
    _, err = await plans.rpc.signature_status(Signature.from_string(prepared.signature))
    assert custom_error(err) == (index + 1, EXCEEDED_SLIPPAGE)  # after the one compute budget instruction
    after = {t.symbol: await plans.holding(t) for t in (SOL, plans.x, USDC)}
    assert after == {**before, "SOL": before["SOL"] - SIGNATURE_FEE}
    assert await plans.held_wsol() == held


async def test_a_plan_too_large_for_a_legacy_transaction_lands_as_v0_with_a_lookup_table(plans: Plans) -> None:
    pools = [plans.x_sol, *plans.extra]
    share = SELL // (len(pools) + 1)
    legs = [await plans.pool_adapter(p).quote(QuoteRequest(plans.x, SOL, share)) for p in pools]
    legs.append(await plans.dlmm.quote(QuoteRequest(plans.x, SOL, SELL - share * len(pools))))
    plan = _split_plan(legs, plans)
    lamports, x = await plans.holding(SOL), await plans.holding(plans.x)
    ticket = _ticket(plan, legs[0])
    tx = await plans.venue.prepare(ticket)
    decoded = VersionedTransaction.from_bytes(tx.raw)
    assert isinstance(decoded.message, MessageV0) and decoded.message.address_table_lookups
    assert len(tx.raw) <= 1232
    table_rent = lamports - await plans.holding(SOL)  # the wallet paid the table's creation and extension
    await plans.venue.send(tx)
    status = await landed(plans.venue, tx)
    assert status.state is TxState.LANDED and status.amount_out == plan.amount_out, status
    assert await plans.holding(SOL) == lamports - table_rent + plan.amount_out - SIGNATURE_FEE
    assert x - await plans.holding(plans.x) == SELL
