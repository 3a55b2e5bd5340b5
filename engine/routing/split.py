"""The split optimiser: how to divide one order's input over several pools of a pair. Pure: no I/O.

Each pool is priced at ``steps`` equal fractions of the order (``amount * k // steps``, k = 1..steps) in one
round. Choosing how many fractions each pool takes so that the outputs add up to the most is a knapsack over
the grid, solved exactly by dynamic programming (pools x steps x steps x legs; a handful of pools and twenty
steps is a few thousand additions). Concave curves make this the grid point nearest to equal marginal
prices; the chosen amounts are then quoted exactly before the split is compared with the best single pool.

Floors: the order's minimum is the plan's quote less its slippage, rounded down. Each leg's floor is its own
quote less the same slippage, rounded down, and the units those roundings lose are given back one each to
the legs that lost most, so the legs' floors add up to at least the plan's minimum and none exceeds its quote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kernel.routes import PoolQuotes

BPS = 10_000


@dataclass(frozen=True, slots=True)
class GridSplit:
    """The best division found on the grid: ``steps_by_pool[i]`` fractions to pool ``i`` (0 for none) and
    the total the grid prices it at."""

    steps_by_pool: tuple[int, ...]
    total_out: int

    @property
    def legs(self) -> int:
        return sum(1 for k in self.steps_by_pool if k)


def grid_amounts(amount_in: int, steps: int) -> list[int]:
    """The amounts a grid prices: ``amount_in * k // steps`` for k = 1..steps, without zeros or repeats."""
    if steps < 1:
        raise ValueError("a grid needs at least one step")
    return sorted({amount_in * k // steps for k in range(1, steps + 1)} - {0})


def split_ceiling(grids: Sequence[PoolQuotes], amount_in: int, steps: int) -> int:
    """The most any division of the order over ``grids`` could pay: every fraction at the best rate any pool
    pays for one fraction. On concave curves (more input, less out per unit) no split pays more, so when this
    does not beat the best single pool by enough, the optimiser need not run."""
    first = amount_in // steps
    rates = [out for grid in grids if (out := grid.out_for(first)) is not None] if first else []
    return max(rates, default=0) * steps


def best_grid_split(grids: Sequence[PoolQuotes], amount_in: int, steps: int, max_legs: int) -> GridSplit | None:
    """The division of all ``steps`` fractions over at most ``max_legs`` pools paying the most on the grid.

    ``grids`` are each pool's quotes at :func:`grid_amounts`; a fraction a pool did not price (or cannot take)
    is not a choice. Ties go to fewer legs, then to the earlier pools. None when no division covers the order.
    """
    if max_legs < 1 or not grids:
        return None
    # value[p][k]: what pool p pays for k fractions (None: cannot).
    value: list[list[int | None]] = []
    for grid in grids:
        row: list[int | None] = [0]
        for k in range(1, steps + 1):
            row.append(grid.out_for(amount_in * k // steps))
        value.append(row)
    # best[j][l]: (total, legs used, choice per pool) for j fractions over the pools so far using l legs.
    Entry = tuple[int, tuple[int, ...]]
    best: list[list[Entry | None]] = [[None] * (max_legs + 1) for _ in range(steps + 1)]
    best[0][0] = (0, ())
    for row in value:
        nxt: list[list[Entry | None]] = [[None] * (max_legs + 1) for _ in range(steps + 1)]
        for j in range(steps + 1):
            for legs in range(max_legs + 1):
                here = best[j][legs]
                if here is None:
                    continue
                for k in range(0, steps - j + 1):
                    gain = row[k]
                    if gain is None:
                        continue
                    used = legs + (1 if k else 0)
                    if used > max_legs:
                        continue
                    candidate = (here[0] + gain, (*here[1], k))
                    slot = nxt[j + k][used]
                    if slot is None or candidate[0] > slot[0]:
                        nxt[j + k][used] = candidate
        best = nxt
    found: GridSplit | None = None
    for legs in range(1, max_legs + 1):
        entry = best[steps][legs]
        # Strictly more output for each extra leg: a tie keeps the simpler route.
        if entry is not None and (found is None or entry[0] > found.total_out):
            found = GridSplit(entry[1], entry[0])
    return found


def split_amounts(amount_in: int, steps_by_pool: Sequence[int], steps: int) -> list[int]:
    """The input of each pool for a grid division, adding up to ``amount_in`` exactly: the units the grid's
    rounding leaves over go to the pool with the most fractions (the first such)."""
    amounts = [amount_in * k // steps for k in steps_by_pool]
    largest = max(range(len(amounts)), key=lambda i: (steps_by_pool[i], -i))
    amounts[largest] += amount_in - sum(amounts)
    return amounts


def min_out(amount_out: int, slippage_bps: int) -> int:
    """The least an amount quoted at ``amount_out`` may pay: less ``slippage_bps``, rounded down."""
    return amount_out * (BPS - slippage_bps) // BPS


def leg_floors(amounts_out: Sequence[int], slippage_bps: int) -> tuple[int, list[int]]:
    """The plan's minimum for legs quoted at ``amounts_out``, and each leg's floor; the floors add up to at
    least the minimum and none is above its leg's quote."""
    plan_min = min_out(sum(amounts_out), slippage_bps)
    floors = [min_out(out, slippage_bps) for out in amounts_out]
    deficit = plan_min - sum(floors)
    # The legs whose rounding lost most get a unit back first; each of them lost some, so stays within its quote.
    lost = sorted(range(len(floors)), key=lambda i: -((amounts_out[i] * (BPS - slippage_bps)) % BPS))
    for i in lost[:deficit]:
        floors[i] += 1
    return plan_min, floors


def shares_bps(amounts_in: Sequence[int]) -> list[int]:
    """Each leg's share of the input in basis points, adding up to 10,000 (the first leg takes the rounding)."""
    total = sum(amounts_in)
    shares = [amount * BPS // total for amount in amounts_in]
    shares[0] += BPS - sum(shares)
    return shares


def gain_bps(amount_out: int, reference: int | None) -> int:
    """What ``amount_out`` pays over ``reference`` in basis points, rounded down (0 without a reference)."""
    if not reference:
        return 0
    return (amount_out - reference) * BPS // reference
