"""The order-submission hot path, served without the framework's per-request layers.

``POST /api/orders/execute`` is the one endpoint that must take thousands of requests a second. The
framework spends more on each of them (routing, dependency solving, exception middlewares, request
objects) than the endpoint's own work. This ASGI wrapper answers that one method and path directly,
with :func:`engine.api.submission.submit` (which the declared route calls too), the same error
envelope and the same headers, and hands every other request (and the lifespan) to the app. The route
stays declared, so the OpenAPI document describes it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from engine.api.edge import API_HEADERS, cors_headers
from engine.api.errors import error_reply
from engine.api.services import ApiServices
from engine.api.submission import check_size, header, submit
from kernel.errors import EngineError, PayloadTooLarge

PATH = "/api/orders/execute"
_JSON = [(b"content-type", b"application/json"), *API_HEADERS]


class SubmissionFastPath:
    def __init__(self, app: ASGIApp, services: ApiServices) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        extra = cors_headers(header(headers, b"origin"), self.services.allowed_origins)
        try:
            caller = await self.services.caller(header(headers, b"x-api-key"))
            declared = header(headers, b"content-length")
            if declared is not None and declared.isdigit():
                check_size(int(declared))  # refuse before reading a byte of it
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                check_size(size)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            status, body = await submit(
                self.services,
                b"".join(chunks),
                content_type=header(headers, b"content-type"),
                key=header(headers, b"idempotency-key"),
                caller=caller,
            )
        except EngineError as exc:
            status, more, body = error_reply(exc)
            extra = [*extra, *more]
            if isinstance(exc, PayloadTooLarge):
                extra.append((b"connection", b"close"))  # the rest of the body is never read
        out = [*_JSON, *extra, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body})
