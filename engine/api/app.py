"""The HTTP and WebSocket API. ``create_app`` is the API's composition root."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.types import ASGIApp

from engine import __version__
from engine.api import stream
from engine.api.fastpath import SubmissionFastPath
from engine.api.intake import OrderIntake
from engine.api.present import order_document, order_summary
from engine.api.validation import (
    ExecuteOrderRequest,
    FieldError,
    InvalidOrder,
    ValidOrder,
    parse_body,
    validate_order,
)
from engine.db import repository
from engine.db.repository import NewOrder
from engine.events import EventHub
from engine.queue import OrderQueue
from engine.runtime import create_db_pool, create_redis
from engine.worker import health_check_key
from kernel.domain import OrderStatus
from kernel.settings import Settings
from kernel.tokens import TokenRegistry

log = logging.getLogger("oee.api")


def json_response(content: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


def validation_body(errors: list[FieldError]) -> bytes:
    return orjson.dumps({"error": "validation_error", "detail": [e.as_dict() for e in errors]})


def validation_response(errors: list[FieldError]) -> Response:
    return Response(validation_body(errors), status_code=422, media_type="application/json")


def new_order(valid: ValidOrder, idempotency_key: str | None) -> NewOrder:
    order_id = uuid.uuid4()
    return NewOrder(
        id=order_id,
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
        event_data=b"{}",
    )


def create_app(settings: Settings) -> FastAPI:
    """Build the API for settings whose ``database_url`` and ``redis_url`` are resolved."""
    tokens = TokenRegistry.for_network(settings.solana_network)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_db_pool(settings)
        redis = create_redis(settings)
        hub = EventHub(redis, settings.events_channel)
        await hub.start()
        intake = OrderIntake(pool, OrderQueue(redis, settings.order_queue_key), max_batch=settings.write_batch_max)
        intake.start()
        app.state.db = pool
        app.state.redis = redis
        app.state.hub = hub
        app.state.intake = intake
        try:
            yield
        finally:
            await intake.stop()
            await hub.stop()
            await redis.aclose()
            await pool.close()

    app = FastAPI(
        title="Order Execution Engine",
        version=__version__,
        description="Market swap orders on Solana, routed across Raydium and Meteora, streamed live.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.tokens = tokens

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            FieldError(str(e["loc"][-1]) if e.get("loc") else "request", str(e.get("msg", "is invalid")))
            for e in exc.errors()
        ]
        return validation_response(errors)

    async def accept(payload: Any, idempotency_key: str | None) -> tuple[dict[str, Any], int]:
        valid = validate_order(payload, tokens, settings.default_slippage_bps)
        order = new_order(valid, idempotency_key)
        accepted = await app.state.intake.accept(order)
        if accepted.created:
            summary = order_summary(
                {
                    "id": order.id, "order_type": order.order_type, "status": OrderStatus.PENDING.value,
                    "token_in": order.token_in, "token_in_symbol": order.token_in_symbol,
                    "token_in_decimals": order.token_in_decimals, "token_out": order.token_out,
                    "token_out_symbol": order.token_out_symbol, "token_out_decimals": order.token_out_decimals,
                    "amount_in": order.amount_in, "slippage_bps": order.slippage_bps,
                    "created_at": accepted.created_at, "updated_at": accepted.created_at,
                }
            )  # fmt: skip
            status_code = 202
        else:
            async with app.state.db.acquire() as conn:
                row = await repository.order_row(conn, accepted.order_id)
            assert row is not None
            summary = order_summary(row)
            status_code = 200
        oid = str(accepted.order_id)
        body = {"orderId": oid, "status": summary["status"], "wsUrl": f"/ws/orders/{oid}", "order": summary}
        return body, status_code

    @app.post(
        "/api/orders/execute",
        status_code=202,
        tags=["orders"],
        summary="Submit an order",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ExecuteOrderRequest.model_json_schema()}},
            },
            "parameters": [
                {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}}
            ],
        },
    )
    async def execute_order(request: Request) -> Response:
        """Validate and accept an order; it is committed before this answers and enqueued after."""
        status_code, body = await submit(await request.body(), request.headers.get("idempotency-key"))
        return Response(body, status_code=status_code, media_type="application/json")

    async def submit(raw: bytes, key: str | None) -> tuple[int, bytes]:
        """The submission endpoint's whole work, shared by the route and the fast path."""
        if key is not None and not 1 <= len(key) <= 200:
            return 422, validation_body([FieldError("Idempotency-Key", "must be 1 to 200 characters")])
        try:
            body, status_code = await accept(parse_body(raw), key)
        except InvalidOrder as exc:
            return 422, validation_body(exc.errors)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # The order could not be committed: nothing was accepted, and the client may safely retry.
            log.error("order store unavailable: %s", exc)
            detail = "the order store is unavailable; nothing was accepted, retry later"
            return 503, orjson.dumps({"error": "unavailable", "detail": detail})
        return status_code, orjson.dumps(body)

    app.state.submit = submit

    @app.websocket("/api/orders/execute")
    async def execute_order_ws(websocket: WebSocket) -> None:
        """Send one order as JSON; receive `accepted` and then that order's live stream."""
        await websocket.accept()
        try:
            payload = parse_body((await websocket.receive_text()).encode())
            body, _ = await accept(payload, None)
        except InvalidOrder as exc:
            await websocket.send_text(
                orjson.dumps({"type": "error", "error": "validation_error",
                              "detail": [e.as_dict() for e in exc.errors]}).decode()
            )  # fmt: skip
            await websocket.close(code=1008, reason="invalid order")
            return
        await websocket.send_text(orjson.dumps({"type": "accepted", **body}).decode())
        await stream.stream_order(websocket, app, body["orderId"], after=0, accepted=True)

    @app.websocket("/ws/orders/{order_id}")
    async def order_stream(websocket: WebSocket, order_id: str, after: int = 0) -> None:
        """A snapshot of the order, then its events from ``after`` on; closes after the terminal event."""
        await websocket.accept()
        await stream.stream_order(websocket, app, order_id, after=after, accepted=False)

    @app.get("/api/orders/active", tags=["orders"], summary="Orders not yet confirmed or failed")
    async def active_orders() -> Response:
        async with app.state.db.acquire() as conn:
            ids = await repository.active_order_ids(conn)
        return json_response({"activeCount": len(ids), "orderIds": [str(i) for i in ids]})

    @app.get("/api/orders/recent", tags=["orders"], summary="Most recent orders, newest first")
    async def recent_orders(limit: int = Query(20, ge=1, le=500), status: OrderStatus | None = Query(None)) -> Response:
        async with app.state.db.acquire() as conn:
            rows = await repository.recent_orders(conn, limit, status.value if status else None)
        return json_response({"count": len(rows), "orders": [order_summary(r) for r in rows]})

    @app.get("/api/orders/{order_id}", tags=["orders"], summary="One order, whole")
    async def get_order(order_id: str) -> Response:
        try:
            oid = uuid.UUID(order_id)
        except ValueError:
            return validation_response([FieldError("orderId", "is not a UUID")])
        async with app.state.db.acquire() as conn:
            doc = await repository.order_document(conn, oid)
        if doc is None:
            return json_response({"error": "not_found", "detail": f"no order {order_id}"}, 404)
        return json_response(order_document(doc))

    @app.get("/health", tags=["service"], summary="Database, Redis and worker checks")
    async def health() -> Response:
        checks: dict[str, str] = {}
        try:
            async with app.state.db.acquire() as conn:
                await conn.fetchval("SELECT 1")
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {exc.__class__.__name__}"
        try:
            await app.state.redis.ping()
            checks["redis"] = "ok"
            beat = await app.state.redis.exists(health_check_key(settings))
            checks["worker"] = "ok" if beat else "no worker heartbeat"
        except Exception as exc:
            checks["redis"] = f"error: {exc.__class__.__name__}"
            checks["worker"] = "unknown"
        ok = all(v == "ok" for v in checks.values())
        body = {"status": "ok" if ok else "degraded", "checks": checks, "version": __version__,
                "time": datetime.now(UTC).isoformat()}  # fmt: skip
        return json_response(body, 200 if ok else 503)

    return app


def create_asgi_app(settings: Settings) -> ASGIApp:
    """The API as served: the FastAPI app behind the order-submission fast path."""
    return SubmissionFastPath(create_app(settings))


def create_app_from_env() -> ASGIApp:
    """Factory for ``uvicorn --factory``: each API process reads its settings from the environment."""
    from kernel.logs import setup_logging
    from kernel.settings import load_settings

    settings = load_settings()
    setup_logging(settings.log_level)
    if not settings.database_url or not settings.redis_url:
        from engine.runtime import resolve_services

        settings = resolve_services(settings).settings
    return create_asgi_app(settings)
