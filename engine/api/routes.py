"""The API's routes: submit, quote, read and stream orders, health. Each answers errors with the envelope."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Security, WebSocket
from fastapi.responses import Response
from starlette.websockets import WebSocketDisconnect

from engine.api import stream
from engine.api.auth import (
    KEY_HEADER,
    SUBPROTOCOL,
    api_key_scheme,
    key_from_subprotocols,
)
from engine.api.errors import documented
from engine.api.health import health_report
from engine.api.orders import QUOTE_FIELDS, ExecuteOrderRequest, QuoteRequest, order_summary
from engine.api.present import order_document, quote_answer
from engine.api.schemas import (
    AcceptedOrder,
    ActivePage,
    Health,
    LaunchedPool,
    LaunchPoolRequest,
    OrderDocument,
    QuoteAnswer,
    RecentPage,
)
from engine.api.services import ApiServices, services
from engine.api.submission import (
    IDEMPOTENCY_KEY_PATTERN,
    MAX_IDEMPOTENCY_KEY_CHARS,
    accept,
    check_json_content_type,
    read_order,
    submit,
)
from engine.api.validation import MAX_BODY_BYTES
from engine.api.waiting import cancel, launch_from_body
from engine.auth.keys import ApiKey
from engine.db import repository
from kernel.domain import OrderStatus
from kernel.errors import EngineError, FieldIssue, InvalidRequest, MethodNotAllowed, NotFound, PayloadTooLarge
from kernel.venues import QuoteRequest as VenueQuoteRequest

router = APIRouter()
Services = Annotated[ApiServices, Depends(services)]


async def calling_key(api: Services, presented: Annotated[str | None, Security(api_key_scheme)]) -> ApiKey:
    """The dependency of every route that submits, quotes or reads orders: 401 without a key, 429 over its rate."""
    return await api.caller(presented)


Caller = Annotated[ApiKey, Depends(calling_key)]
MAX_ORDER_ID_CHARS = 64
MAX_SEQ = 2**31 - 1  # event seq is a PostgreSQL integer
_AFTER = re.compile(r"^[0-9]{1,10}$")
# WebSocket close codes for refused input (RFC 6455 7.4.1).


def _json(content: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


async def _body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _order_id(value: str) -> uuid.UUID:
    try:
        if len(value) > MAX_ORDER_ID_CHARS:
            raise ValueError(value)
        return uuid.UUID(value)
    except ValueError:
        raise InvalidRequest([FieldIssue("orderId", "is not a UUID")]) from None


_KEY_HEADER = Header(
    default=None,
    alias="Idempotency-Key",
    max_length=MAX_IDEMPOTENCY_KEY_CHARS,
    pattern=IDEMPOTENCY_KEY_PATTERN,
    description="Any unique string. The same key with the same parameters answers the first order (200); "
    "with other parameters, 409.",
)


@router.post(
    "/api/orders/execute",
    status_code=202,
    tags=["orders"],
    summary="Submit an order",
    response_model=AcceptedOrder,
    responses={
        200: {"model": AcceptedOrder, "description": "The order this Idempotency-Key placed before."},
        **documented(400, 401, 409, 413, 415, 422, 429, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ExecuteOrderRequest.model_json_schema()}},
        }
    },
)
async def execute_order(
    request: Request, api: Services, caller: Caller, idempotency_key: str | None = _KEY_HEADER
) -> Response:
    """Validate and accept an order; it is committed before this answers and enqueued after."""
    body = await _body(request)
    status, answer = await submit(
        api, body, content_type=request.headers.get("content-type"), key=request.headers.get("idempotency-key"),
        caller=caller,
    )  # fmt: skip
    return Response(answer, status_code=status, media_type="application/json")


@router.api_route("/api/orders/execute", methods=["GET", "HEAD", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def execute_other_methods() -> Response:
    # Declared so that GET is not taken for an order ID by the route below.
    raise MethodNotAllowed("submit orders with POST (or over a WebSocket)", allow=("POST",))


@router.post(
    "/api/quotes",
    tags=["quotes"],
    summary="Quote a swap on every DEX without placing an order",
    response_model=QuoteAnswer,
    responses=documented(400, 401, 413, 415, 422, 429, 503),
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": QuoteRequest.model_json_schema()}}}
    },
)
async def quote(request: Request, api: Services, caller: Caller) -> Response:
    """Every enabled DEX's quote, the best route and minAmountOut, in the shape of an order's quotes."""
    check_json_content_type(request.headers.get("content-type"))
    spec = await read_order(api, await _body(request), allowed=QUOTE_FIELDS)
    decision = await api.router.route(
        VenueQuoteRequest(spec.token_in, spec.token_out, spec.amount_in), spec.slippage_bps
    )
    return _json(quote_answer(spec, decision))


@router.get(
    "/api/orders/active",
    tags=["orders"],
    summary="Your orders not yet confirmed or failed",
    response_model=ActivePage,
    responses=documented(401, 429),
)
async def active_orders(api: Services, caller: Caller) -> Response:
    async with api.db() as conn:
        ids = await repository.active_order_ids(conn, owner=caller.id)
    return _json({"activeCount": len(ids), "orderIds": [str(i) for i in ids]})


@router.get(
    "/api/orders/recent",
    tags=["orders"],
    summary="Your most recent orders, newest first",
    response_model=RecentPage,
    responses=documented(401, 422, 429),
)
async def recent_orders(
    api: Services, caller: Caller, limit: int = Query(20, ge=1, le=500), status: OrderStatus | None = Query(None)
) -> Response:
    async with api.db() as conn:
        rows = await repository.recent_orders(conn, limit, status.value if status else None, owner=caller.id)
    return _json({"count": len(rows), "orders": [order_summary(r) for r in rows]})


@router.get(
    "/api/orders/{orderId}",
    tags=["orders"],
    summary="One of your orders, whole",
    response_model=OrderDocument,
    responses=documented(401, 404, 422, 429),
)
async def get_order(
    api: Services,
    caller: Caller,
    order_id: str = Path(alias="orderId", max_length=MAX_ORDER_ID_CHARS, description="The order's UUID."),
) -> Response:
    oid = _order_id(order_id)
    async with api.db() as conn:
        doc = await repository.order_document(conn, oid, caller.id)  # another key's order is "not found"
    if doc is None:
        raise NotFound(f"no order {oid}")
    return _json(order_document(doc))


@router.api_route("/api/orders/active", methods=["DELETE"], include_in_schema=False)
@router.api_route("/api/orders/recent", methods=["DELETE"], include_in_schema=False)
async def listings_other_methods() -> Response:
    # Declared so that DELETE is not taken for cancelling an order named "active" or "recent".
    raise MethodNotAllowed("order listings are read with GET", allow=("GET",))


@router.delete(
    "/api/orders/{orderId}",
    tags=["orders"],
    summary="Cancel one of your waiting (limit or sniper) orders",
    response_model=OrderDocument,
    responses=documented(401, 404, 409, 422, 429, 503),
)
async def cancel_order(
    api: Services,
    caller: Caller,
    order_id: str = Path(alias="orderId", max_length=MAX_ORDER_ID_CHARS, description="The order's UUID."),
) -> Response:
    """A waiting order becomes `cancelled` (200, the order); once it has fired (execution begun) or finished,
    409; a cancelled one answers as it is. A cancel racing the trigger: exactly one of them moves the order."""
    doc = await cancel(api, _order_id(order_id), caller)
    return _json(order_document(doc))


@router.post(
    "/api/pools/launch",
    tags=["pools"],
    summary="Launch a simulated pool for a pair that has none (what sniper orders wait for)",
    response_model=LaunchedPool,
    responses=documented(400, 401, 409, 413, 415, 422, 429, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": LaunchPoolRequest.model_json_schema()}},
        }
    },
)
async def launch_pool(request: Request, api: Services, caller: Caller) -> Response:
    """Every process quotes the pool from now on; it takes swaps from `opensInS` seconds on."""
    check_json_content_type(request.headers.get("content-type"))
    return _json(await launch_from_body(api, await _body(request)))


@router.get(
    "/health",
    tags=["service"],
    summary="What is up and what is degraded: database, Redis, workers, network, RPC, wallet, fallback",
    response_model=Health,
    responses={503: {"model": Health, "description": "Something is degraded; `degraded` says what, in words."}},
)
async def health(api: Services) -> Response:
    """Open to all and answered within a second; shows no secret (the wallet's public address only)."""
    ok, body = await health_report(api)
    return _json(body, 200 if ok else 503)


# --- WebSockets ------------------------------------------------------------------------------------


async def _admit(websocket: WebSocket, api: ApiServices) -> ApiKey | None:
    """The socket's key once accepted. A browser page whose origin is not listed is refused at the
    handshake (HTTP 403); a socket without a valid key, or over its rate, gets an error frame and 4401
    or 4429; past a socket cap, 4429 (this key) or 1013 (this process)."""
    if not api.origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host")):
        await websocket.close(code=stream.WS_POLICY)
        return None
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    presented = websocket.headers.get(KEY_HEADER.lower()) or key_from_subprotocols(offered)
    try:
        caller = await api.caller(presented)
    except EngineError as exc:
        await stream.refuse(websocket, exc)
        return None
    refused = api.gate.open_socket(caller)
    if refused is not None:
        await websocket.close(code=refused, reason="too many sockets")
        return None
    return caller


@router.websocket("/api/orders/execute")
async def execute_order_ws(websocket: WebSocket, api: Services) -> None:
    """Send one order as JSON; receive `accepted` and then that order's live stream."""
    caller = await _admit(websocket, api)
    if caller is None:
        return
    try:
        try:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("bytes") or (message.get("text") or "").encode()
            _, body = await accept(api, await read_order(api, raw), None, caller)
        except EngineError as exc:
            await stream.refuse(websocket, exc)
            return
        except WebSocketDisconnect:
            return
        await websocket.send_text(orjson.dumps({"type": "accepted", **body}).decode())
        await stream.stream_order(websocket, api, body["orderId"], after=0, owner=caller.id)
    finally:
        api.gate.close_socket(caller)


@router.websocket("/ws/orders/{order_id}")
async def order_stream(websocket: WebSocket, api: Services, order_id: str) -> None:
    """A snapshot of the order, then its events from ``after`` on; closes after the terminal event."""
    caller = await _admit(websocket, api)
    if caller is None:
        return
    try:
        after_text = websocket.query_params.get("after", "0")
        if not _AFTER.match(after_text) or int(after_text) > MAX_SEQ:
            issue = FieldIssue("after", f"must be an integer from 0 to {MAX_SEQ}")
            await stream.refuse(websocket, InvalidRequest([issue]))
            return
        if len(order_id) > MAX_ORDER_ID_CHARS:
            await websocket.close(code=stream.NOT_FOUND, reason="not a UUID")
            return
        await stream.stream_order(websocket, api, order_id, after=int(after_text), owner=caller.id)
    finally:
        api.gate.close_socket(caller)
