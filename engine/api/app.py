"""The HTTP and WebSocket API. ``create_app`` is the API's composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from engine import __version__
from engine.api.console import install_console
from engine.api.docs import install_docs
from engine.api.edge import SecurityHeaders
from engine.api.errors import install_handlers
from engine.api.fastpath import SubmissionFastPath
from engine.api.metrics import AccessLog, HttpMetrics
from engine.api.metrics import router as metrics_router
from engine.api.routes import router
from engine.api.services import ApiServices, services_of
from kernel.settings import Settings

DESCRIPTION = """Market swap orders on Solana, routed across Raydium and Meteora, streamed live.

Every error, whatever its status, is the same envelope:
`{"error": {"status": 422, "code": "invalid_request", "message": "...", "fields": [{"field": "amountIn",
"reason": "..."}]}}`. WebSocket messages are described in the README ("WebSocket messages")."""


def without_signing_key(settings: Settings) -> Settings:
    """The API never signs: it drops the wallet settings it may have inherited."""
    return settings.model_copy(update={"solana_private_key": None, "solana_keypair_path": None})


def create_app(settings: Settings) -> FastAPI:
    """Build the API for settings whose ``database_url`` and ``redis_url`` are resolved."""
    api = ApiServices(without_signing_key(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await api.start()
        try:
            yield
        finally:
            await api.stop()

    app = FastAPI(
        title="Order Execution Engine",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = api
    install_handlers(app)
    install_docs(app)
    install_console(app)
    app.include_router(router)
    app.include_router(metrics_router)
    if api.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=sorted(api.allowed_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Idempotency-Key", "X-API-Key"],
        )
    return app


def create_asgi_app(settings: Settings) -> ASGIApp:
    """The API as served: security headers on every answer, the order-submission fast path in front, and the
    HTTP metrics and access log in front of both."""
    app = create_app(settings)
    return AccessLog(HttpMetrics(SubmissionFastPath(SecurityHeaders(app), services_of(app))))


def create_app_from_env() -> ASGIApp:
    """Factory for ``uvicorn --factory``: each API process reads its settings from the environment."""
    from kernel.logs import setup_logging
    from kernel.settings import load_settings

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_format, access_log=settings.access_log)
    if not settings.database_url or not settings.redis_url:
        from engine.runtime import resolve_services

        settings = resolve_services(settings).settings
    return create_asgi_app(settings)
