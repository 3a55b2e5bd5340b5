"""The API's view of an order: raw units become decimal strings in each token's units."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.routing import RoutingDecision
from engine.routing.wire import decision_record, plan_view
from kernel.money import format_amount
from kernel.tokens import Token
from kernel.venues import SettlementKind


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _num(value: Any) -> str | None:
    if value is None:
        return None
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _raw(value: Any, decimals: int) -> str | None:
    return None if value is None else format_amount(int(Decimal(value)), decimals)


def _settlement_kind(value: str | None) -> str | None:
    # Rows written before the simulated ledger's rename say "mock"; the API says "simulated" only.
    return None if value is None else SettlementKind(value).value


def order_summary(row: dict[str, Any]) -> dict[str, Any]:
    """The fields every order listing shows."""
    din, dout = row["token_in_decimals"], row["token_out_decimals"]
    return {
        "orderId": str(row["id"]),
        "type": row["order_type"],
        "status": row["status"],
        "tokenIn": {"symbol": row["token_in_symbol"], "mint": row["token_in"], "decimals": din},
        "tokenOut": {"symbol": row["token_out_symbol"], "mint": row["token_out"], "decimals": dout},
        "amountIn": _raw(row["amount_in"], din),
        "slippageBps": row["slippage_bps"],
        "dex": row.get("dex"),
        "minAmountOut": _raw(row.get("min_amount_out"), dout),
        "amountOut": _raw(row.get("amount_out"), dout),
        "executedPrice": _num(row.get("executed_price")),
        "txHash": row.get("tx_signature"),
        "failureReason": row.get("failure_reason"),
        "settlement": {"kind": _settlement_kind(row.get("settlement_kind")), "note": row.get("settlement_note")},
        "limitPrice": _num(row.get("limit_price")),
        "maxPrice": _num(row.get("max_price")),
        "triggerMinOut": _raw(row.get("trigger_min_out"), dout),
        "expiresAt": _iso(row.get("expires_at")),
        "triggeredAt": _iso(row.get("triggered_at")),
        "createdAt": _iso(row.get("created_at")),
        "updatedAt": _iso(row.get("updated_at")),
    }


def order_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The whole order: quotes, route, attempts and events included."""
    dout = doc["token_out_decimals"]
    out = order_summary(doc)
    routes = doc.get("routes") or []
    chosen = routes[-1] if routes else None
    out.update(
        {
            "quotes": [
                {
                    "attempt": q["attempt"],
                    "dex": q["dex"],
                    "pool": q["pool"],
                    "amountOut": _raw(q["amount_out"], dout),
                    "price": _num(q["price"]),
                    "fee": q["fee"],
                    "feeMint": q["fee_mint"],
                    "priceImpactPct": _num(q["price_impact_pct"]),
                    "latencyMs": q["latency_ms"],
                    "error": q["error"],
                }
                for q in doc.get("quotes") or []
            ],
            "route": None
            if chosen is None
            else {
                "attempt": chosen["attempt"],
                "dex": chosen["dex"],
                "pool": chosen["pool"],
                "amountOut": _raw(chosen["amount_out"], dout),
                "minAmountOut": _raw(chosen["min_amount_out"], dout),
                "reason": chosen["reason"],
            },
            "routes": [
                {
                    "attempt": r["attempt"],
                    "dex": r["dex"],
                    "pool": r["pool"],
                    "amountOut": _raw(r["amount_out"], dout),
                    "minAmountOut": _raw(r["min_amount_out"], dout),
                    "reason": r["reason"],
                    "routePlan": _plan(r.get("plan")),
                }
                for r in routes
            ],
            "routePlan": None if chosen is None else _plan(chosen.get("plan")),
            "quotedAmountOut": _raw(doc.get("quoted_amount_out"), dout),
            "explorerUrl": doc.get("explorer_url"),
            "attemptCount": doc.get("attempts", 0),
            "attempts": [
                {
                    "attempt": a["attempt"],
                    "startedAt": a["started_at"],
                    "finishedAt": a["finished_at"],
                    "outcome": a["outcome"],
                    "errorCode": a["error_code"],
                    "error": a["error"],
                    "retryDelayMs": a["retry_delay_ms"],
                }
                for a in doc.get("attempt_log") or []
            ],
            "failureCode": doc.get("failure_code"),
            "events": [
                {"seq": e["seq"], "status": e["status"], "kind": e["kind"], "data": e["data"], "at": _iso(e["at"])}
                for e in doc.get("events") or []
            ],
            "lastSeq": doc.get("last_seq", 0),
            "finishedAt": _iso(doc.get("finished_at")),
        }
    )
    return out


def _plan(stored: Any) -> dict[str, Any] | None:
    # Routes recorded before plans existed have none.
    return plan_view(stored) if isinstance(stored, dict) else None


def event_wire(order_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """A stored event in the form the live stream sends."""
    return {
        "type": "event",
        "orderId": order_id,
        "seq": event["seq"],
        "status": event["status"],
        "kind": event["kind"],
        "data": event["data"],
        "at": _iso(event["at"]),
    }


def quote_answer(
    token_in: Token, token_out: Token, amount_in: int, slippage_bps: int, decision: RoutingDecision
) -> dict[str, Any]:
    """A quote call's answer: every venue's quote (failures included, as an order records them) and the route."""
    dout = token_out.decimals
    quotes = [
        {
            "attempt": None, "dex": q.dex, "pool": q.pool, "amountOut": format_amount(q.amount_out, dout),
            "price": _num(q.price), "fee": str(q.fee), "feeMint": q.fee_mint,
            "priceImpactPct": _num(q.price_impact_pct), "latencyMs": q.latency_ms, "error": None,
        }
        for q in decision.quotes
    ] + [
        {
            "attempt": None, "dex": f.dex, "pool": None, "amountOut": None, "price": None, "fee": None,
            "feeMint": None, "priceImpactPct": None, "latencyMs": f.latency_ms, "error": f.error,
        }
        for f in decision.failures
    ]  # fmt: skip
    plan = decision.plan
    min_out = format_amount(plan.min_amount_out, dout)
    return {
        "tokenIn": token_in.as_dict(),
        "tokenOut": token_out.as_dict(),
        "amountIn": format_amount(amount_in, token_in.decimals),
        "slippageBps": slippage_bps,
        "quotes": quotes,
        "route": {
            "attempt": None,
            "dex": decision.venue,
            "pool": plan.legs[0].pool,
            "amountOut": format_amount(plan.amount_out, dout),
            "minAmountOut": min_out,
            "reason": decision.reason,
        },
        "minAmountOut": min_out,
        "routePlan": plan_view(decision_record(decision)),
    }
