"""Stops, take-profits, trailing stops and OCOs on the pair book: over a market steered down and up, each
fires exactly at the update its condition first holds on a quote of its whole size, once, and an OCO on one
side only."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.db.waiting import WaitingOrder
from engine.watcher.book import PairBook
from kernel.money import price
from kernel.orders import OcoTerms, OrderSpec, StopTerms, TakeProfitTerms, Terms, TrailingStopTerms
from kernel.tokens import Token
from kernel.venues import Quote

SOL = Token("SOL", "Solana", 9, "So11111111111111111111111111111111111111112")
USDC = Token("USDC", "USD Coin", 6, "EPjFWyd5wQ5xvY4zFhPSYCAacKSSMRkXBZRCJ4h4Wn3m")
EXPIRES = datetime.now(UTC) + timedelta(hours=1)


@dataclass(frozen=True)
class Pool:
    """A constant-product pool of SOL/USDC with a 0.25 % fee: a larger size never pays more per unit."""

    dex: str
    reserve_in: int
    reserve_out: int
    version: int = 0
    token_in: Token = SOL
    token_out: Token = USDC
    pool: str | None = "pool"
    opens: None = None
    now: None = None

    def quote(self, amount_in: int) -> Quote:
        after_fee = amount_in * 9975 // 10_000
        out = self.reserve_out * after_fee // (self.reserve_in + after_fee)
        return Quote(self.dex, "pool", amount_in, out, amount_in - after_fee, SOL.mint,
                     price(amount_in, 9, out, 6), Decimal(0))  # fmt: skip


def market(usd_per_sol: float, version: int) -> list[Pool]:
    """Two pools at the price, a little apart, deep enough that 50 SOL moves them about a percent."""
    depth = 5_000 * 10**9
    return [Pool("a", depth, int(depth * usd_per_sol / 1000), version),
            Pool("b", depth, int(depth * usd_per_sol * 1.002 / 1000), version)]  # fmt: skip


def best_out(pools: list[Pool], amount_in: int) -> int:
    return max(p.quote(amount_in).amount_out for p in pools)


def order(amount_in: int, terms: Terms) -> WaitingOrder:
    return WaitingOrder(uuid.uuid4(), OrderSpec(SOL, USDC, amount_in, 100, terms))


def test_each_trigger_fires_exactly_when_its_condition_first_holds_and_once() -> None:
    rng = random.Random(7)
    start = 150.0
    path = [150.0, 146.0, 141.0, 137.0, 143.0, 152.0, 160.0, 155.0, 148.0, 139.0, 131.0, 145.0, 158.0]
    orders: list[WaitingOrder] = []
    for n in range(800):
        amount = rng.randrange(10**8, 50 * 10**9)  # 0.1 to 50 SOL
        spot = best_out(market(start, 0), amount)  # what the size is quoted at placement

        def at(share: float, spot: int = spot) -> int:
            return max(1, int(spot * share))

        kind = n % 4
        if kind == 0:
            terms: Terms = StopTerms(Decimal(0), at(rng.uniform(0.85, 0.99)), EXPIRES)
        elif kind == 1:
            terms = TakeProfitTerms(Decimal(0), at(rng.uniform(1.01, 1.1)), EXPIRES)
        elif kind == 2:
            terms = OcoTerms(Decimal(0), at(rng.uniform(1.01, 1.1)), Decimal(0), at(rng.uniform(0.85, 0.99)), EXPIRES)
        else:
            terms = TrailingStopTerms(rng.randrange(100, 1200), EXPIRES)
        orders.append(order(amount, terms))
    book = PairBook()
    book.add(orders)
    waiting = {o.id: o for o in orders}
    peaks: dict[uuid.UUID, int] = {}
    fired_total: dict[uuid.UUID, str] = {}
    priced_less = False
    for version, usd in enumerate(path):
        pools = market(usd, version)
        pricing = book.price(pools)
        expected: dict[uuid.UUID, str] = {}
        for o in waiting.values():
            out = best_out(pools, o.spec.amount_in)
            terms = o.spec.terms
            if isinstance(terms, TrailingStopTerms):
                peak = peaks[o.id] = max(peaks.get(o.id, 0), out)
                if out <= peak * (10_000 - terms.trail_bps) // 10_000:
                    expected[o.id] = "trail"
            elif o.spec.trigger_min_out is not None and out >= o.spec.trigger_min_out:
                expected[o.id] = "rise"
            elif o.spec.trigger_max_out is not None and out <= o.spec.trigger_max_out:
                expected[o.id] = "fall"
        got = {f.order.id: f.side for f in pricing.fires}
        assert got == expected, f"step {version} at {usd}: {len(got)} fired, {len(expected)} expected"
        assert not set(got) & set(fired_total), "an order fired twice"
        for fire in pricing.fires:
            out = fire.quote.amount_out
            if fire.side == "rise":
                assert fire.execute_min_out == fire.order.spec.trigger_min_out <= out  # never below its price
            else:
                assert fire.execute_min_out == out * (10_000 - 100) // 10_000  # the quote less its slippage
            if fire.side == "trail":
                assert fire.peak == peaks[fire.order.id]
        # The book's peaks are the oracle's, for the trailing stops still waiting.
        for o in waiting.values():
            if isinstance(o.spec.terms, TrailingStopTerms) and o.id not in got:
                assert book.peak(o.id) == peaks[o.id]
        priced_less |= pricing.priced < len(waiting)
        book.remove(list(got))
        for order_id in got:
            del waiting[order_id]
        fired_total.update(got)
    sides = {kind: {s for i, s in fired_total.items() if type(next(o for o in orders if o.id == i).spec.terms) is kind}
             for kind in (StopTerms, TakeProfitTerms, OcoTerms, TrailingStopTerms)}  # fmt: skip
    assert sides[StopTerms] == {"fall"} and sides[TakeProfitTerms] == {"rise"} and sides[TrailingStopTerms] == {"trail"}
    assert sides[OcoTerms] == {"rise", "fall"}, "OCOs fired on both sides over the path, each order on one"
    assert len(fired_total) > 600, len(fired_total)  # the path reaches most levels
    assert priced_less, "the walks never stopped early"


def test_a_trailing_stop_resumes_from_its_stored_peak() -> None:
    amount = 10**9
    high = market(160.0, 0)
    stored_peak = best_out(high, amount)
    resumed = order(amount, TrailingStopTerms(300, EXPIRES, stored_peak))  # as a re-read from PostgreSQL gives it
    fresh = order(amount, TrailingStopTerms(300, EXPIRES))
    book = PairBook()
    book.add([resumed, fresh])
    # 3 % below 160 is 155.2: at 154 the resumed one fires; the fresh one sees 154 as its first peak.
    pricing = book.price(market(154.0, 1))
    assert [f.order.id for f in pricing.fires] == [resumed.id]
    assert pricing.peaks == {fresh.id: best_out(market(154.0, 1), amount)}
