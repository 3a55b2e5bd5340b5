"""Alembic environment: runs migrations over asyncpg against the URL the engine hands it."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from engine.db.models import Base
from engine.db.urls import sqlalchemy_url

target_metadata = Base.metadata


def _url() -> str:
    url = context.config.attributes.get("database_url") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        from kernel.settings import load_settings

        url = load_settings().database_url
    if not url:
        raise RuntimeError("no database URL: run migrations through `oee migrate`")
    return sqlalchemy_url(url)


MIGRATION_LOCK = 0x0EE0_0001


def _run(connection: Connection) -> None:
    # Processes starting together (API and workers) take turns; the later ones find nothing to do.
    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url())
    async with engine.begin() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
