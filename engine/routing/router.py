"""Routing: ask every enabled DEX for a quote at once, then weigh the best single pool against a split of the
order over several pools and a hop through an intermediate token, and plan the route that pays the most.

At most three rounds of I/O, and two for an order too small for a split to pay. The first asks every DEX,
concurrently, for its best quote of the order, its pools priced at one fraction of the order (which bounds
what any split could pay), and the first leg of each hop. The second prices the pools on the whole grid of
fractions where that bound says a split could pay, and quotes the second leg of each hop on what its first
leg buys. The third, only for a split the grid found, quotes exactly the amounts it sends to each pool.
A split or a hop is chosen only when it pays more than the best single pool, by at least the policy's
threshold, or when no pool trades the pair directly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

from engine.metrics import QUOTE_ERRORS, QUOTE_SECONDS
from engine.routing.decision import Candidate, QuoteFailure, RoutingDecision, plan_label, plan_reason, single_reason
from engine.routing.plans import hop_margin_bps, hop_plan, plan_quote, single_plan, split_plan
from engine.routing.split import best_grid_split, gain_bps, grid_amounts, min_out, split_amounts, split_ceiling
from kernel.errors import EngineError, NoRoute, QuoteUnavailable, RejectedError, RetryableError, UnsupportedPair
from kernel.routes import PoolQuoter, PoolQuotes
from kernel.settings import Settings
from kernel.tokens import Token, TokenRegistry
from kernel.venues import DexAdapter, Quote, QuoteRequest

log = logging.getLogger("oee.routing")


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """What routing may plan. ``max_legs`` 1 never splits; no ``intermediates``, no hops."""

    max_legs: int = 1
    split_steps: int = 20
    split_min_gain_bps: int = 0
    intermediates: tuple[Token, ...] = ()
    hop_min_gain_bps: int = 0

    @classmethod
    def from_settings(cls, settings: Settings, tokens: TokenRegistry, *, plans: bool = True) -> RoutePolicy:
        """``ROUTE_MAX_LEGS``, ``ROUTE_SPLIT_STEPS``, ``SPLIT_MIN_GAIN_BPS``, ``ROUTE_INTERMEDIATES`` (symbols or
        mints this network knows), ``HOP_MIN_GAIN_BPS``. Without ``plans`` (a settlement venue that executes one
        pool's swap only), single pools only."""
        if not plans:
            return cls()
        middles = tuple(t for t in (tokens.resolve(name) for name in settings.route_intermediates) if t is not None)
        return cls(settings.route_max_legs, settings.route_split_steps, settings.split_min_gain_bps, middles,
                   settings.hop_min_gain_bps)  # fmt: skip


class Router:
    """Fans quote requests out to every adapter, each under its own timeout, and plans the route."""

    def __init__(
        self, adapters: Sequence[DexAdapter], quote_timeout_s: float, policy: RoutePolicy | None = None
    ) -> None:
        if not adapters:
            raise ValueError("routing needs at least one DEX adapter")
        self._adapters = tuple(adapters)
        self._quoters = tuple(a for a in self._adapters if isinstance(a, PoolQuoter))  # checked once: it is slow
        self._timeout = quote_timeout_s
        self._policy = policy or RoutePolicy()

    @property
    def dexes(self) -> tuple[str, ...]:
        return tuple(a.name for a in self._adapters)

    async def route(self, request: QuoteRequest, slippage_bps: int = 0) -> RoutingDecision:
        """The plan paying the most for ``request``, its legs' floors honouring ``slippage_bps``. Raises
        ``UnsupportedPair`` when no DEX trades the pair (directly or through an intermediate), else ``NoRoute``
        when none quoted."""
        policy, n = self._policy, len(self._adapters)
        pair = (request.token_in.mint, request.token_out.mint)
        middles = [m for m in policy.intermediates if m.mint not in pair]
        steps = policy.split_steps
        # Round one prices every pool at one fraction of the order only: that bounds what any split could pay
        # (split_ceiling), and most orders are too small for a split to pay, so they never price the full grid.
        probe = [request.amount_in // steps] if policy.max_legs > 1 and request.amount_in // steps > 0 else []
        quoters = self._quoters if probe else ()
        direct, probes, first_legs = await _gather(
            [self._quote(a, request) for a in self._adapters],
            [self._grid(a, request, probe) for a in quoters],
            [
                self._quote(a, QuoteRequest(request.token_in, m, request.amount_in))
                for m in middles
                for a in self._adapters
            ],
        )
        quotes = tuple(r for r in direct if isinstance(r, Quote))
        failures = tuple(r for r in direct if isinstance(r, QuoteFailure))
        best = max(quotes, key=_rank) if quotes else None
        reference = best.amount_out if best is not None else None

        # Round two: the full grid where a split could pay, and each hop's second leg.
        probed = [g for found in probes if isinstance(found, list) for g in found]
        promising = self._split_could_pay(request, probed, reference)
        firsts = [_best_of(first_legs[i * n : (i + 1) * n]) for i in range(len(middles))]
        hops = [
            (middle, first, QuoteRequest(middle, request.token_out, spend))
            for middle, first in zip(middles, firsts, strict=True)
            if first is not None and (spend := min_out(first.amount_out, hop_margin_bps(slippage_bps))) > 0
        ]
        grid = grid_amounts(request.amount_in, steps)
        grids, seconds = await _gather(
            [self._grid(a, request, grid) for a in quoters] if promising else [],
            [self._quote(a, ask) for _, _, ask in hops for a in self._adapters],
        )

        # Round three, only for a split the grid found: exact quotes of the amounts it sends each pool.
        pools = [g for found in grids if isinstance(found, list) for g in found]
        legs = self._split_legs(request, pools, reference)
        amounts = [amount for _, amount in legs]
        (refined,) = await _gather([self._grid(a, request, amounts) for a in quoters] if amounts else [])

        candidates = [
            Candidate("single", q.dex, single_plan(q, request.token_in, request.token_out, slippage_bps))
            for q in sorted(quotes, key=_rank, reverse=True)
        ]
        exact = {(g.dex, g.pool): g for found in refined if isinstance(found, list) for g in found}
        priced = [(p.dex, p.pool, a, exact[(p.dex, p.pool)].out_for(a) if (p.dex, p.pool) in exact else None)
                  for p, a in legs]  # fmt: skip
        split_legs = [(dex, pool, a, out) for dex, pool, a, out in priced if out is not None]
        if legs and len(split_legs) == len(legs):
            plan = split_plan(split_legs, request.token_in, request.token_out, slippage_bps, reference)
            candidates.append(Candidate("split", plan_label(plan), plan))
        for j, (middle, first, _) in enumerate(hops):
            second = _best_of(seconds[j * n : (j + 1) * n])
            if second is not None:
                plan = hop_plan(first, second, request.token_in, middle, request.token_out, slippage_bps, reference)
                candidates.append(Candidate("hop", plan_label(plan), plan, (first, second)))
        # A hop leg that failed for now may trade next attempt: then no route is not yet an unsupported pair.
        hop_down = any(
            isinstance(r, QuoteFailure) and isinstance(r.cause, RetryableError) for r in (*first_legs, *seconds)
        )
        return self._decide(request, best, quotes, failures, candidates, hop_down=hop_down)

    def _split_could_pay(self, request: QuoteRequest, probed: Sequence[PoolQuotes], reference: int | None) -> bool:
        """Whether some division of the order could beat the best single pool by the threshold, judged from
        every pool's price of one fraction (on concave curves no division pays more than that rate)."""
        if not probed or reference is None:
            return False
        ceiling = split_ceiling(probed, request.amount_in, self._policy.split_steps)
        return ceiling > reference and gain_bps(ceiling, reference) >= max(self._policy.split_min_gain_bps, 1)

    def _split_legs(
        self, request: QuoteRequest, pools: Sequence[PoolQuotes], reference: int | None
    ) -> list[tuple[PoolQuotes, int]]:
        """The pools a split would use and the input of each, when the grid says a split beats the best single
        pool (none otherwise)."""
        policy = self._policy
        # A split is weighed against the best single pool: with none quoted (every DEX down for now), none.
        if not pools or reference is None:
            return []
        # A split pays at most every fraction at the best one-fraction rate: often not enough to be worth it.
        ceiling = split_ceiling(pools, request.amount_in, policy.split_steps)
        if ceiling <= reference or gain_bps(ceiling, reference) < max(policy.split_min_gain_bps, 1):
            return []
        split = best_grid_split(pools, request.amount_in, policy.split_steps, policy.max_legs)
        if split is None or split.legs < 2:
            return []
        # The grid's estimate must already clear the threshold: below it, the exact quotes are not worth a round.
        if split.total_out <= reference or gain_bps(split.total_out, reference) < policy.split_min_gain_bps:
            return []
        chosen = [(pool, k) for pool, k in zip(pools, split.steps_by_pool, strict=True) if k]
        amounts = split_amounts(request.amount_in, [k for _, k in chosen], policy.split_steps)
        return [(pool, amount) for (pool, _), amount in zip(chosen, amounts, strict=True)]

    def _decide(
        self,
        request: QuoteRequest,
        best: Quote | None,
        quotes: tuple[Quote, ...],
        failures: tuple[QuoteFailure, ...],
        candidates: list[Candidate],
        *,
        hop_down: bool = False,
    ) -> RoutingDecision:
        policy = self._policy
        if not candidates:
            summary = "; ".join(f"{f.dex}: {f.error}" for f in failures)
            if failures and not hop_down and all(isinstance(f.cause, UnsupportedPair) for f in failures):
                raise UnsupportedPair(f"no enabled DEX trades this pair ({summary})", context={"failures": failures})
            raise NoRoute(f"no DEX returned a quote ({summary})", context={"failures": failures})
        reference = best.amount_out if best is not None else None
        chosen = candidates[0] if best is not None else None
        for candidate in candidates:
            threshold = policy.split_min_gain_bps if candidate.kind == "split" else policy.hop_min_gain_bps
            if candidate.kind == "single":
                continue
            pays = reference is None or (
                candidate.amount_out > reference and gain_bps(candidate.amount_out, reference) >= threshold
            )
            if pays and (chosen is None or candidate.amount_out > chosen.amount_out):
                chosen = candidate
        assert chosen is not None  # candidates is not empty, and with no single pool every other one pays
        if chosen.kind == "single":
            assert best is not None
            return RoutingDecision(best, quotes, failures, single_reason(best, quotes, failures, request),
                                   chosen.plan, tuple(candidates), best.dex)  # fmt: skip
        shown = best or plan_quote(chosen.plan, chosen.label, chosen.quotes)
        return RoutingDecision(shown, quotes, failures, plan_reason(chosen, best, quotes, failures, request),
                               chosen.plan, tuple(candidates), chosen.label)  # fmt: skip

    async def _quote(self, adapter: DexAdapter, request: QuoteRequest) -> Quote | QuoteFailure:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):  # no task of its own, unlike wait_for
                quote = await adapter.quote(request)
        except TimeoutError:
            err: EngineError = QuoteUnavailable(f"timed out after {int(self._timeout * 1000)} ms")
        except (QuoteUnavailable, RejectedError) as exc:
            err = exc
        else:
            QUOTE_SECONDS.labels(adapter.name).observe(time.perf_counter() - started)
            return quote
        elapsed = time.perf_counter() - started
        QUOTE_SECONDS.labels(adapter.name).observe(elapsed)
        QUOTE_ERRORS.labels(adapter.name, err.code).inc()
        return QuoteFailure(adapter.name, err, int(elapsed * 1000))

    async def _grid(
        self, adapter: PoolQuoter, request: QuoteRequest, amounts: Sequence[int]
    ) -> list[PoolQuotes] | None:
        """Every pool of ``adapter`` priced at ``amounts``; None when it cannot say (a split is then not weighed
        with it: its best quote still counts as a single pool)."""
        try:
            async with asyncio.timeout(self._timeout):
                return await adapter.quote_pools(request.token_in, request.token_out, amounts)
        except (TimeoutError, QuoteUnavailable, RejectedError) as exc:
            log.debug("%s priced no pools for a split: %s", adapter.name, exc)
            return None


def _rank(q: Quote) -> tuple[int, object, str]:
    # Best output after fees; ties go to the lower price impact, then to the DEX name for determinism.
    return (q.amount_out, -q.price_impact_pct, q.dex)


def _best_of(results: Sequence[object]) -> Quote | None:
    quotes = [r for r in results if isinstance(r, Quote)]
    return max(quotes, key=_rank) if quotes else None


async def _gather(*groups: Sequence[Awaitable[object]]) -> list[list[object]]:
    """Run every call of every group at once; the results, group by group."""
    flat = [call for group in groups for call in group]
    results = await asyncio.gather(*flat)
    out, i = [], 0
    for group in groups:
        out.append(list(results[i : i + len(group)]))
        i += len(group)
    return out
