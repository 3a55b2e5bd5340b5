"""The order-submission hot path, served without the framework's per-request layers.

``POST /api/orders/execute`` is the one endpoint that must take thousands of requests a second. The
framework spends more on each of them (routing, dependency solving, exception middlewares, request
objects) than the endpoint's own work. This ASGI wrapper answers that one method and path directly,
with the same function the declared route uses, and hands every other request (and the lifespan) to
the app. The route stays declared, so the OpenAPI document describes it as before.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from engine.api.validation import MAX_BODY_BYTES

PATH = "/api/orders/execute"
_JSON = [(b"content-type", b"application/json")]


class SubmissionFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        key: str | None = None
        for name, value in scope["headers"]:
            if name == b"idempotency-key":
                key = value.decode("latin-1")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= MAX_BODY_BYTES + 1:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        submit = self.app.state.submit  # type: ignore[attr-defined]
        status, body = await submit(b"".join(chunks), key)
        headers = [*_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
