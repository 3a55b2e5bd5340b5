"""Route plans on the simulated ledger: every leg priced in order against the market, all filled or none.

A simulated transaction with legs is one atomic swap, like a chain transaction with several swap
instructions: each leg is priced against its pool as it stands (a hop's second leg spends exactly what
the first bought), any leg below its floor, or the whole below the plan's minimum, fails it, and only a
transaction that passes moves its pools, every one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adapters.simulated.market import SimulatedMarket
from kernel.errors import SlippageExceeded
from kernel.routes import LegMode, RoutePlan
from kernel.tokens import Token


def message_legs(plan: RoutePlan) -> list[dict[str, object]]:
    """The plan's legs as a simulated message writes them (mints, raw amounts)."""
    return [
        {"dex": leg.dex, "pool": leg.pool, "token_in": leg.token_in.mint, "token_out": leg.token_out.mint,
         "amount_in": leg.amount_in, "amount_out": leg.amount_out, "min_amount_out": leg.min_amount_out,
         "mode": leg.mode.value, "hop": leg.hop}
        for leg in plan.legs
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class LegFill:
    """What one leg spent and bought when its transaction was priced."""

    dex: str
    pool: str
    token_in: str
    token_out: str
    amount_in: int
    amount_out: int

    def as_dict(self) -> dict[str, object]:
        return {"dex": self.dex, "pool": self.pool, "token_in": self.token_in, "token_out": self.token_out,
                "amount_in": self.amount_in, "amount_out": self.amount_out}  # fmt: skip


def price_legs(
    market: SimulatedMarket,
    token: Callable[[str], Token],
    legs: Sequence[dict[str, object]],
    token_out: str,
    min_amount_out: int,
) -> tuple[int, int, list[LegFill]]:
    """Price every leg now, changing nothing: the input spent, the output received (the final legs'), and each
    leg's fill. Raises ``SlippageExceeded`` when a leg or the whole pays less than its floor, and the market's
    errors (``UnsupportedPair``, ...) as they are."""
    fills: list[LegFill] = []
    spent = received = 0
    for leg in legs:
        dex, pool = str(leg["dex"]), str(leg["pool"])
        tin, tout = token(str(leg["token_in"])), token(str(leg["token_out"]))
        amount_in, amount_out = int(str(leg["amount_in"])), int(str(leg["amount_out"]))
        floor = int(str(leg["min_amount_out"]))
        if leg["mode"] == LegMode.EXACT_OUT.value:
            # Exactly ``amount_out`` for at most ``amount_in``: what it needs now, refused when that is more.
            amount_in = market.input_for(dex, pool, tin, tout, amount_out, most=amount_in)
            got = amount_out
        else:
            got = market.quote(dex, tin, tout, amount_in, pool=pool).amount_out
            if got < floor:
                raise SlippageExceeded(
                    f"slippage exceeded: the {dex} leg pays {got}, below its minimum {floor}",
                    context={"quoted": got, "min_amount_out": floor, "pool": pool},
                )
        fills.append(LegFill(dex, pool, tin.mint, tout.mint, amount_in, got))
        if not leg["hop"]:
            spent += amount_in
        if tout.mint == token_out:
            received += got
    if received < min_amount_out:
        raise SlippageExceeded(f"slippage exceeded: the route pays {received}, below the minimum {min_amount_out}")
    return spent, received, fills


def fill_legs(market: SimulatedMarket, token: Callable[[str], Token], fills: Sequence[dict[str, object]]) -> None:
    """Move every pool a recorded transaction filled, by what it spent there."""
    for fill in fills:
        tin, tout = token(str(fill["token_in"])), token(str(fill["token_out"]))
        market.fill(str(fill["dex"]), tin, tout, int(str(fill["amount_in"])), pool=str(fill["pool"]))
