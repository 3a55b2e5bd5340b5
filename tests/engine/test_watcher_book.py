"""The per-pair book: fires exactly the orders a quote of their whole size says pay, pricing fewer than all."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from adapters.simulated import SimulatedConfig, SimulatedMarket, simulated_tokens
from adapters.simulated.watch import read_snapshot
from engine.db.waiting import WaitingOrder
from engine.watcher.book import PairBook
from kernel.orders import LimitTerms, OrderSpec, SniperTerms
from kernel.settings import Settings
from kernel.tokens import Token

SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]
TOKENS = simulated_tokens(SETTINGS)


def _token(symbol: str) -> Token:
    found = TOKENS.resolve(symbol)
    assert found is not None
    return found


def _order(amount_in: int, floor: int | None, *, kind: str = "limit", expires_in_s: float = 60) -> WaitingOrder:
    expires_at = datetime.now(UTC) + timedelta(seconds=expires_in_s)
    terms: LimitTerms | SniperTerms
    if kind == "limit" and floor is not None:
        terms = LimitTerms(Decimal(floor) / amount_in, floor, expires_at)  # the price is only shown, never used
    else:
        terms = SniperTerms(expires_at, floor)
    return WaitingOrder(uuid.uuid4(), OrderSpec(_token("SOL"), _token("USDC"), amount_in, 50, terms))


async def _snapshots(market: SimulatedMarket) -> list:  # type: ignore[type-arg]
    return [await read_snapshot(market, dex, _token("SOL"), _token("USDC")) for dex in market.dexes]


async def test_the_walk_fires_exactly_what_pays_and_stops_before_the_unreachable() -> None:
    rng = random.Random(5)
    market = SimulatedMarket(TOKENS, SimulatedConfig(), clock=lambda: 1_700_000_000.0)
    snapshots = await _snapshots(market)
    spot = max(s.quote(10**9).amount_out for s in snapshots)  # raw USDC for 1 SOL
    orders = []
    for _ in range(400):
        amount = rng.randrange(10**7, 50 * 10**9)  # 0.01 to 50 SOL
        rate = spot * rng.uniform(0.97, 1.03) / 10**9
        orders.append(_order(amount, int(amount * rate)))
    book = PairBook()
    book.add(orders)
    pricing = book.price(snapshots)

    def pays(order: WaitingOrder) -> bool:
        best = max(s.quote(order.spec.amount_in).amount_out for s in snapshots)
        return order.spec.trigger_min_out is not None and best >= order.spec.trigger_min_out

    assert {f.order.id for f in pricing.fires} == {o.id for o in orders if pays(o)}
    assert 0 < len(pricing.fires) < len(orders)
    for fire in pricing.fires:
        assert fire.execute_min_out == fire.order.spec.trigger_min_out <= fire.quote.amount_out
    # Orders asking more than any size is quoted are never priced: about half of them here.
    assert pricing.priced < 0.75 * len(orders), pricing.priced


async def test_a_sniper_fires_at_the_first_open_snapshot_with_its_slippage_and_cap() -> None:
    market = SimulatedMarket(TOKENS, SimulatedConfig(), clock=lambda: 1_700_000_000.0)
    snapshots = await _snapshots(market)
    capped_out = _order(10**9, 10**12, kind="sniper")  # asks a million USDC for 1 SOL
    uncapped = _order(10**9, None, kind="sniper")
    book = PairBook()
    book.add([capped_out, uncapped])
    [fire] = book.price(snapshots).fires
    assert fire.order.id == uncapped.id
    assert fire.execute_min_out == fire.quote.amount_out * (10_000 - 50) // 10_000


def test_due_orders_come_out_in_expiry_order_and_removed_ones_never() -> None:
    book = PairBook()
    late, early, gone = _order(10, 1, expires_in_s=30), _order(10, 1, expires_in_s=10), _order(10, 1, expires_in_s=5)
    book.add([late, early, gone])
    book.remove([gone.id])
    now = datetime.now(UTC)
    assert book.due(now) == []
    assert book.next_expiry() == early.expires_at
    assert [o.id for o in book.due(now + timedelta(seconds=20))] == [early.id]
    assert [o.id for o in book.due(now + timedelta(seconds=40))] == [late.id]
