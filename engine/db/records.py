"""Typed records the engine hands to and receives from the repository.

Each names its fields, so no caller depends on a table's column order or reads a row by string keys;
only :mod:`engine.db.repository` knows how they map onto columns.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from kernel.domain import AttemptOutcome, OrderStatus
from kernel.orders import OrderSpec
from kernel.venues import PreparedTx, Quote, SettlementKind


@dataclass(frozen=True, slots=True)
class NewOrder:
    """An accepted order as the API writes it; ``event_data`` is its first event's (``pending``, or ``waiting``
    for an order that waits for a trigger)."""

    id: uuid.UUID
    spec: OrderSpec
    idempotency_key: str | None
    event_data: bytes
    api_key_id: uuid.UUID | None = None  # the key that placed it; its Idempotency-Keys are scoped to it
    parent_id: uuid.UUID | None = None  # the DCA order that placed it, for a DCA's child

    @property
    def status(self) -> OrderStatus:
        return OrderStatus.WAITING if self.spec.waits else OrderStatus.PENDING

    def stored(self, created_at: datetime) -> StoredOrder:
        """The order as it stands once inserted at ``created_at``, with nothing done yet."""
        return StoredOrder(
            id=self.id, spec=self.spec, status=self.status.value, api_key_id=self.api_key_id, created_at=created_at,
            updated_at=created_at, attempts=0, last_seq=1, dex=None, pool=None, route_reason=None,
            quoted_amount_out=None, min_amount_out=None, amount_out=None, executed_price=None, settlement_kind=None,
            settlement_note=None, tx_signature=None, tx=None, explorer_url=None, failure_code=None,
            failure_reason=None, finished_at=None, execute_min_out=None, triggered_at=None, parent_id=self.parent_id,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """An order as stored: its request (``spec``) and where it stands. Amounts in raw units of its tokens."""

    id: uuid.UUID
    spec: OrderSpec
    status: str
    api_key_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    attempts: int
    last_seq: int
    dex: str | None
    pool: str | None
    route_reason: str | None
    quoted_amount_out: int | None
    min_amount_out: int | None
    amount_out: int | None
    executed_price: Decimal | None
    settlement_kind: SettlementKind | None
    settlement_note: str | None
    tx_signature: str | None
    tx: PreparedTx | None  # the signed transaction, while it may still land
    explorer_url: str | None
    failure_code: str | None
    failure_reason: str | None
    finished_at: datetime | None
    execute_min_out: int | None  # a fired limit or sniper order's floor: its min out whatever the slippage
    triggered_at: datetime | None
    parent_id: uuid.UUID | None = None  # a DCA child's parent


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event of an order's log as read back; ``data`` is its decoded JSON payload."""

    seq: int
    status: str
    kind: str
    data: dict[str, Any]
    at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One try at an order as its log shows it."""

    attempt: int
    started_at: datetime | None
    finished_at: datetime | None
    outcome: str | None
    error_code: str | None
    error: str | None
    retry_delay_ms: int | None


@dataclass(frozen=True, slots=True)
class OrderHistory:
    """The whole order: the stored order, every event, every quote, every route and every attempt, in order."""

    order: StoredOrder
    events: Sequence[StoredEvent]
    quotes: Sequence[QuoteRecord]
    routes: Sequence[RouteRecord]
    attempts: Sequence[AttemptRecord]
    children: Sequence[ChildRecord] = ()  # a DCA's children, as placed


@dataclass(frozen=True, slots=True)
class ChildRecord:
    """One child a DCA placed: a market order of its own."""

    id: uuid.UUID
    status: str
    amount_in: int
    amount_out: int | None
    at: datetime | None


@dataclass(slots=True)
class OrderState:
    """An unfinished order as its worker loads it, then advances (``attempts``, ``tx``) as it executes.

    ``tx`` is the recorded transaction, if any; ``last_seq`` is taken from the event log itself, which is
    the authority. ``created_at`` is when the API accepted it.
    """

    id: uuid.UUID
    spec: OrderSpec
    status: str
    attempts: int
    last_seq: int
    tx: PreparedTx | None
    created_at: datetime | None = None
    execute_min_out: int | None = None  # a fired limit or sniper order's floor: its min out whatever the slippage
    triggered_at: datetime | None = None  # when a limit or sniper order fired: its queue time starts there


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event of an order's log; ``data`` is its JSON payload, encoded once."""

    seq: int
    status: str
    kind: str
    data: bytes


@dataclass(frozen=True, slots=True)
class QuoteRecord:
    """A quote routing received on an attempt, or (``error`` set, prices absent) a DEX that failed to quote."""

    attempt: int
    dex: str
    latency_ms: int
    pool: str | None = None
    amount_out: int | None = None
    fee: int | None = None
    fee_mint: str | None = None
    price: Decimal | None = None
    price_impact_pct: Decimal | None = None
    error: str | None = None

    @classmethod
    def of(cls, attempt: int, quote: Quote) -> QuoteRecord:
        return cls(attempt, quote.dex, quote.latency_ms, pool=quote.pool, amount_out=quote.amount_out, fee=quote.fee,
                   fee_mint=quote.fee_mint, price=quote.price, price_impact_pct=quote.price_impact_pct)  # fmt: skip

    @classmethod
    def failed(cls, attempt: int, dex: str, latency_ms: int, error: str) -> QuoteRecord:
        return cls(attempt, dex, latency_ms, error=error)


@dataclass(frozen=True, slots=True)
class RouteRecord:
    """The route chosen on an attempt: it becomes the order's route as well. ``dex`` names the venues of a plan
    of several legs (``raydium+meteora``), ``pool`` its first leg's pool."""

    attempt: int
    dex: str
    pool: str
    amount_out: int
    min_amount_out: int
    reason: str
    plan: Mapping[str, Any] | None = None  # the route plan and its candidates (engine.routing.wire.plan_record)


@dataclass(frozen=True, slots=True)
class SubmittedTx:
    """The signed transaction of an order, stored before its first send."""

    tx: PreparedTx
    explorer_url: str | None


@dataclass(frozen=True, slots=True)
class Fill:
    """What a confirmed order received."""

    amount_out: int
    executed_price: Decimal
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an order failed. ``code`` is the stable machine-readable name clients see."""

    code: str
    reason: str
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptEnd:
    """How an attempt ended; a retry says how long it waits before the next."""

    attempt: int
    outcome: AttemptOutcome
    error_code: str | None = None
    error: str | None = None
    retry_delay_ms: int | None = None


@dataclass(frozen=True, slots=True)
class OrderChange:
    """What a step writes besides its event and status: order columns and quote, route, attempt rows.

    ``tx_expired`` forgets the recorded transaction (it provably never landed), so the next attempt
    builds another.
    """

    attempts: int | None = None
    quotes: Sequence[QuoteRecord] = ()
    route: RouteRecord | None = None
    tx: SubmittedTx | None = None
    tx_expired: bool = False
    fill: Fill | None = None
    failure: Failure | None = None
    attempt_start: int | None = None
    attempt_end: AttemptEnd | None = None


NO_CHANGE = OrderChange()


@dataclass(frozen=True, slots=True)
class StepWrite:
    """What one worker step changes, written in the same transaction as other orders' steps."""

    order_id: uuid.UUID
    status: str | None = None
    event: EventRecord | None = None
    change: OrderChange = NO_CHANGE
