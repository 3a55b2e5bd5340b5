"""Real PostgreSQL and Redis for every test: embedded servers, or the ones named by environment.

``OEE_TEST_DATABASE_URL`` / ``OEE_TEST_REDIS_URL`` point the suite at running servers; unset, it starts
embedded PostgreSQL and Redis in a temporary folder. Each test session gets a fresh database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from engine.db.urls import asyncpg_dsn
from engine.embedded import EmbeddedServices
from kernel.settings import Settings
from tests.support import EngineProcesses, base_env, migrated_database
from tests.waiting_support import Deployment, pool_of


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    db_url = os.environ.get("OEE_TEST_DATABASE_URL")
    redis_url = os.environ.get("OEE_TEST_REDIS_URL")
    embedded = None
    if not (db_url and redis_url):
        folder = Path(tmp_path_factory.mktemp("servers"))
        embedded = EmbeddedServices(folder).start(postgres=not db_url, redis=not redis_url)
        db_url = db_url or embedded.database_url
        redis_url = redis_url or embedded.redis_url
    assert db_url and redis_url
    try:
        yield db_url, redis_url
    finally:
        if embedded is not None:
            embedded.stop()


@pytest.fixture(scope="session")
def database_url(servers: tuple[str, str]) -> Iterator[str]:
    """A fresh, migrated database for this session."""
    with migrated_database(servers[0]) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(servers: tuple[str, str]) -> str:
    return servers[1]


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    """Settings for in-process engine parts: no simulated latency, short back-off."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=database_url,
        redis_url=redis_url,
        simulated_quote_latency_ms="0",
        simulated_execution_latency_ms="0",
        order_retry_base_ms=10,
        order_retry_max_ms=100,
        queue_name=f"oee:test:{uuid.uuid4().hex[:8]}",
        log_level="WARNING",
    )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=1, max_size=4)
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def live_engine(database_url: str, redis_url: str) -> Iterator[EngineProcesses]:
    """One API process and one worker with no simulated latency, shared by the API tests."""
    env = base_env(database_url, redis_url, QUEUE_NAME=f"oee:live:{uuid.uuid4().hex[:6]}")
    with EngineProcesses.running(env) as engine:
        yield engine


@pytest.fixture(scope="session")
def live_api(live_engine: EngineProcesses) -> str:
    return live_engine.base_url


@pytest.fixture
async def client(live_engine: EngineProcesses) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the shared live engine's API."""
    async with live_engine.client(timeout=10) as c:
        yield c


@pytest.fixture
async def conn_pool(deployment: Deployment) -> AsyncIterator[asyncpg.Pool]:
    """A connection pool to the database of the module's ``deployment`` (the waiting-order tests define one)."""
    pool = await pool_of(deployment.settings)
    yield pool
    await pool.close()
