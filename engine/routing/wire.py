"""A route plan as it is stored (raw integer strings, with each token's decimals) and as clients see it
(decimal strings in each token's units): the ``routePlan`` of events, order documents and quotes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.routing.decision import Candidate, RoutingDecision
from engine.routing.split import gain_bps
from kernel.money import format_amount
from kernel.routes import RouteLeg, RoutePlan
from kernel.tokens import Token


def _token(token: Token) -> dict[str, Any]:
    return {"symbol": token.symbol, "mint": token.mint, "decimals": token.decimals}


def plan_record(plan: RoutePlan, candidates: Sequence[Candidate] = ()) -> dict[str, Any]:
    """The plan and the candidates weighed against it, in raw units: what the routes table keeps. A candidate's
    ``gainBps`` is over the best single pool (negative for the pools paying less)."""
    singles = [c.amount_out for c in candidates if c.kind == "single"]
    reference = max(singles) if singles else None
    return {
        "kind": plan.kind,
        "tokenIn": _token(plan.token_in),
        "tokenOut": _token(plan.token_out),
        "amountIn": str(plan.amount_in),
        "amountOut": str(plan.amount_out),
        "minAmountOut": str(plan.min_amount_out),
        "gainBps": plan.gain_bps,
        "legs": [_leg_record(leg) for leg in plan.legs],
        "candidates": [
            {
                "kind": c.kind,
                "label": c.label,
                "amountOut": str(c.amount_out),
                "gainBps": gain_bps(c.amount_out, reference),
                "legs": len(c.plan.legs),
                "chosen": c.plan is plan,
            }
            for c in candidates
        ],
    }


def _leg_record(leg: RouteLeg) -> dict[str, Any]:
    return {
        "dex": leg.dex,
        "pool": leg.pool,
        "input": _token(leg.token_in),
        "output": _token(leg.token_out),
        "amountIn": str(leg.amount_in),
        "amountOut": str(leg.amount_out),
        "minAmountOut": str(leg.min_amount_out),
        "shareBps": leg.share_bps,
        "mode": leg.mode.value,
        "hop": leg.hop,
    }


def decision_record(decision: RoutingDecision) -> dict[str, Any]:
    """:func:`plan_record` of a routing decision."""
    return plan_record(decision.plan, decision.candidates)


def _amount(raw: Any, decimals: int) -> str:
    return format_amount(int(raw), decimals) or "0"


def plan_view(record: dict[str, Any]) -> dict[str, Any]:
    """A stored plan as clients see it: ``{kind, legs: [{dex, pool, inputMint, outputMint, amountIn, amountOut,
    minAmountOut, shareBps, sharePct, mode}], amountOut, minAmountOut, gainBps, candidates}``, amounts as
    decimal strings in each leg's own token."""
    out_decimals = int(record["tokenOut"]["decimals"])
    in_decimals = int(record["tokenIn"]["decimals"])
    legs = []
    for leg in record["legs"]:
        din, dout = int(leg["input"]["decimals"]), int(leg["output"]["decimals"])
        legs.append(
            {
                "dex": leg["dex"],
                "pool": leg["pool"],
                "inputMint": leg["input"]["mint"],
                "inputSymbol": leg["input"]["symbol"],
                "outputMint": leg["output"]["mint"],
                "outputSymbol": leg["output"]["symbol"],
                "amountIn": _amount(leg["amountIn"], din),
                "amountOut": _amount(leg["amountOut"], dout),
                "minAmountOut": _amount(leg["minAmountOut"], dout),
                "shareBps": int(leg["shareBps"]),
                "sharePct": _amount(leg["shareBps"], 2),
                "mode": leg["mode"],
            }
        )
    return {
        "kind": record["kind"],
        "inputMint": record["tokenIn"]["mint"],
        "outputMint": record["tokenOut"]["mint"],
        "amountIn": _amount(record["amountIn"], in_decimals),
        "amountOut": _amount(record["amountOut"], out_decimals),
        "minAmountOut": _amount(record["minAmountOut"], out_decimals),
        "gainBps": int(record["gainBps"]),
        "legs": legs,
        "candidates": [
            {
                "kind": c["kind"],
                "label": c["label"],
                "amountOut": _amount(c["amountOut"], out_decimals),
                "gainBps": int(c["gainBps"]),
                "legs": int(c["legs"]),
                "chosen": bool(c["chosen"]),
            }
            for c in record.get("candidates") or []
        ],
    }
