"""Submitting an order: the whole work of ``POST /api/orders/execute``, shared by the declared route, the
raw-ASGI fast path and the WebSocket submission, so the three apply the same rules and answer alike.

Order of checks, cheapest first: Idempotency-Key, content type, size (while reading), JSON, fields,
pair, then the commit. An Idempotency-Key already used for other parameters is a 409 (replaying the
first order to a caller who asked for something else would tell them a trade they never sent).

A 503 (PostgreSQL did not answer within ``REQUEST_DB_TIMEOUT_S``) means the order was not accepted: a
submission answered 503 was not stored unless the same Idempotency-Key later shows it. Redis answers
only the key's rate limit, before anything is written; the enqueue after the commit is best effort
(see :mod:`engine.api.intake`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from engine.api.present import order_summary
from engine.api.services import ApiServices
from engine.api.tokens import resolve_tokens
from engine.api.validation import MAX_BODY_BYTES, ORDER_FIELDS, ValidOrder, parse_body, validate_order
from engine.auth.keys import ApiKey
from engine.db import repository
from engine.db.repository import NewOrder
from kernel.domain import OrderStatus, OrderType
from kernel.errors import (
    FieldIssue,
    IdempotencyConflict,
    InvalidRequest,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    UnsupportedPair,
)
from kernel.money import format_amount

log = logging.getLogger("oee.api")

MAX_IDEMPOTENCY_KEY_CHARS = 200
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"
_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
_DB_DOWN = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
UNAVAILABLE_MESSAGE = (
    "the order store did not answer in time: the order was not accepted; retry with the same Idempotency-Key, "
    "which answers the order if it was stored after all and places it once if not"
)


def check_key(key: str | None) -> None:
    if key is not None and not _KEY.match(key):
        reason = f"must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters"
        raise InvalidRequest([FieldIssue("Idempotency-Key", reason)])


def check_json_content_type(value: str | None) -> None:
    media = (value or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType(f"send the body as application/json, not {media or 'no content type'}")


def check_size(size: int) -> None:
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")


async def read_order(services: ApiServices, body: bytes, allowed: tuple[str, ...] = ORDER_FIELDS) -> ValidOrder:
    """Parse and check a submission or quote body, the pair included; raises a kernel request error. A token
    named by a mint outside the known list is read from the chain first (on-chain routing)."""
    check_size(len(body))
    payload = parse_body(body)
    settings = services.settings
    timeout_s = settings.quote_timeout_ms / 1000
    tokens = await resolve_tokens(payload, services.tokens, services.quoting.tokens, timeout_s)
    valid = validate_order(
        payload, tokens, settings.default_slippage_bps, allowed=allowed, max_wait_s=settings.waiting_max_s
    )
    if valid.order_type is not OrderType.SNIPER:
        check_pair(services, valid)  # a sniper waits for a pool that need not exist yet
    return valid


def check_pair(services: ApiServices, valid: ValidOrder) -> None:
    """The pair must be one an enabled DEX trades. A token read from the chain is in no pool book: where the
    DEXes discover pools, its pair is left to them (a quote without a pool answers ``unsupported_pair``)."""
    quoting = services.quoting
    from_chain = any(services.tokens.resolve(t.mint) is None for t in (valid.token_in, valid.token_out))
    if from_chain and quoting.discovers:
        return
    if not quoting.trades(valid.token_in.mint, valid.token_out.mint):
        message = f"no enabled DEX trades {valid.token_in.symbol} for {valid.token_out.symbol}"
        raise InvalidRequest([FieldIssue("tokenOut", message)], code=UnsupportedPair.code)


def new_order(valid: ValidOrder, idempotency_key: str | None, caller: ApiKey) -> NewOrder:
    return NewOrder(
        id=uuid.uuid4(),
        order_type=valid.order_type.value,
        idempotency_key=idempotency_key,
        token_in=valid.token_in.mint,
        token_in_symbol=valid.token_in.symbol,
        token_in_decimals=valid.token_in.decimals,
        token_out=valid.token_out.mint,
        token_out_symbol=valid.token_out.symbol,
        token_out_decimals=valid.token_out.decimals,
        amount_in=valid.amount_in,
        slippage_bps=valid.slippage_bps,
        event_data=_first_event(valid),
        api_key_id=caller.id,
        status=OrderStatus.WAITING.value if valid.terms is not None else OrderStatus.PENDING.value,
        terms=valid.terms,
    )


def _first_event(valid: ValidOrder) -> bytes:
    terms = valid.terms
    if terms is None:
        return b"{}"
    data = {
        "expiresAt": terms.expires_at.isoformat(),
        "triggerMinOut": format_amount(terms.trigger_min_out, valid.token_out.decimals),
    }
    return orjson.dumps(data)


def _same_request(row: dict[str, Any], order: NewOrder) -> bool:
    return (
        row["order_type"] == order.order_type
        and row["token_in"] == order.token_in
        and row["token_out"] == order.token_out
        and int(row["amount_in"]) == order.amount_in
        and row["slippage_bps"] == order.slippage_bps
        and _raw_or_none(row.get("trigger_min_out")) == (order.terms.trigger_min_out if order.terms else None)
    )


def _raw_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


async def accept(
    services: ApiServices, valid: ValidOrder, key: str | None, caller: ApiKey
) -> tuple[int, dict[str, Any]]:
    """Commit the order (or find the one ``caller``'s Idempotency-Key placed): the status and the body."""
    order = new_order(valid, key, caller)
    try:
        async with asyncio.timeout(services.settings.request_db_timeout_s):
            accepted = await services.intake.accept(order)
        if accepted.created:
            terms = order.terms
            row: dict[str, Any] = {
                "id": order.id, "order_type": order.order_type, "status": order.status,
                "token_in": order.token_in, "token_in_symbol": order.token_in_symbol,
                "token_in_decimals": order.token_in_decimals, "token_out": order.token_out,
                "token_out_symbol": order.token_out_symbol, "token_out_decimals": order.token_out_decimals,
                "amount_in": order.amount_in, "slippage_bps": order.slippage_bps,
                "created_at": accepted.created_at, "updated_at": accepted.created_at,
                "expires_at": terms.expires_at if terms else None,
                "trigger_min_out": terms.trigger_min_out if terms else None,
                "limit_price": terms.limit_price if terms else None,
                "max_price": terms.max_price if terms else None,
            }  # fmt: skip
        else:
            async with services.db() as conn:
                found = await repository.order_row(conn, accepted.order_id, caller.id)
            assert found is not None
            if not _same_request(found, order):
                raise IdempotencyConflict("this Idempotency-Key placed an order with other parameters")
            row = found
    except _DB_DOWN as exc:
        # Not accepted. Almost always nothing was stored (a connection or the batch's turn never came, and a
        # caller that gave up is never written later); only a stall during the commit itself can leave the
        # order stored unbeknown to us, which a retry with the same Idempotency-Key then answers (200).
        log.error("order store unavailable: %r", exc)
        raise ServiceUnavailable(UNAVAILABLE_MESSAGE) from exc
    summary = order_summary(row)
    oid = str(accepted.order_id)
    body = {"orderId": oid, "status": summary["status"], "wsUrl": f"/ws/orders/{oid}", "order": summary}
    return (202 if accepted.created else 200), body


async def submit(
    services: ApiServices, body: bytes, *, content_type: str | None, key: str | None, caller: ApiKey
) -> tuple[int, bytes]:
    """The whole submission, bounded and checked; raises a kernel error for anything refused."""
    check_key(key)
    check_json_content_type(content_type)
    status, answer = await accept(services, await read_order(services, body), key, caller)
    return status, orjson.dumps(answer)


def header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None
