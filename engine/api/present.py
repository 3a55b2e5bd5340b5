"""The API's view of an order's history and of a quote: raw units become decimal strings in each token's units.

An order's own fields are shown by :func:`engine.api.orders.order_summary`; this module adds what its log
holds (quotes, routes, attempts, events) and answers quote calls in the same shape as an order's quotes.
"""

from __future__ import annotations

from typing import Any

from engine.api.fields import decimal_text, iso
from engine.api.orders import order_summary
from engine.db.records import OrderHistory, QuoteRecord, RouteRecord, StoredEvent
from engine.routing import RoutingDecision
from engine.routing.wire import decision_record, plan_view
from kernel.money import format_amount
from kernel.orders import OrderSpec


def _quote(q: QuoteRecord, spec: OrderSpec) -> dict[str, Any]:
    decimals = spec.token_out.decimals
    # A DEX charges its fee in the token in or the token out; it is shown in that token's units like every amount.
    fee_decimals = spec.token_in.decimals if q.fee_mint == spec.token_in.mint else decimals
    return {
        "attempt": q.attempt,
        "dex": q.dex,
        "pool": q.pool,
        "amountOut": format_amount(q.amount_out, decimals),
        "price": decimal_text(q.price),
        "fee": format_amount(q.fee, fee_decimals),
        "feeMint": q.fee_mint,
        "priceImpactPct": decimal_text(q.price_impact_pct),
        "latencyMs": q.latency_ms,
        "error": q.error,
    }


def _route(r: RouteRecord, decimals: int) -> dict[str, Any]:
    return {
        "attempt": r.attempt,
        "dex": r.dex,
        "pool": r.pool,
        "amountOut": format_amount(r.amount_out, decimals),
        "minAmountOut": format_amount(r.min_amount_out, decimals),
        "reason": r.reason,
    }


def _plan(stored: Any) -> dict[str, Any] | None:
    # Routes recorded before plans existed have none.
    return plan_view(dict(stored)) if stored is not None else None


def _children(history: OrderHistory) -> dict[str, Any]:
    """A DCA's children (none for any other order): each one's ID, status and amounts, and what they paid."""
    if not history.children and history.order.spec.order_type.value != "dca":
        return {}
    spec = history.order.spec
    din, dout = spec.token_in.decimals, spec.token_out.decimals
    paid = sum(c.amount_out or 0 for c in history.children if c.status == "confirmed")
    return {
        "childOrders": [
            {"orderId": str(c.id), "status": c.status, "amountIn": format_amount(c.amount_in, din),
             "amountOut": format_amount(c.amount_out, dout), "createdAt": iso(c.at)}
            for c in history.children
        ],
        "childrenAmountOut": format_amount(paid, dout),
    }  # fmt: skip


def order_document(history: OrderHistory) -> dict[str, Any]:
    """The whole order: quotes, route, attempts and events included."""
    order = history.order
    dout = order.spec.token_out.decimals
    chosen = history.routes[-1] if history.routes else None
    out = order_summary(order)
    out.update(
        {
            "quotes": [_quote(q, order.spec) for q in history.quotes],
            "route": None if chosen is None else _route(chosen, dout),
            "routes": [{**_route(r, dout), "routePlan": _plan(r.plan)} for r in history.routes],
            "routePlan": None if chosen is None else _plan(chosen.plan),
            "quotedAmountOut": format_amount(order.quoted_amount_out, dout),
            "explorerUrl": order.explorer_url,
            "attemptCount": order.attempts,
            **_children(history),
            "attempts": [
                {
                    "attempt": a.attempt,
                    "startedAt": iso(a.started_at),
                    "finishedAt": iso(a.finished_at),
                    "outcome": a.outcome,
                    "errorCode": a.error_code,
                    "error": a.error,
                    "retryDelayMs": a.retry_delay_ms,
                }
                for a in history.attempts
            ],
            "failureCode": order.failure_code,
            "events": [_event(e) for e in history.events],
            "lastSeq": order.last_seq,
            "finishedAt": iso(order.finished_at),
        }
    )
    return out


def _event(e: StoredEvent) -> dict[str, Any]:
    return {"seq": e.seq, "status": e.status, "kind": e.kind, "data": e.data, "at": iso(e.at)}


def event_wire(order_id: str, event: StoredEvent) -> dict[str, Any]:
    """A stored event in the form the live stream sends."""
    return {"type": "event", "orderId": order_id, **_event(event)}


def quote_answer(spec: OrderSpec, decision: RoutingDecision) -> dict[str, Any]:
    """A quote call's answer: every DEX's quote (failures included, as an order records them) and the route."""
    dout = spec.token_out.decimals
    plan = decision.plan
    min_out = format_amount(plan.min_amount_out, dout)
    return {
        "tokenIn": spec.token_in.as_dict(),
        "tokenOut": spec.token_out.as_dict(),
        "amountIn": format_amount(spec.amount_in, spec.token_in.decimals),
        "slippageBps": spec.slippage_bps,
        "quotes": [
            {**_quote(record, spec), "attempt": None}
            for record in [QuoteRecord.of(0, q) for q in decision.quotes]
            + [QuoteRecord.failed(0, f.dex, f.latency_ms, f.error) for f in decision.failures]
        ],
        "route": {
            "attempt": None,
            "dex": decision.dex_label,
            "pool": plan.legs[0].pool,
            "amountOut": format_amount(plan.amount_out, dout),
            "minAmountOut": min_out,
            "reason": decision.reason,
        },
        "minAmountOut": min_out,
        "routePlan": plan_view(decision_record(decision)),
    }
