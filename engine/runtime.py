"""Connections and start-up chores shared by every process: pools, clients, migrations, embedded servers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from redis import exceptions as redis_errors

from engine.db.urls import asyncpg_dsn, sqlalchemy_url
from engine.embedded import EmbeddedServices
from kernel.settings import Settings

log = logging.getLogger("oee")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ResolvedServices:
    """Settings with both URLs filled in, and the embedded servers this process started, if any."""

    settings: Settings
    embedded: EmbeddedServices | None

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def resolve_services(settings: Settings) -> ResolvedServices:
    """Fill in unset ``DATABASE_URL``/``REDIS_URL`` by starting (or finding) embedded servers."""
    need_pg = not settings.database_url
    need_redis = not settings.redis_url
    if not (need_pg or need_redis):
        return ResolvedServices(settings, None)
    embedded = EmbeddedServices(settings.data_dir).start(postgres=need_pg, redis=need_redis)
    update: dict[str, str] = {}
    if need_pg and embedded.database_url:
        update["database_url"] = embedded.database_url
        log.info("embedded PostgreSQL at %s", settings.data_dir / "pg")
    if need_redis and embedded.redis_url:
        update["redis_url"] = embedded.redis_url
        log.info("embedded Redis at %s", embedded.redis_url)
    return ResolvedServices(settings.model_copy(update=update), embedded)


def database_url(settings: Settings) -> str:
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not resolved")
    return settings.database_url


def redis_url(settings: Settings) -> str:
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not resolved")
    return settings.redis_url


# What a dependency that is down, restarting or stalled looks like to its caller; the worker backs off and
# retries on these, and treats anything else as the bug or the rejection it is.
#   OSError                                 refused, reset, socket file gone; TimeoutError (a stall past its
#                                           timeout) is one too
#   asyncpg PostgresConnectionError         the connection could not be made or was lost
#   asyncpg ConnectionDoesNotExistError     the server closed the connection in the middle of a query
#   asyncpg OperatorInterventionError       57P*: the server is shutting down, crashed or still starting up
#   redis ConnectionError / TimeoutError    Redis unreachable, or no answer within the socket timeout
DEPENDENCY_DOWN: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.OperatorInterventionError,
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
)


def dependency_down(exc: BaseException) -> bool:
    """True when ``exc`` says Redis or PostgreSQL is unreachable or stalled, not that a call was wrong.

    The chain counts: leaving a transaction whose connection died raises asyncpg's ``InterfaceError``
    ("the underlying connection is closed") while handling the error that says why.
    """
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, DEPENDENCY_DOWN):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def backoff_s(failures: int, first_s: float = 0.1, most_s: float = 2.0) -> float:
    """The wait after ``failures`` consecutive failures of a dependency: doubling from ``first_s``, capped."""
    return float(min(most_s, first_s * 2 ** max(0, failures - 1)))


async def cancel_and_wait(tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Cancel ``tasks`` and wait until each has ended, whatever it raised. A cancellation of the caller while it
    waits is never swallowed: it propagates, as it must for a loop to stop. (Awaiting each task inside
    ``suppress(CancelledError)`` would swallow the caller's own cancellation too, and its loop would go on.)"""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.execute("SET synchronous_commit = on")


async def create_db_pool(
    settings: Settings, size: int | None = None, *, timeout_s: float | None = None
) -> asyncpg.Pool:
    """A pool; with ``timeout_s`` every connect and query fails after that long instead of waiting on a stall."""
    n = size or settings.db_pool_size
    limits = {} if timeout_s is None else {"timeout": timeout_s, "command_timeout": timeout_s}
    pool = await asyncpg.create_pool(
        asyncpg_dsn(database_url(settings)), min_size=min(2, n), max_size=n, init=_init_connection, **limits
    )
    assert pool is not None
    return pool


def create_redis(settings: Settings, *, timeout_s: float | None = None) -> aioredis.Redis:
    """A client; with ``timeout_s`` a call that gets no answer for that long raises instead of hanging."""
    client: aioredis.Redis = aioredis.Redis.from_url(
        redis_url(settings), health_check_interval=30, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
    )
    return client


def create_arq_redis(settings: Settings, *, timeout_s: float) -> ArqRedis:
    """The worker's queue client: arq's own client class, with the same call timeout as :func:`create_redis`."""
    client: ArqRedis = ArqRedis.from_url(
        redis_url(settings), socket_timeout=timeout_s, socket_connect_timeout=timeout_s, health_check_interval=30
    )
    return client


def run_migrations(settings: Settings) -> None:
    """``alembic upgrade head`` against the settings' database."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = sqlalchemy_url(database_url(settings))
    command.upgrade(cfg, "head")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
