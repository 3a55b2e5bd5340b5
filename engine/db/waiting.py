"""The SQL of waiting (limit and sniper) orders: what the watchers load, and the moves out of ``waiting``.

Every move out of ``waiting`` (fired, expired, cancelled) is one compare-and-set per row:
``UPDATE orders ... WHERE status = 'waiting'``. PostgreSQL re-checks that condition on a row another
transaction changed meanwhile, so of a cancel, an expiry and any number of watchers racing for one order
exactly one moves it, and the one event it writes says which. Functions never commit: callers do.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from engine.db.orders import pair_of, spec_of
from kernel.domain import OrderStatus
from kernel.orders import OrderSpec
from kernel.tokens import Token


@dataclass(frozen=True, slots=True)
class WaitingOrder:
    """A waiting order as a watcher holds it: its ID and its request, whose terms say what it waits for."""

    id: uuid.UUID
    spec: OrderSpec

    @property
    def expires_at(self) -> datetime:
        expires_at = self.spec.expires_at
        assert expires_at is not None, "a waiting order has terms, and terms expire"
        return expires_at


@dataclass(frozen=True, slots=True)
class Move:
    """One order to move out of ``waiting``: its event's data and, when it fires, its execution floor."""

    order_id: uuid.UUID
    data: dict[str, Any]
    execute_min_out: int | None = None


@dataclass(frozen=True, slots=True)
class Moved:
    """An order that did move, with the event it wrote (for publishing after the commit)."""

    order_id: uuid.UUID
    seq: int
    status: str
    data: dict[str, Any]
    order_type: str = "limit"
    waited_s: float = 0.0  # from acceptance until this move


async def waiting_orders(
    conn: asyncpg.Connection, pair: tuple[str, str] | None = None, ids: Sequence[uuid.UUID] | None = None
) -> list[WaitingOrder]:
    """Waiting orders: all, those of one pair (token in, token out mints), or those of ``ids`` still waiting."""
    rows = await conn.fetch(
        "SELECT * FROM orders WHERE status = 'waiting' AND order_type <> 'dca' "  # a DCA waits on its schedule
        "AND ($1::text IS NULL OR (token_in = $1 AND token_out = $2)) AND ($3::uuid[] IS NULL OR id = ANY($3))",
        pair[0] if pair else None,
        pair[1] if pair else None,
        list(ids) if ids is not None else None,
    )
    return [WaitingOrder(r["id"], spec_of(r)) for r in rows]


async def waiting_pairs(conn: asyncpg.Connection) -> list[tuple[Token, Token]]:
    """Every pair (token in, token out) with a waiting order."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (token_in, token_out) token_in, token_in_symbol, token_in_decimals, token_out, "
        "token_out_symbol, token_out_decimals FROM orders WHERE status = 'waiting' AND order_type <> 'dca' "
        "ORDER BY token_in, token_out"
    )
    return [pair_of(r) for r in rows]


_MOVE = """
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::jsonb[], $3::numeric[]) AS t(id, data, min_out)
), moved AS (
    UPDATE orders o SET
        status = $4::text, last_seq = o.last_seq + 1, updated_at = now(),
        execute_min_out = COALESCE(i.min_out, o.execute_min_out),
        triggered_at = CASE WHEN $4::text = 'pending' THEN now() ELSE o.triggered_at END,
        finished_at = CASE WHEN $4::text = 'pending' THEN o.finished_at ELSE now() END,
        failure_code = CASE WHEN $4::text = 'pending' THEN o.failure_code ELSE $4::text END,
        failure_reason = COALESCE($5::text, o.failure_reason)
    FROM input i
    WHERE o.id = i.id AND o.status = 'waiting' AND ($6::uuid IS NULL OR o.api_key_id = $6)
    RETURNING o.id, o.last_seq, i.data, o.order_type, extract(epoch FROM now() - o.created_at) AS waited_s
), logged AS (
    INSERT INTO order_events (order_id, seq, status, kind, data)
    SELECT id, last_seq, $4::text, 'status', data FROM moved
    RETURNING order_id, seq, data
)
SELECT l.order_id, l.seq, l.data, m.order_type, m.waited_s FROM logged l JOIN moved m ON m.id = l.order_id
"""


async def move(
    conn: asyncpg.Connection,
    moves: Sequence[Move],
    to: OrderStatus,
    *,
    reason: str | None = None,
    owner: uuid.UUID | None = None,
) -> list[Moved]:
    """Move each order of ``moves`` still waiting (and placed by ``owner``, when given) to ``to``, with one
    status event each; returns those that moved. Orders no longer waiting are left as they are."""
    if not moves:
        return []
    rows = await conn.fetch(
        _MOVE,
        [m.order_id for m in moves],
        [orjson.dumps(m.data).decode() for m in moves],
        [m.execute_min_out for m in moves],
        to.value,
        reason,
        owner,
    )
    return [
        Moved(r["order_id"], int(r["seq"]), to.value, _data(r["data"]), r["order_type"], float(r["waited_s"]))
        for r in rows
    ]


async def due_for_expiry(conn: asyncpg.Connection, limit: int = 1000) -> list[tuple[uuid.UUID, datetime]]:
    """Waiting orders whose expiry has passed by PostgreSQL's clock, oldest first."""
    rows = await conn.fetch(
        "SELECT id, expires_at FROM orders WHERE status = 'waiting' AND expires_at <= now() "
        "ORDER BY expires_at LIMIT $1",
        limit,
    )
    return [(r["id"], r["expires_at"]) for r in rows]


async def expire(conn: asyncpg.Connection, moves: Sequence[Move]) -> list[Moved]:
    """Move the orders of ``moves`` that still wait to ``expired``."""
    return await move(conn, moves, OrderStatus.EXPIRED, reason="expired before its trigger was reached")


def _data(value: Any) -> dict[str, Any]:
    loaded = orjson.loads(value) if isinstance(value, str | bytes) else value
    return loaded if isinstance(loaded, dict) else {}


async def record_peaks(conn: asyncpg.Connection, peaks: Mapping[uuid.UUID, int]) -> None:
    """Raise trailing stops' stored peaks (raw) to ``peaks``; a peak never goes down, and only a waiting
    order's is written."""
    if not peaks:
        return
    await conn.execute(
        "UPDATE orders SET trail_peak_out = v.peak FROM unnest($1::uuid[], $2::numeric[]) AS v(id, peak) "
        "WHERE orders.id = v.id AND orders.status = 'waiting' "
        "AND (orders.trail_peak_out IS NULL OR orders.trail_peak_out < v.peak)",
        list(peaks),
        [Decimal(p) for p in peaks.values()],
    )
