"""A route plan: the legs an order's swap takes, executed together in one atomic transaction.

A plain route is one leg through one pool. A split divides the order's input over several pools of the
same pair (the two DEXes, or several pools of one DEX); a hop goes through an intermediate token (USDC or
SOL), its second leg spending exactly what the first produced. A plan may combine both. Amounts are raw
units; ``share_bps`` is a leg's share of the order's input, for display.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol, runtime_checkable

from kernel.tokens import Token


class LegMode(StrEnum):
    """How a leg's swap instruction is written.

    ``EXACT_IN``: spend ``amount_in``, receive at least ``min_amount_out``.
    ``EXACT_OUT``: receive exactly ``amount_out``, spend at most ``amount_in`` (the first leg of a hop, so
    the next leg can spend exactly what it produced).
    """

    EXACT_IN = "exact_in"
    EXACT_OUT = "exact_out"


@dataclass(frozen=True, slots=True)
class RouteLeg:
    """One swap through one pool. ``amount_out`` is the quote; ``min_amount_out`` the floor the transaction
    enforces for this leg (for ``EXACT_OUT``, ``amount_out`` itself)."""

    dex: str
    pool: str
    token_in: Token
    token_out: Token
    amount_in: int
    amount_out: int
    min_amount_out: int
    share_bps: int = 10_000
    mode: LegMode = LegMode.EXACT_IN
    hop: int = 0  # 0 for a leg from the order's input, 1 for a leg from the intermediate token


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """Every leg of an order's swap, in execution order, and what the whole route is quoted to pay.

    ``amount_out`` is the sum of the final legs' quotes; ``min_amount_out`` the order's floor (the quote
    less the order's slippage), which the legs' own floors add up to at least. ``gain_bps`` is what the
    plan pays over the best single pool (0 for a single leg).
    """

    legs: tuple[RouteLeg, ...]
    token_in: Token
    token_out: Token
    amount_in: int
    amount_out: int
    min_amount_out: int
    gain_bps: int = 0

    @property
    def kind(self) -> str:
        """``single``, ``split``, ``hop`` or ``split-hop``, as the route plan shows it."""
        hops = any(leg.hop for leg in self.legs)
        firsts = sum(1 for leg in self.legs if leg.hop == 0)
        if hops:
            return "split-hop" if len(self.legs) > 2 or firsts > 1 else "hop"
        return "split" if len(self.legs) > 1 else "single"

    @property
    def intermediate(self) -> Token | None:
        """The token a hop goes through, or None."""
        for leg in self.legs:
            if leg.hop:
                return leg.token_in
        return None


@dataclass(frozen=True, slots=True)
class PoolQuotes:
    """One pool's exact-in answers for several input amounts of one pair, read in one I/O round.

    ``amounts_out[i]`` is what the pool pays for ``amounts_in[i]`` after every fee, or None where the pool
    cannot take that amount (too small to buy anything, or more than its liquidity).
    """

    dex: str
    pool: str
    amounts_in: tuple[int, ...]
    amounts_out: tuple[int | None, ...]

    def out_for(self, amount_in: int) -> int | None:
        """The quoted output for ``amount_in``, if that amount was priced and the pool can take it."""
        for amount, out in zip(self.amounts_in, self.amounts_out, strict=True):
            if amount == amount_in:
                return out
        return None


def executes_plans(venue: object) -> bool:
    """Whether a settlement venue executes a ticket's plan of several legs (``executes_plans = True`` on the
    venue). Routing plans single pools only for one that does not, so it is never handed a split or a hop."""
    return getattr(venue, "executes_plans", False) is True


@runtime_checkable
class PoolQuoter(Protocol):
    """A DEX that prices every pool it has for a pair at many amounts at once, so a router can split an
    order across pools without one round trip per pool and amount."""

    name: str

    async def quote_pools(self, token_in: Token, token_out: Token, amounts: Sequence[int]) -> list[PoolQuotes]:
        """Every pool the DEX has for the pair, each priced at each of ``amounts`` (raw ``token_in``), in one
        I/O round. Raises ``UnsupportedPair`` (no pool) or ``QuoteUnavailable`` (the venue failed for now)."""
        ...


def with_floor(plan: RoutePlan, floor: int) -> RoutePlan:
    """``plan`` with its minimum set to ``floor`` (a fired limit or sniper order's floor): the final legs'
    floors become ``floor`` shared in proportion to their quotes. ``ValueError`` when the plan's quote does
    not reach ``floor``."""
    if floor > plan.amount_out:
        raise ValueError(f"a plan quoted {plan.amount_out} cannot guarantee {floor}")
    final = [i for i, leg in enumerate(plan.legs) if leg.token_out.mint == plan.token_out.mint]
    outs = {i: plan.legs[i].amount_out for i in final}
    total = sum(outs.values())
    floors = {i: floor * outs[i] // total for i in final}
    short = floor - sum(floors.values())
    for i in final:  # what integer division left over, to the legs with room left
        add = min(short, outs[i] - floors[i])
        floors[i] += add
        short -= add
    legs = tuple(replace(leg, min_amount_out=floors[i]) if i in floors else leg for i, leg in enumerate(plan.legs))
    return replace(plan, legs=legs, min_amount_out=floor)
