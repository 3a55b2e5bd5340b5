"""One error contract: every refused or failed request is answered with the same JSON envelope.

    {"error": {"status": 422, "code": "invalid_request", "message": "...",
               "fields": [{"field": "amountIn", "reason": "..."}]}}

``status`` repeats the HTTP status, ``code`` is stable and machine-readable (the kernel error's code),
``fields`` names each field at fault (empty when the fault is not in one field). The kernel's error
classes map to statuses here and nowhere else; the framework's own errors (unknown path, wrong method,
a bad query parameter) are converted into the same envelope by :func:`install_handlers`.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.runtime import DEPENDENCY_DOWN
from kernel.errors import (
    EngineError,
    FieldIssue,
    Forbidden,
    IdempotencyConflict,
    InvalidRequest,
    MalformedRequest,
    MethodNotAllowed,
    NoRoute,
    NotCancellable,
    NotFound,
    PayloadTooLarge,
    PoolExists,
    RateLimited,
    RejectedError,
    RequestRefused,
    ServiceUnavailable,
    Unauthenticated,
    UnsupportedMediaType,
)

log = logging.getLogger("oee.api")

# Most specific first: the first class an error is an instance of decides its status.
STATUS_OF: tuple[tuple[type[EngineError], int], ...] = (
    (MalformedRequest, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (MethodNotAllowed, 405),
    (IdempotencyConflict, 409),
    (NotCancellable, 409),
    (PoolExists, 409),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (InvalidRequest, 422),
    (RateLimited, 429),
    (ServiceUnavailable, 503),
    (NoRoute, 503),
    # An order or quote the DEXes refuse as asked (an untradable pair, a size too small).
    (RejectedError, 422),
)

DESCRIPTIONS: dict[int, str] = {
    400: "The body is not JSON this service reads.",
    401: "No credentials, or unknown ones.",
    403: "These credentials may not do this.",
    404: "No such order.",
    405: "This path does not answer this method.",
    409: "The Idempotency-Key was used before with different parameters, the order can no longer be cancelled, "
    "or the pool is already launched.",
    413: "The body is longer than the service reads.",
    415: "The body is not declared as application/json.",
    422: "Fields missing, unknown or out of range; `fields` names each.",
    429: "Too many requests; retry after Retry-After seconds.",
    500: "A fault of the service.",
    503: "A dependency is down or did not answer in time; retry after Retry-After seconds. A submission answered "
    "503 was not accepted unless the same Idempotency-Key later shows it.",
}


# A stalled or restarting dependency usually answers again within a couple of seconds.
RETRY_AFTER_UNAVAILABLE_S = 2


def unavailable() -> ServiceUnavailable:
    """The refusal for a request that PostgreSQL or Redis left without an answer before it changed anything."""
    return ServiceUnavailable("a dependency did not answer in time; nothing was done, retry after Retry-After")


def status_of(exc: EngineError) -> int:
    for cls, status in STATUS_OF:
        if isinstance(exc, cls):
            return status
    return 500


def envelope(status: int, code: str, message: str, fields: tuple[FieldIssue, ...] = ()) -> bytes:
    error = {"status": status, "code": code, "message": message}
    return orjson.dumps({"error": {**error, "fields": [{"field": f.field, "reason": f.reason} for f in fields]}})


def error_reply(exc: EngineError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The status, extra headers and envelope answering ``exc``."""
    status = status_of(exc)
    fields = exc.fields if isinstance(exc, RequestRefused) else ()
    headers: list[tuple[bytes, bytes]] = []
    if isinstance(exc, MethodNotAllowed):
        headers.append((b"allow", ", ".join(exc.allow).encode()))
    if isinstance(exc, RateLimited):
        headers.append((b"retry-after", str(exc.retry_after_s).encode()))
    elif status == 503:
        headers.append((b"retry-after", str(RETRY_AFTER_UNAVAILABLE_S).encode()))
    return status, headers, envelope(status, exc.code, exc.message, fields)


def error_response(exc: EngineError) -> Response:
    status, headers, body = error_reply(exc)
    response = Response(body, status_code=status, media_type="application/json")
    for name, value in headers:
        response.headers[name.decode()] = value.decode()
    return response


def _framework_error(exc: StarletteHTTPException) -> EngineError:
    if exc.status_code == 404:
        return NotFound("no such path")
    if exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow", "")
        return MethodNotAllowed("this path does not answer this method", allow=tuple(allow.split(", ")))
    return RequestRefused(str(exc.detail), code="http_error")


def install_handlers(app: FastAPI) -> None:
    """Answer every error, the framework's included, with the envelope."""

    @app.exception_handler(EngineError)
    async def _engine_error(request: Request, exc: EngineError) -> Response:
        if status_of(exc) >= 500:
            log.warning("%s %s answered %s: %s", request.method, request.url.path, exc.code, exc)
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        issues = tuple(
            FieldIssue(str(e["loc"][-1]) if e.get("loc") else "request", str(e.get("msg", "is invalid")))
            for e in exc.errors()
        )
        return error_response(InvalidRequest(issues))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        converted = _framework_error(exc)
        if type(converted) is RequestRefused:
            body = envelope(exc.status_code, converted.code, converted.message)
            return Response(body, status_code=exc.status_code, media_type="application/json")
        return error_response(converted)

    async def _dependency_down(request: Request, exc: Exception) -> Response:
        # A WebSocket has no method; its own handler answers it (engine.api.stream), this only logs it.
        method = getattr(request, "method", "WEBSOCKET")
        log.warning("%s %s: a dependency did not answer: %r", method, request.url.path, exc)
        return error_response(unavailable())

    # A PostgreSQL or Redis that is down or stalled: TimeoutError is an OSError (a request's own deadline,
    # asyncpg's command timeout, redis-py's socket timeout).
    for down in DEPENDENCY_DOWN:
        if issubclass(down, Exception):
            app.add_exception_handler(down, _dependency_down)

    @app.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", getattr(request, "method", "WEBSOCKET"), request.url.path)
        body = envelope(500, "internal_error", "the service failed to answer; this is a fault of the service")
        return Response(body, status_code=500, media_type="application/json")


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error ``statuses``, each with the envelope and an example."""
    from engine.api.schemas import ErrorEnvelope

    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        code = _EXAMPLE_CODES.get(status, "invalid_request")
        example = orjson.loads(envelope(status, code, DESCRIPTIONS[status]))
        if status == 422:
            example["error"]["fields"] = [{"field": "amountIn", "reason": "must be greater than zero"}]
        out[status] = {
            "model": ErrorEnvelope,
            "description": DESCRIPTIONS[status],
            "content": {"application/json": {"example": example}},
        }
    return out


_EXAMPLE_CODES = {
    400: "malformed_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "idempotency_conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
