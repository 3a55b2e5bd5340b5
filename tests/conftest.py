"""Real PostgreSQL and Redis for every test: embedded servers, or the ones named by environment.

``OEE_TEST_DATABASE_URL`` / ``OEE_TEST_REDIS_URL`` point the suite at running servers; unset, it starts
embedded PostgreSQL and Redis in a temporary folder. Each test session gets a fresh database.

Two tiers, marked at collection: ``servers`` for a test that starts or needs a server or a process
(PostgreSQL, Redis, a local Solana network, API or worker processes, a browser, npm), ``fast`` for every
other (``pytest -m fast``, ``make test-fast``). A test is ``servers`` when it is marked ``localnet`` or
``servers`` (a module that spawns processes itself says ``pytestmark = pytest.mark.servers``), or when a
fixture it uses, however indirectly, is in :data:`SERVER_FIXTURES` or calls one of :data:`STARTERS`. A
fast test that starts a process, a localnet or a listening socket anyway fails, naming itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import subprocess
import sys
import threading
import types
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from engine.db.urls import asyncpg_dsn
from engine.embedded import EmbeddedServices
from kernel.settings import Settings
from localnet import LocalnetHandle
from tests.support import EngineProcesses, base_env, migrated_database
from tests.waiting_support import Deployment, pool_of

# --- tiers ----------------------------------------------------------------------------------------

#: Fixtures that start servers or processes; every fixture that uses one, directly or not, needs servers too.
SERVER_FIXTURES = frozenset({"servers", "live_engine"})
#: Names whose appearance in a fixture's code means it starts a server or a process.
STARTERS = frozenset(
    {
        "running_localnet", "start_localnet", "LocalnetHandle", "EmbeddedServices", "PostgresServer", "RedisServer",
        "EngineProcesses", "migrated_database",
        "subprocess", "Popen", "create_subprocess_exec", "create_subprocess_shell", "sync_playwright",
        "async_playwright",
    }
)  # fmt: skip


def _names_in(code: types.CodeType) -> set[str]:
    """Every global and attribute name ``code`` and the functions defined inside it refer to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_in(const)
    return names


def _starts_servers(fixturedef: pytest.FixtureDef[Any]) -> bool:
    if fixturedef.argname in SERVER_FIXTURES:
        return True
    func = getattr(fixturedef.func, "__wrapped__", fixturedef.func)
    code = getattr(func, "__code__", None)
    return code is not None and bool(_names_in(code) & STARTERS)


def _needs_servers(item: pytest.Item) -> bool:
    if item.get_closest_marker("servers") or item.get_closest_marker("localnet"):
        return True
    test = getattr(getattr(item, "function", None), "__code__", None)
    if test is not None and _names_in(test) & STARTERS:
        return True
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    for name in item.fixturenames:  # type: ignore[attr-defined]  # the whole closure, overrides applied
        defs = info.name2fixturedefs.get(name)
        if defs and _starts_servers(defs[-1]):
            return True
    return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.servers if _needs_servers(item) else pytest.mark.fast)


@contextlib.contextmanager
def _nothing_started(item: pytest.Item) -> Iterator[None]:
    """Holds a fast test to its word while it is set up (fixtures of any scope) and runs: nothing started."""
    if item.get_closest_marker("fast") is None:
        yield
        return

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError(
            f"{item.nodeid} is marked fast but starts a process or a server: mark it (or its module) servers, "
            "or name the fixture that starts it in SERVER_FIXTURES (tests/conftest.py)"
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", refuse)
        patch.setattr(LocalnetHandle, "start", refuse)
        patch.setattr(socket.socket, "listen", refuse)
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _nothing_started(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _nothing_started(item), _tasks_told_before_timeout(item):
        return (yield)


# --- a test that hangs ----------------------------------------------------------------------------
# pytest-timeout (``timeout`` in pyproject.toml) fails a test that runs too long and prints every thread's
# stack; for an asyncio test that stack is the event loop's, so what each task awaits is printed first.


@contextlib.contextmanager
def _tasks_told_before_timeout(item: pytest.Item) -> Iterator[None]:
    limit = float(item.config.getini("timeout") or 0)
    if limit <= 0:
        yield
        return
    timer = threading.Timer(max(limit - 15, 1), _print_tasks, args=(item.nodeid,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _print_tasks(nodeid: str) -> None:
    tasks = [t for t in gc.get_objects() if isinstance(t, asyncio.Task) and not t.done()]
    out = sys.stderr
    print(f"\n+++ {nodeid} is about to time out; {len(tasks)} asyncio tasks pending +++", file=out)
    for task in tasks:
        with contextlib.suppress(Exception):
            task.print_stack(limit=12, file=out)
    out.flush()


# --- servers --------------------------------------------------------------------------------------


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
