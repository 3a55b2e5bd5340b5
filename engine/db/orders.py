"""The storage mapping of an order: which ``orders`` columns hold an :class:`~kernel.orders.OrderSpec`, and how a
row reads back as a typed record. The only place that knows the order's column names.

A new field of an order is one entry in :func:`spec_columns` and one in :func:`spec_of` (and its column in
:mod:`engine.db.models` and a migration); the insert statement is made from :func:`spec_columns`'s names, with
each column's type taken from the model, so nothing else changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy.dialects import postgresql

from engine.db.models import Order
from engine.db.records import NewOrder, StoredOrder
from kernel.domain import OrderType
from kernel.orders import (
    DcaTerms,
    LimitTerms,
    OcoTerms,
    OrderSpec,
    PriorityFee,
    SniperTerms,
    StopTerms,
    TakeProfitTerms,
    Terms,
    TrailingStopTerms,
)
from kernel.tokens import Token
from kernel.venues import PreparedTx, SettlementKind

Row = Mapping[str, Any]


def spec_columns(spec: OrderSpec) -> dict[str, Any]:
    """The columns an order's request is stored in, by name."""
    terms = spec.terms
    return {
        "order_type": spec.order_type.value,
        "token_in": spec.token_in.mint,
        "token_in_symbol": spec.token_in.symbol,
        "token_in_decimals": spec.token_in.decimals,
        "token_out": spec.token_out.mint,
        "token_out_symbol": spec.token_out.symbol,
        "token_out_decimals": spec.token_out.decimals,
        "amount_in": spec.amount_in,
        "slippage_bps": spec.slippage_bps,
        "expires_at": spec.expires_at,
        "trigger_min_out": spec.trigger_min_out,
        "limit_price": getattr(terms, "limit_price", None),
        "stop_price": getattr(terms, "stop_price", None),
        "trigger_max_out": spec.trigger_max_out,
        "trail_bps": getattr(terms, "trail_bps", None),
        "dca_children": getattr(terms, "children", None),
        "dca_interval_s": getattr(terms, "interval_s", None),
        "band_min": getattr(terms, "band_min", None),
        "band_max": getattr(terms, "band_max", None),
        "client_ref": spec.client_ref,
        "priority_max_lamports": None if spec.priority_fee is None else spec.priority_fee.max_lamports,
        "priority_lamports": None if spec.priority_fee is None else spec.priority_fee.lamports,
    }


def spec_of(row: Row) -> OrderSpec:
    """The request a stored row holds (tokens as the order stored them: symbol, decimals, mint)."""
    order_type = OrderType(row["order_type"])
    terms: Terms | None = None
    expires_at = row["expires_at"]

    def raw(name: str) -> int | None:
        return None if row[name] is None else int(row[name])

    def price(name: str) -> Decimal | None:
        return None if row[name] is None else Decimal(row[name])

    if order_type in (OrderType.LIMIT, OrderType.TAKE_PROFIT):
        kind = LimitTerms if order_type is OrderType.LIMIT else TakeProfitTerms
        terms = kind(Decimal(row["limit_price"]), int(row["trigger_min_out"]), expires_at)
    elif order_type is OrderType.SNIPER:
        terms = SniperTerms(expires_at, raw("trigger_min_out"), price("limit_price"))
    elif order_type is OrderType.STOP:
        terms = StopTerms(Decimal(row["stop_price"]), int(row["trigger_max_out"]), expires_at)
    elif order_type is OrderType.TRAILING_STOP:
        terms = TrailingStopTerms(int(row["trail_bps"]), expires_at, raw("trail_peak_out"))
    elif order_type is OrderType.DCA:
        terms = DcaTerms(int(row["dca_children"]), int(row["dca_interval_s"]), price("band_min"), price("band_max"),
                         int(row["dca_placed"]))  # fmt: skip
    elif order_type is OrderType.OCO:
        terms = OcoTerms(Decimal(row["limit_price"]), int(row["trigger_min_out"]), Decimal(row["stop_price"]),
                         int(row["trigger_max_out"]), expires_at)  # fmt: skip
    return OrderSpec(
        token_in=_token(row, "token_in"),
        token_out=_token(row, "token_out"),
        amount_in=int(row["amount_in"]),
        slippage_bps=int(row["slippage_bps"]),
        terms=terms,
        client_ref=row["client_ref"],
        priority_fee=_priority_fee(row),
    )


def _priority_fee(row: Row) -> PriorityFee | None:
    most, exact = row.get("priority_max_lamports"), row.get("priority_lamports")
    if most is None and exact is None:
        return None
    return PriorityFee(None if most is None else int(most), None if exact is None else int(exact))


def pair_of(row: Row) -> tuple[Token, Token]:
    """The tokens (in, out) of a row's request."""
    return _token(row, "token_in"), _token(row, "token_out")


def _token(row: Row, side: str) -> Token:
    symbol = row[f"{side}_symbol"]
    return Token(symbol, symbol, int(row[f"{side}_decimals"]), row[side])


def new_order_columns(order: NewOrder) -> dict[str, Any]:
    """Every column an accepted order is inserted with (its first event is the one with ``seq`` 1)."""
    return {
        "id": order.id,
        "status": order.status.value,
        "idempotency_key": order.idempotency_key,
        "api_key_id": order.api_key_id,
        "parent_id": order.parent_id,
        "last_seq": 1,
        **spec_columns(order.spec),
    }


@cache
def insert_orders_sql(columns: tuple[str, ...]) -> str:
    """One ``INSERT`` of many orders: each column an array parameter, typed as the model types it."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    table = Order.__table__
    arrays = ", ".join(f"${i + 1}::{table.c[c].type.compile(dialect=dialect)}[]" for i, c in enumerate(columns))
    names = ", ".join(columns)
    return (
        f"INSERT INTO orders ({names}) SELECT * FROM unnest({arrays}) "
        "ON CONFLICT (api_key_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING "
        "RETURNING id, created_at"
    )


def insert_orders_args(orders: Sequence[NewOrder]) -> tuple[str, list[list[Any]]]:
    """The statement and its column arrays for inserting ``orders`` (at least one)."""
    rows = [new_order_columns(o) for o in orders]
    columns = tuple(rows[0])
    return insert_orders_sql(columns), [[r[c] for r in rows] for c in columns]


def stored_order(row: Row) -> StoredOrder:
    """A row of ``orders`` as a typed record."""
    tx = None
    if row["tx_signature"] and row["tx_bytes"] is not None:
        tx = PreparedTx(
            row["tx_signature"],
            bytes(row["tx_bytes"]),
            int(row["tx_last_valid"] or 0),
            kind=SettlementKind(row["settlement_kind"] or SettlementKind.SIMULATED),
            note=row["settlement_note"],
        )
    return StoredOrder(
        id=row["id"],
        spec=spec_of(row),
        status=row["status"],
        api_key_id=row["api_key_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        attempts=int(row["attempts"]),
        last_seq=int(row["last_seq"]),
        dex=row["dex"],
        pool=row["pool"],
        route_reason=row["route_reason"],
        quoted_amount_out=_int(row["quoted_amount_out"]),
        min_amount_out=_int(row["min_amount_out"]),
        amount_out=_int(row["amount_out"]),
        executed_price=row["executed_price"],
        settlement_kind=None if row["settlement_kind"] is None else SettlementKind(row["settlement_kind"]),
        settlement_note=row["settlement_note"],
        tx_signature=row["tx_signature"],
        tx=tx,
        explorer_url=row["explorer_url"],
        failure_code=row["failure_code"],
        failure_reason=row["failure_reason"],
        finished_at=row["finished_at"],
        execute_min_out=_int(row["execute_min_out"]),
        triggered_at=row["triggered_at"],
        parent_id=row.get("parent_id"),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
