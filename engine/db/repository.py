"""All SQL of the engine. Functions take a connection and never commit: their callers own transactions.

The hot paths (accepting orders, recording worker steps) write in batches with ``unnest`` and
``executemany`` so one round trip carries many orders.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from engine.db.orders import insert_orders_args, stored_order
from engine.db.records import (
    AttemptRecord,
    ChildRecord,
    NewOrder,
    OrderHistory,
    OrderState,
    QuoteRecord,
    RouteRecord,
    StepWrite,
    StoredEvent,
    StoredOrder,
)
from kernel.domain import TERMINAL_STATUSES

_INSERT_PENDING_EVENTS = """
INSERT INTO order_events (order_id, seq, status, kind, data, created_at)
SELECT id, 1, status, 'status', data, at
FROM unnest($1::uuid[], $2::jsonb[], $3::timestamptz[], $4::text[]) AS t(id, data, at, status)
"""


async def insert_orders(conn: asyncpg.Connection, orders: Sequence[NewOrder]) -> dict[uuid.UUID, Any]:
    """Insert orders and their first events; returns inserted id -> created_at.

    An order whose idempotency key already exists is skipped (absent from the result).
    """
    if not orders:
        return {}
    sql, columns = insert_orders_args(orders)
    rows = await conn.fetch(sql, *columns)
    created = {r["id"]: r["created_at"] for r in rows}
    if created:
        inserted = [o for o in orders if o.id in created]
        await conn.execute(
            _INSERT_PENDING_EVENTS,
            [o.id for o in inserted],
            [o.event_data.decode() for o in inserted],
            [created[o.id] for o in inserted],
            [o.status.value for o in inserted],
        )
    return created


IdempotencyScope = tuple[uuid.UUID | None, str]  # (API key, Idempotency-Key)


async def ids_by_idempotency_key(
    conn: asyncpg.Connection, keys: Sequence[IdempotencyScope]
) -> dict[IdempotencyScope, uuid.UUID]:
    """The orders already placed under each (API key, Idempotency-Key)."""
    rows = await conn.fetch(
        "SELECT o.api_key_id, o.idempotency_key, o.id FROM orders o "
        "JOIN unnest($1::uuid[], $2::text[]) AS k(api_key_id, idempotency_key) "
        "ON o.idempotency_key = k.idempotency_key AND o.api_key_id IS NOT DISTINCT FROM k.api_key_id",
        [owner for owner, _ in keys],
        [key for _, key in keys],
    )
    return {(r["api_key_id"], r["idempotency_key"]): r["id"] for r in rows}


_ORDER_DOCUMENT = """
SELECT o.*,
  COALESCE((SELECT json_agg(json_build_object(
        'seq', e.seq, 'status', e.status, 'kind', e.kind, 'data', e.data, 'at', e.created_at) ORDER BY e.seq)
     FROM order_events e WHERE e.order_id = o.id), '[]') AS events,
  COALESCE((SELECT json_agg(json_build_object(
        'attempt', q.attempt, 'dex', q.dex, 'pool', q.pool, 'amount_out', q.amount_out::text, 'fee', q.fee::text,
        'fee_mint', q.fee_mint, 'price', q.price::text, 'price_impact_pct', q.price_impact_pct::text,
        'latency_ms', q.latency_ms, 'error', q.error) ORDER BY q.attempt, q.id)
     FROM quotes q WHERE q.order_id = o.id), '[]') AS quotes,
  COALESCE((SELECT json_agg(json_build_object(
        'attempt', r.attempt, 'dex', r.dex, 'pool', r.pool, 'amount_out', r.amount_out::text,
        'min_amount_out', r.min_amount_out::text, 'reason', r.reason, 'plan', r.plan, 'at', r.created_at)
        ORDER BY r.attempt)
     FROM routes r WHERE r.order_id = o.id), '[]') AS routes,
  COALESCE((SELECT json_agg(json_build_object(
        'attempt', a.attempt, 'started_at', a.started_at, 'finished_at', a.finished_at, 'outcome', a.outcome,
        'error_code', a.error_code, 'error', a.error, 'retry_delay_ms', a.retry_delay_ms) ORDER BY a.attempt)
     FROM order_attempts a WHERE a.order_id = o.id), '[]') AS attempt_log,
  COALESCE((SELECT json_agg(json_build_object(
        'id', c.id, 'status', c.status, 'amount_in', c.amount_in::text, 'amount_out', c.amount_out::text,
        'at', c.created_at) ORDER BY c.created_at, c.id)
     FROM orders c WHERE c.parent_id = o.id), '[]') AS children
FROM orders o WHERE o.id = $1 AND ($2::uuid IS NULL OR o.api_key_id = $2)
"""


async def order_document(
    conn: asyncpg.Connection, order_id: uuid.UUID, owner: uuid.UUID | None = None
) -> OrderHistory | None:
    """The whole order with its events, quotes, routes and attempts, or None (also when ``owner`` is
    given and did not place it)."""
    row = await conn.fetchrow(_ORDER_DOCUMENT, order_id, owner)
    if row is None:
        return None
    logs = {key: _json_list(row[key]) for key in ("events", "quotes", "routes", "attempt_log", "children")}
    return OrderHistory(
        order=stored_order(row),
        events=[
            StoredEvent(e["seq"], e["status"], e["kind"], e["data"], _timestamp(e["at"])) for e in logs["events"]
        ],
        quotes=[
            QuoteRecord(
                q["attempt"], q["dex"], q["latency_ms"], pool=q["pool"], amount_out=_int(q["amount_out"]),
                fee=_int(q["fee"]), fee_mint=q["fee_mint"], price=_decimal(q["price"]),
                price_impact_pct=_decimal(q["price_impact_pct"]), error=q["error"],
            )
            for q in logs["quotes"]
        ],
        routes=[
            RouteRecord(r["attempt"], r["dex"], r["pool"], int(r["amount_out"]), int(r["min_amount_out"]), r["reason"],
                        r["plan"] if isinstance(r["plan"], dict) else None)
            for r in logs["routes"]
        ],
        attempts=[
            AttemptRecord(a["attempt"], _timestamp(a["started_at"]), _timestamp(a["finished_at"]), a["outcome"],
                          a["error_code"], a["error"], a["retry_delay_ms"])
            for a in logs["attempt_log"]
        ],
        children=[
            ChildRecord(uuid.UUID(c["id"]), c["status"], int(c["amount_in"]), _int(c["amount_out"]),
                        _timestamp(c["at"]))
            for c in logs["children"]
        ],
    )  # fmt: skip


def _json_list(value: Any) -> list[dict[str, Any]]:
    return orjson.loads(value) if isinstance(value, str | bytes) else list(value)


def _timestamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _int(value: str | None) -> int | None:
    return None if value is None else int(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


async def order_row(
    conn: asyncpg.Connection, order_id: uuid.UUID, owner: uuid.UUID | None = None
) -> StoredOrder | None:
    row = await conn.fetchrow(
        "SELECT * FROM orders WHERE id = $1 AND ($2::uuid IS NULL OR api_key_id = $2)", order_id, owner
    )
    return stored_order(row) if row is not None else None


async def order_for_execution(conn: asyncpg.Connection, order_id: uuid.UUID) -> OrderState | None:
    """The order as its worker resumes it, with ``last_seq`` taken from the event log itself."""
    row = await conn.fetchrow(
        "SELECT o.*, GREATEST(o.last_seq, COALESCE((SELECT max(seq) FROM order_events e WHERE e.order_id = o.id), 0))"
        " AS log_seq FROM orders o WHERE o.id = $1",
        order_id,
    )
    if row is None:
        return None
    order = stored_order(row)
    return OrderState(
        id=order.id,
        spec=order.spec,
        status=order.status,
        attempts=order.attempts,
        last_seq=int(row["log_seq"]),
        tx=order.tx,
        created_at=order.created_at,
        execute_min_out=order.execute_min_out,
        triggered_at=order.triggered_at,
    )


async def events_after(conn: asyncpg.Connection, order_id: uuid.UUID, after: int) -> list[StoredEvent]:
    rows = await conn.fetch(
        "SELECT seq, status, kind, data, created_at FROM order_events WHERE order_id = $1 AND seq > $2 ORDER BY seq",
        order_id,
        after,
    )
    return [StoredEvent(r["seq"], r["status"], r["kind"], orjson.loads(r["data"]), r["created_at"]) for r in rows]


async def active_order_ids(
    conn: asyncpg.Connection, limit: int = 10_000, owner: uuid.UUID | None = None
) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT id FROM orders WHERE status NOT IN ('confirmed', 'failed', 'expired', 'cancelled') "
        "AND ($2::uuid IS NULL OR api_key_id = $2) ORDER BY created_at LIMIT $1",
        limit, owner,
    )  # fmt: skip
    return [r["id"] for r in rows]


async def count_active(conn: asyncpg.Connection) -> int:
    sql = "SELECT count(*) FROM orders WHERE status NOT IN ('confirmed', 'failed', 'expired', 'cancelled')"
    return int(await conn.fetchval(sql))


async def recent_orders(
    conn: asyncpg.Connection, limit: int, status: str | None, owner: uuid.UUID | None = None
) -> list[StoredOrder]:
    """The newest orders (of ``owner`` when given), optionally of one status."""
    rows = await conn.fetch(
        "SELECT * FROM orders WHERE ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR api_key_id = $3) "
        "ORDER BY created_at DESC, id LIMIT $1",
        limit, status, owner,
    )  # fmt: skip
    return [stored_order(r) for r in rows]


async def stale_unfinished(conn: asyncpg.Connection, older_than_s: float, limit: int) -> list[uuid.UUID]:
    """Unfinished orders not touched for a while: candidates for re-enqueueing."""
    rows = await conn.fetch(
        "SELECT id FROM orders WHERE status NOT IN ('confirmed', 'failed', 'expired', 'cancelled', 'waiting') "
        "AND updated_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT $2",
        older_than_s,
        limit,
    )
    return [r["id"] for r in rows]


# --- worker steps ------------------------------------------------------------------------------


async def lock_event_seqs(conn: asyncpg.Connection, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Lock the orders' rows until the caller's transaction ends; returns each one's last event ``seq``.

    The lock makes "check the sequence, then write the next step" one atomic step across processes; rows
    are locked in ID order so two writers never deadlock.
    """
    rows = await conn.fetch(
        "SELECT o.id, GREATEST(o.last_seq, COALESCE((SELECT max(seq) FROM order_events e WHERE e.order_id = o.id),"
        " 0)) AS seq FROM orders o WHERE o.id = ANY($1::uuid[]) ORDER BY o.id FOR UPDATE OF o",
        list(order_ids),
    )
    return {r["id"]: int(r["seq"]) for r in rows}


def _order_columns(step: StepWrite) -> dict[str, Any]:
    """The ``orders`` columns one step sets."""
    columns: dict[str, Any] = {}
    if step.status is not None:
        columns["status"] = step.status
    if step.event is not None:
        columns["last_seq"] = step.event.seq
    change = step.change
    if change.attempts is not None:
        columns["attempts"] = change.attempts
    if (route := change.route) is not None:
        columns.update(dex=route.dex, pool=route.pool, route_reason=route.reason,
                       quoted_amount_out=route.amount_out, min_amount_out=route.min_amount_out)  # fmt: skip
    if change.tx is not None:
        tx, explorer_url = change.tx.tx, change.tx.explorer_url
        columns.update(tx_signature=tx.signature, tx_bytes=tx.raw, tx_last_valid=tx.last_valid,
                       settlement_kind=tx.kind.value, settlement_note=tx.note, explorer_url=explorer_url)  # fmt: skip
    if change.tx_expired:
        columns.update(tx_signature=None, tx_bytes=None, tx_last_valid=None)
    if (fill := change.fill) is not None:
        columns.update(amount_out=fill.amount_out, executed_price=fill.executed_price, finished_at=fill.finished_at)
    if (failure := change.failure) is not None:
        columns.update(failure_code=failure.code, failure_reason=failure.reason, finished_at=failure.finished_at)
    return columns


async def write_steps(conn: asyncpg.Connection, steps: Sequence[StepWrite]) -> None:
    """Apply many orders' steps in one transaction (the caller's), each order's steps in their order."""
    # Fold each order's field changes into one update, later steps winning, so the row ends as the
    # last step left it whatever the grouping below does.
    merged: dict[uuid.UUID, dict[str, Any]] = {}
    for step in steps:
        changed = _order_columns(step)
        if changed:
            merged.setdefault(step.order_id, {}).update(changed)
    by_columns: dict[tuple[str, ...], list[tuple[uuid.UUID, dict[str, Any]]]] = {}
    for order_id, fields in merged.items():
        by_columns.setdefault(tuple(sorted(fields)), []).append((order_id, fields))
    for columns, group in by_columns.items():
        assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(columns))
        await conn.executemany(
            f"UPDATE orders SET {assignments}, updated_at = now() WHERE id = $1",
            [(order_id, *(fields[c] for c in columns)) for order_id, fields in group],
        )
    events = [(s.order_id, e.seq, e.status, e.kind, e.data.decode()) for s in steps if (e := s.event) is not None]
    if events:
        await conn.executemany(
            "INSERT INTO order_events (order_id, seq, status, kind, data) VALUES ($1, $2, $3, $4, $5::jsonb)",
            events,
        )
    quotes = [
        (s.order_id, q.attempt, q.dex, q.pool, q.amount_out, q.fee, q.fee_mint, q.price, q.price_impact_pct,
         q.latency_ms, q.error)
        for s in steps
        for q in s.change.quotes
    ]  # fmt: skip
    if quotes:
        await conn.executemany(
            "INSERT INTO quotes (order_id, attempt, dex, pool, amount_out, fee, fee_mint, price, "
            "price_impact_pct, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            quotes,
        )
    routes = [
        (s.order_id, r.attempt, r.dex, r.pool, r.amount_out, r.min_amount_out, r.reason,
         None if r.plan is None else orjson.dumps(r.plan).decode())
        for s in steps
        if (r := s.change.route) is not None
    ]  # fmt: skip
    if routes:
        await conn.executemany(
            "INSERT INTO routes (order_id, attempt, dex, pool, amount_out, min_amount_out, reason, plan) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb) ON CONFLICT (order_id, attempt) DO UPDATE SET "
            "dex = EXCLUDED.dex, pool = EXCLUDED.pool, amount_out = EXCLUDED.amount_out, "
            "min_amount_out = EXCLUDED.min_amount_out, reason = EXCLUDED.reason, plan = EXCLUDED.plan",
            routes,
        )
    starts = [(s.order_id, s.change.attempt_start) for s in steps if s.change.attempt_start is not None]
    if starts:
        await conn.executemany(
            "INSERT INTO order_attempts (order_id, attempt) VALUES ($1, $2) ON CONFLICT (order_id, attempt) DO NOTHING",
            starts,
        )
    finishes = [
        (s.order_id, a.attempt, a.outcome.value, a.error_code, a.error, a.retry_delay_ms)
        for s in steps
        if (a := s.change.attempt_end) is not None
    ]
    if finishes:
        await conn.executemany(
            "UPDATE order_attempts SET finished_at = now(), outcome = $3, error_code = $4, error = $5, "
            "retry_delay_ms = $6 WHERE order_id = $1 AND attempt = $2",
            finishes,
        )


async def unfinished_counts(conn: asyncpg.Connection) -> list[tuple[str, str, int]]:
    """(order type, status, how many) of the orders not yet confirmed or failed (a partial index covers them)."""
    rows = await conn.fetch(
        "SELECT order_type, status, count(*) AS n FROM orders "
        "WHERE status NOT IN ('confirmed', 'failed', 'expired', 'cancelled') GROUP BY order_type, status"
    )
    return [(r["order_type"], r["status"], int(r["n"])) for r in rows]


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES
