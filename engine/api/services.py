"""What the API's routes share: settings, tokens, and the connections an API process opens at start-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import redis.asyncio as aioredis
from fastapi import FastAPI
from starlette.requests import HTTPConnection

from adapters.registry import Quoting, build_quoting, tokens_for
from engine.api.auth import Gate
from engine.api.edge import same_origin
from engine.api.errors import unavailable
from engine.api.intake import OrderIntake
from engine.auth.keys import ApiKey, KeyVerifier
from engine.auth.ratelimit import RateLimiter
from engine.db import keys as key_sql
from engine.events import EventHub
from engine.queue import OrderQueue
from engine.routing import RoutePolicy, Router
from engine.runtime import DEPENDENCY_DOWN, create_db_pool, create_redis
from engine.watcher.notify import Notice, notify, waiting_channel
from kernel.settings import Settings
from kernel.tokens import TokenRegistry


class ApiServices:
    """The API process's state. Built with the app; its connections open in the app's lifespan.

    Routes reach it through the typed dependency :func:`services`, the submission fast path through
    :func:`services_of`: nothing is read back from ``app.state`` untyped.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tokens: TokenRegistry = tokens_for(settings)
        self.allowed_origins = frozenset(settings.api_cors_origins)
        self._pool: asyncpg.Pool | None = None
        self._redis: aioredis.Redis | None = None
        self._hub: EventHub | None = None
        self._intake: OrderIntake | None = None
        self._quoting: Quoting | None = None
        self._router: Router | None = None
        self._limiter: RateLimiter | None = None
        self._gate: Gate | None = None

    async def start(self) -> None:
        db_timeout_s = self.settings.request_db_timeout_s
        self._pool = await create_db_pool(self.settings, timeout_s=db_timeout_s)
        self._redis = create_redis(self.settings, timeout_s=self.settings.request_redis_timeout_s)
        self._hub = EventHub(self._redis, self.settings.events_channel)
        await self._hub.start()
        queue = OrderQueue(self._redis, self.settings.order_queue_key)
        self._intake = OrderIntake(
            self._pool, queue, max_batch=self.settings.write_batch_max, acquire_timeout_s=db_timeout_s,
            notify_waiting=self.notify_waiting,
        )  # fmt: skip
        self._intake.start()
        self._quoting = build_quoting(self.settings, self._redis)
        policy = RoutePolicy.from_settings(self.settings, self.tokens, plans=self._quoting.plans)
        self._router = Router(self._quoting.dexes, self.settings.quote_timeout_ms / 1000, policy)
        self._limiter = RateLimiter(self._redis, prefix=f"{self.settings.namespace}:rate:")
        self._limiter.start()
        self._gate = Gate(
            KeyVerifier(self._lookup_key, ttl_s=self.settings.api_key_cache_s), self._limiter, self.settings
        )

    async def notify_waiting(self, notices: list[Notice]) -> None:
        """Tell the watchers of placed or cancelled waiting orders (after the commit that stored it)."""
        await notify(self.redis, waiting_channel(self.settings), notices)

    async def _lookup_key(self, key_id: str) -> ApiKey | None:
        async with self.db() as conn:
            return await key_sql.key_by_key_id(conn, key_id)

    async def caller(self, presented: str | None) -> ApiKey:
        """The key ``presented`` proves (:meth:`Gate.caller`), answered 503 when the key store or the rate
        limiter does not answer within the request timeouts: a request refused so has done nothing."""
        budget_s = max(self.settings.request_db_timeout_s, self.settings.request_redis_timeout_s)
        try:
            async with asyncio.timeout(budget_s):
                return await self.gate.caller(presented)
        except DEPENDENCY_DOWN as exc:
            raise unavailable() from exc

    async def stop(self) -> None:
        if self._limiter is not None:
            await self._limiter.stop()
        if self._intake is not None:
            await self._intake.stop()
        if self._quoting is not None:
            await self._quoting.aclose()
        if self._hub is not None:
            await self._hub.stop()
        if self._redis is not None:
            await self._redis.aclose()
        if self._pool is not None:
            await self._pool.close()

    def origin_allowed(self, origin: str | None, host: str | None = None) -> bool:
        """A browser's Origin must be listed in API_CORS_ORIGINS or be this API's own (the console's page);
        a client that sends none (not a browser) passes."""
        return origin is None or origin in self.allowed_origins or same_origin(origin, host)

    @asynccontextmanager
    async def db(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection for one request's reads, all of it (waiting for a connection, the queries, handing it
        back) bounded by ``REQUEST_DB_TIMEOUT_S``: a stalled PostgreSQL raises ``TimeoutError``, answered 503."""
        async with asyncio.timeout(self.settings.request_db_timeout_s), self.pool.acquire() as conn:
            yield conn

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "the API has not started"
        return self._pool

    @property
    def redis(self) -> aioredis.Redis:
        assert self._redis is not None, "the API has not started"
        return self._redis

    @property
    def hub(self) -> EventHub:
        assert self._hub is not None, "the API has not started"
        return self._hub

    @property
    def intake(self) -> OrderIntake:
        assert self._intake is not None, "the API has not started"
        return self._intake

    @property
    def quoting(self) -> Quoting:
        assert self._quoting is not None, "the API has not started"
        return self._quoting

    @property
    def gate(self) -> Gate:
        assert self._gate is not None, "the API has not started"
        return self._gate

    @property
    def router(self) -> Router:
        assert self._router is not None, "the API has not started"
        return self._router


def services_of(app: FastAPI) -> ApiServices:
    found = app.state.services
    if not isinstance(found, ApiServices):
        raise TypeError("the app was not built by engine.api.app.create_app")
    return found


def services(connection: HTTPConnection) -> ApiServices:
    """The typed dependency of every route and socket."""
    app = connection.app
    assert isinstance(app, FastAPI)
    return services_of(app)
