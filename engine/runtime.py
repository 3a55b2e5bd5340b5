"""Connections and start-up chores shared by every process: pools, clients, migrations, embedded servers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis
from arq.connections import RedisSettings

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


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.execute("SET synchronous_commit = on")


async def create_db_pool(settings: Settings, size: int | None = None) -> asyncpg.Pool:
    n = size or settings.db_pool_size
    pool = await asyncpg.create_pool(
        asyncpg_dsn(database_url(settings)), min_size=min(2, n), max_size=n, init=_init_connection
    )
    assert pool is not None
    return pool


def create_redis(settings: Settings) -> aioredis.Redis:
    client: aioredis.Redis = aioredis.Redis.from_url(redis_url(settings), health_check_interval=30)
    return client


def arq_redis_settings(settings: Settings) -> RedisSettings:
    return RedisSettings.from_dsn(redis_url(settings))


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
