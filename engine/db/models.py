"""The schema, as SQLAlchemy 2 typed models. Alembic migrations are checked against these.

Raw token amounts are u64, which overflows PostgreSQL's bigint: they are ``NUMERIC(20, 0)``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RawAmount = Numeric(20, 0)
Ratio = Numeric(38, 18)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Order(Base):
    """One swap order and where it stands. Written by the API at acceptance and by its worker after."""

    __tablename__ = "orders"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    order_type: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # The API key that placed the order: it alone may read it, and its Idempotency-Keys are its own.
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("api_keys.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    token_in: Mapped[str] = mapped_column(String(64), nullable=False)
    token_in_symbol: Mapped[str] = mapped_column(String(16), nullable=False)
    token_in_decimals: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    token_out: Mapped[str] = mapped_column(String(64), nullable=False)
    token_out_symbol: Mapped[str] = mapped_column(String(16), nullable=False)
    token_out_decimals: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    amount_in: Mapped[Decimal] = mapped_column(RawAmount, nullable=False)
    slippage_bps: Mapped[int] = mapped_column(Integer, nullable=False)
    client_ref: Mapped[str | None] = mapped_column(String(64))  # the client's own reference, as given
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    dex: Mapped[str | None] = mapped_column(String(32))
    pool: Mapped[str | None] = mapped_column(String(64))
    route_reason: Mapped[str | None] = mapped_column(Text)
    quoted_amount_out: Mapped[Decimal | None] = mapped_column(RawAmount)
    min_amount_out: Mapped[Decimal | None] = mapped_column(RawAmount)
    amount_out: Mapped[Decimal | None] = mapped_column(RawAmount)
    executed_price: Mapped[Decimal | None] = mapped_column(Ratio)
    settlement_kind: Mapped[str | None] = mapped_column(String(16))
    settlement_note: Mapped[str | None] = mapped_column(Text)
    tx_signature: Mapped[str | None] = mapped_column(String(100))
    tx_bytes: Mapped[bytes | None] = mapped_column(LargeBinary)
    tx_last_valid: Mapped[int | None] = mapped_column(BigInteger)
    explorer_url: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(48))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    last_seq: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Limit and sniper orders. ``trigger_min_out`` is the least amount out, in raw units, at which the order's
    # size may fire (ceil(limitPrice * amountIn), or a sniper's minAmountOut); ``execute_min_out`` is the floor its
    # execution keeps to, set when it fires. The price (tokenOut per tokenIn) is kept as the client gave it.
    limit_price: Mapped[Decimal | None] = mapped_column(Numeric(60, 30))
    # Stops and OCOs fire on a fall: once the size is quoted ``trigger_max_out`` (floor(stopPrice * amountIn))
    # or less. A trailing stop keeps ``trail_bps`` and the best quote seen for its size, ``trail_peak_out``.
    stop_price: Mapped[Decimal | None] = mapped_column(Numeric(60, 30))
    trigger_max_out: Mapped[Decimal | None] = mapped_column(RawAmount)
    trail_bps: Mapped[int | None] = mapped_column(Integer)
    trail_peak_out: Mapped[Decimal | None] = mapped_column(RawAmount)
    # A DCA places ``dca_children`` market orders, one every ``dca_interval_s`` from ``dca_next_at`` on, each
    # only while its quote is within ``band_min``..``band_max``; ``dca_placed`` counts those placed. Each child
    # names its DCA in ``parent_id``.
    dca_children: Mapped[int | None] = mapped_column(Integer)
    dca_interval_s: Mapped[int | None] = mapped_column(Integer)
    dca_placed: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    dca_next_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    band_min: Mapped[Decimal | None] = mapped_column(Numeric(60, 30))
    band_max: Mapped[Decimal | None] = mapped_column(Numeric(60, 30))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("orders.id"))
    # What the order pays for priority on a cluster, in lamports: at most (auto, capped) or exactly.
    priority_max_lamports: Mapped[int | None] = mapped_column(BigInteger)
    priority_lamports: Mapped[int | None] = mapped_column(BigInteger)
    trigger_min_out: Mapped[Decimal | None] = mapped_column(RawAmount)
    execute_min_out: Mapped[Decimal | None] = mapped_column(RawAmount)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    triggered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # One order per (API key, Idempotency-Key); orders without an Idempotency-Key never clash.
        Index(
            "uq_orders_api_key_id_idempotency_key",
            "api_key_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_orders_api_key_id_created_at", "api_key_id", "created_at"),
        Index("ix_orders_created_at", "created_at"),
        # The watchers' reads: waiting orders by pair, and by expiry.
        Index("ix_orders_waiting_pair", "token_in", "token_out", postgresql_where=text("status = 'waiting'")),
        Index("ix_orders_waiting_expiry", "expires_at", postgresql_where=text("status = 'waiting'")),
        # The DCA scheduler's read: the schedules due; and a DCA's children.
        Index("ix_orders_dca_due", "dca_next_at", postgresql_where=text("status = 'waiting' AND order_type = 'dca'")),
        Index("ix_orders_parent_id", "parent_id", postgresql_where=text("parent_id IS NOT NULL")),
        Index(
            "ix_orders_active",
            "created_at",
            postgresql_where=text("status NOT IN ('confirmed', 'failed', 'expired', 'cancelled')"),
        ),
    )


class OrderEvent(Base):
    """Append-only log of an order's status changes; ``seq`` increases by one per order."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = _now()

    __table_args__ = (UniqueConstraint("order_id", "seq", name="uq_order_events_order_id_seq"),)


class Quote(Base):
    """Every quote routing received (or the error in its place), per attempt."""

    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    dex: Mapped[str] = mapped_column(String(32), nullable=False)
    pool: Mapped[str | None] = mapped_column(String(64))
    amount_out: Mapped[Decimal | None] = mapped_column(RawAmount)
    fee: Mapped[Decimal | None] = mapped_column(RawAmount)
    fee_mint: Mapped[str | None] = mapped_column(String(64))
    price: Mapped[Decimal | None] = mapped_column(Ratio)
    price_impact_pct: Mapped[Decimal | None] = mapped_column(Ratio)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class RouteDecision(Base):
    """The route chosen on an attempt, and why."""

    __tablename__ = "routes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False
    )
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    dex: Mapped[str] = mapped_column(String(32), nullable=False)
    pool: Mapped[str] = mapped_column(String(64), nullable=False)
    amount_out: Mapped[Decimal] = mapped_column(RawAmount, nullable=False)
    min_amount_out: Mapped[Decimal] = mapped_column(RawAmount, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    # The route plan (legs, amounts, floors) and every candidate weighed, raw units; null before plans existed.
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()

    __table_args__ = (UniqueConstraint("order_id", "attempt", name="uq_routes_order_id_attempt"),)


class OrderAttempt(Base):
    """One try at executing an order: when it ran and how it ended."""

    __tablename__ = "order_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False
    )
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(48))
    error: Mapped[str | None] = mapped_column(Text)
    retry_delay_ms: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("order_id", "attempt", name="uq_order_attempts_order_id_attempt"),)


class ApiKeyRow(Base):
    """A client's API key: its public id, a SHA-256 digest of the whole key, and its own rate limit."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    digest: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    rate_per_s: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))
    burst: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
