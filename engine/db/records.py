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

from kernel.domain import AttemptOutcome
from kernel.tokens import Token
from kernel.venues import PreparedTx


@dataclass(frozen=True, slots=True)
class NewOrder:
    """An accepted order as the API writes it, with its first (``pending``) event."""

    id: uuid.UUID
    order_type: str
    idempotency_key: str | None
    token_in: str
    token_in_symbol: str
    token_in_decimals: int
    token_out: str
    token_out_symbol: str
    token_out_decimals: int
    amount_in: int
    slippage_bps: int
    event_data: bytes
    api_key_id: uuid.UUID | None = None  # the key that placed it; its Idempotency-Keys are scoped to it
    status: str = "pending"  # a limit or sniper order starts "waiting"
    terms: WaitingTerms | None = None


@dataclass(frozen=True, slots=True)
class WaitingTerms:
    """What a limit or sniper order waits for: ``trigger_min_out`` is the least its size must be quoted to
    pay (raw units of the token out) before it fires, None for a sniper without a cap; it expires at
    ``expires_at``. The prices are the client's, kept for display."""

    expires_at: datetime
    trigger_min_out: int | None = None
    limit_price: Decimal | None = None
    max_price: Decimal | None = None


@dataclass(slots=True)
class OrderState:
    """An unfinished order as its worker loads it, then advances (``attempts``, ``tx``) as it executes.

    ``tx`` is the recorded transaction, if any. The tokens are as the order stored them (symbol,
    decimals, mint); ``last_seq`` is taken from the event log itself, which is the authority.
    ``created_at`` is when the API accepted it.
    """

    id: uuid.UUID
    status: str
    token_in: Token
    token_out: Token
    amount_in: int
    slippage_bps: int
    attempts: int
    last_seq: int
    tx: PreparedTx | None
    order_type: str = "market"
    created_at: datetime | None = None
    execute_min_out: int | None = None  # a fired limit or sniper order's floor: its min out whatever the slippage


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
