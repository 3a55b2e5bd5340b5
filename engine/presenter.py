"""What clients read of each step of an order: the ``data`` of its events, built here and nowhere else.

The executor, the watcher and the API decide; this module says what they decided, in the clients' words
(camelCase keys, amounts as decimal strings in each token's units, times in ISO 8601). Every function takes
domain values (the order's request, a routing decision, a signed transaction, a classified error) and
returns the JSON object an event carries; the stored event log and the live stream both show exactly it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.routing import RoutingDecision
from engine.routing.wire import decision_record, plan_view
from kernel.errors import EngineError
from kernel.money import format_amount
from kernel.orders import OrderSpec
from kernel.venues import PreparedTx, Quote

Data = dict[str, Any]


def accepted(spec: OrderSpec) -> Data:
    """The first event: a market order's says nothing more; a waiting order's says its trigger and expiry."""
    expires_at = spec.expires_at
    if expires_at is None:
        return {}
    return {
        "expiresAt": expires_at.isoformat(),
        "triggerMinOut": format_amount(spec.trigger_min_out, spec.token_out.decimals),
    }


# What fired an order, as its event says: on a rise to its floor, a fall to its stop, or below its trailing peak.
FIRED_ON = {"rise": "price", "fall": "stop", "trail": "trailingStop"}


def fired(
    spec: OrderSpec, quote: Quote, execute_min_out: int, snapshot_version: Any, side: str = "rise",
    peak: int | None = None,
) -> Data:  # fmt: skip
    """A waiting order's trigger held on ``quote``: it is pending now, with the floor its execution keeps."""
    out = spec.token_out.decimals
    data: Data = {
        "trigger": spec.order_type.value,
        "firedOn": "takeProfit" if spec.order_type.value == "oco" and side == "rise" else FIRED_ON[side],
        "dex": quote.dex,
        "pool": quote.pool,
        "quotedAmountOut": format_amount(quote.amount_out, out),
        "triggerMinOut": format_amount(spec.trigger_min_out, out),
        "minAmountOut": format_amount(execute_min_out, out),
        "snapshotVersion": snapshot_version,
    }
    if spec.trigger_max_out is not None:
        data["triggerMaxOut"] = format_amount(spec.trigger_max_out, out)
    if peak is not None:
        data["peakAmountOut"] = format_amount(peak, out)
    return data


def expired_waiting(expires_at: datetime) -> Data:
    return {"expiresAt": expires_at.isoformat(), "reason": "expired before it fired"}


def cancelled(reason: str) -> Data:
    return {"reason": reason}


def resumed(tx: PreparedTx) -> Data:
    """A re-run found a recorded transaction: it settles that one, never a second."""
    return {"resumed": True, "txHash": tx.signature}


def routing(attempt: int, dexes: list[str]) -> Data:
    return {"attempt": attempt, "dexes": dexes}


def building(attempt: int, spec: OrderSpec, decision: RoutingDecision) -> Data:
    """The route chosen and why, every quote weighed, and the plan the transaction executes."""
    plan, out = decision.plan, spec.token_out.decimals
    return {
        "attempt": attempt,
        "dex": decision.dex_label,
        "pool": plan.legs[0].pool,
        "amountOut": format_amount(plan.amount_out, out),
        "minAmountOut": format_amount(plan.min_amount_out, out),
        "gainBps": plan.gain_bps,
        "reason": decision.reason,
        "quotes": [
            {"dex": q.dex, "amountOut": format_amount(q.amount_out, out), "priceImpactPct": str(q.price_impact_pct)}
            for q in decision.quotes
        ],
        "routePlan": plan_view(decision_record(decision)),
    }


def submitted(attempt: int, tx: PreparedTx, explorer_url: str | None) -> Data:
    return {"attempt": attempt, "txHash": tx.signature, "settlement": tx.kind.value, "note": tx.note,
            "explorerUrl": explorer_url}  # fmt: skip


def tx_expired(tx: PreparedTx) -> Data:
    return {"expired": True, "txHash": tx.signature}


def confirmed(spec: OrderSpec, tx: PreparedTx, amount_out: int, executed_price: Any, explorer_url: str | None) -> Data:
    return {"txHash": tx.signature, "amountOut": format_amount(amount_out, spec.token_out.decimals),
            "executedPrice": str(executed_price), "settlement": tx.kind.value, "note": tx.note,
            "explorerUrl": explorer_url}  # fmt: skip


def retrying(attempt: int, delay_ms: int, exc: EngineError) -> Data:
    return {"attempt": attempt, "nextAttempt": attempt + 1, "delayMs": delay_ms, "code": exc.code, "reason": str(exc)}


def waiting_again(attempt: int, exc: EngineError) -> Data:
    return {"attempt": attempt, "code": exc.code, "reason": str(exc)}


def failed(attempt: int, code: str, reason: str) -> Data:
    return {"code": code, "reason": reason, "attempt": attempt}
