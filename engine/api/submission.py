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

from engine import presenter
from engine.api.orders import ORDER_FIELDS, order_summary, read_spec
from engine.api.services import ApiServices
from engine.api.tokens import resolve_tokens
from engine.api.validation import MAX_BODY_BYTES, parse_body
from engine.auth.keys import ApiKey
from engine.db import repository
from engine.db.records import NewOrder
from kernel.domain import OrderType
from kernel.errors import (
    FieldIssue,
    IdempotencyConflict,
    InvalidRequest,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    UnsupportedPair,
)
from kernel.orders import OrderSpec

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


async def read_order(services: ApiServices, body: bytes, allowed: tuple[str, ...] = ORDER_FIELDS) -> OrderSpec:
    """Parse and check a submission or quote body, the pair included; raises a kernel request error. A token
    named by a mint outside the known list is read from the chain first (on-chain routing)."""
    check_size(len(body))
    payload = parse_body(body)
    settings = services.settings
    timeout_s = settings.quote_timeout_ms / 1000
    tokens = await resolve_tokens(payload, services.tokens, services.quoting.tokens, timeout_s)
    spec = read_spec(payload, tokens, settings.default_slippage_bps, allowed=allowed, max_wait_s=settings.waiting_max_s)
    if spec.order_type is not OrderType.SNIPER:
        check_pair(services, spec)  # a sniper waits for a pool that need not exist yet
    return spec


def check_pair(services: ApiServices, spec: OrderSpec) -> None:
    """The pair must be one an enabled DEX trades. A token read from the chain is in no pool book: where the
    DEXes discover pools, its pair is left to them (a quote without a pool answers ``unsupported_pair``)."""
    quoting = services.quoting
    from_chain = any(services.tokens.resolve(t.mint) is None for t in (spec.token_in, spec.token_out))
    if from_chain and quoting.discovers:
        return
    if not quoting.trades(spec.token_in.mint, spec.token_out.mint):
        message = f"no enabled DEX trades {spec.token_in.symbol} for {spec.token_out.symbol}"
        raise InvalidRequest([FieldIssue("tokenOut", message)], code=UnsupportedPair.code)


async def accept(services: ApiServices, spec: OrderSpec, key: str | None, caller: ApiKey) -> tuple[int, dict[str, Any]]:
    """Commit the order (or find the one ``caller``'s Idempotency-Key placed): the status and the body."""
    order = NewOrder(uuid.uuid4(), spec, key, orjson.dumps(presenter.accepted(spec)), api_key_id=caller.id)
    try:
        async with asyncio.timeout(services.settings.request_db_timeout_s):
            accepted = await services.intake.accept(order)
            if accepted.created:
                assert accepted.created_at is not None
                stored = order.stored(accepted.created_at)
            else:
                async with services.db() as conn:
                    found = await repository.order_row(conn, accepted.order_id, caller.id)
                assert found is not None
                if not found.spec.same_request(spec):
                    raise IdempotencyConflict("this Idempotency-Key placed an order with other parameters")
                stored = found
    except _DB_DOWN as exc:
        # Not accepted. Almost always nothing was stored (a connection or the batch's turn never came, and a
        # caller that gave up is never written later); only a stall during the commit itself can leave the
        # order stored unbeknown to us, which a retry with the same Idempotency-Key then answers (200).
        log.error("order store unavailable: %r", exc)
        raise ServiceUnavailable(UNAVAILABLE_MESSAGE) from exc
    summary = order_summary(stored)
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
