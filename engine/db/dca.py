"""The SQL of DCA schedules: the schedules due, and each child placed with its parent's progress, in one
transaction. Functions never commit: callers do.

A schedule due is read ``FOR UPDATE SKIP LOCKED``, so of any number of schedulers one places a given child;
the child's ID and Idempotency-Key are derived from its parent and its index, so even a child placed again
after a crash between insert and commit is the same row, inserted once. A cancel moves the parent out of
``waiting`` under the same row lock, so no child is placed after it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from engine.db.orders import stored_order
from engine.db.records import StoredOrder

# The children of one DCA get IDs of their own, the same every time the same child is placed.
CHILD_NAMESPACE = uuid.UUID("8f7e0a52-9c61-4a6b-8f63-0f0c4b1d2e77")


def child_id(parent: uuid.UUID, index: int) -> uuid.UUID:
    return uuid.uuid5(CHILD_NAMESPACE, f"{parent}:{index}")


def child_idempotency_key(parent: uuid.UUID, index: int) -> str:
    return f"dca-{parent}-{index}"


async def due(conn: asyncpg.Connection, limit: int = 100) -> list[StoredOrder]:
    """Waiting DCAs whose next child is due by PostgreSQL's clock, locked for this transaction."""
    rows = await conn.fetch(
        "SELECT * FROM orders WHERE status = 'waiting' AND order_type = 'dca' "
        "AND COALESCE(dca_next_at, created_at) <= now() ORDER BY COALESCE(dca_next_at, created_at) "
        "LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )
    return [stored_order(r) for r in rows]


@dataclass(frozen=True, slots=True)
class Progress:
    """The event a DCA wrote for a child placed: its sequence number, status and data."""

    order_id: uuid.UUID
    seq: int
    status: str
    data: dict[str, Any]
    kind: str = "dca"


async def placed(conn: asyncpg.Connection, parent: StoredOrder, data: dict[str, Any], *, last: bool) -> Progress:
    """Count a child placed on ``parent``: its next child one interval after this one was due (so the schedule
    never drifts), and, for the ``last`` child, the schedule done (``confirmed``)."""
    status = "confirmed" if last else "waiting"
    row = await conn.fetchrow(
        "UPDATE orders SET dca_placed = dca_placed + 1, last_seq = last_seq + 1, updated_at = now(), "
        "dca_next_at = COALESCE(dca_next_at, created_at) + make_interval(secs => dca_interval_s), "
        "status = $2::text, finished_at = CASE WHEN $2::text = 'confirmed' THEN now() ELSE finished_at END "
        "WHERE id = $1 AND status = 'waiting' RETURNING last_seq",
        parent.id,
        status,
    )
    assert row is not None, "the parent is locked and waiting"
    seq = int(row["last_seq"])
    kind = "status" if last else "dca"  # the last child's event is the schedule's end
    await conn.execute(
        "INSERT INTO order_events (order_id, seq, status, kind, data) VALUES ($1, $2, $3, $4, $5::jsonb)",
        parent.id, seq, status, kind, orjson.dumps(data).decode(),
    )  # fmt: skip
    return Progress(parent.id, seq, status, data, kind)


async def children(conn: asyncpg.Connection, parent: uuid.UUID) -> list[StoredOrder]:
    """A DCA's children, in the order they were placed."""
    rows = await conn.fetch("SELECT * FROM orders WHERE parent_id = $1 ORDER BY created_at, id", parent)
    return [stored_order(r) for r in rows]
