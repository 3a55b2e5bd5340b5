"""Helpers for tests that run the engine as real processes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import websockets

from engine.runtime import free_port
from tools.processes import stop_processes, wait_for_api

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")

FAST_ENV = {
    "SIMULATED_QUOTE_LATENCY_MS": "0",
    "SIMULATED_EXECUTION_LATENCY_MS": "0",
    "SIMULATED_FAILURE_RATE": "0",
    "SIMULATED_DROP_RATE": "0",
    "ORDER_RETRY_BASE_MS": "20",
    "LOG_LEVEL": "WARNING",
}


@dataclass
class EngineProcesses:
    """An API process and worker processes, started from the ``oee`` CLI like a user would."""

    env: dict[str, str]
    log_dir: Path | None = None  # where each process's output goes (else the test's own output)
    port: int = field(default_factory=free_port)
    api: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    watchers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _api_key: str | None = None
    _metrics_dir: str | None = None

    def __post_init__(self) -> None:
        # One engine, one deployment: its processes share a metrics directory of their own.
        if "PROMETHEUS_MULTIPROC_DIR" not in self.env:
            self._metrics_dir = tempfile.mkdtemp(prefix="oee-metrics-")
            self.env = {**self.env, "PROMETHEUS_MULTIPROC_DIR": self._metrics_dir}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _spawn(self, *argv: str, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        env = {**self.env, **(extra or {})}
        out = None
        if self.log_dir is not None:
            out = (self.log_dir / f"{argv[0]}.log").open("ab")
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "tools.cli", *argv], env=env, cwd=ROOT, stdout=out, stderr=out
            )
        finally:
            if out is not None:
                out.close()

    def start_api(self) -> None:
        self.api = self._spawn("api", "--port", str(self.port))

    @property
    def api_key(self) -> str:
        """An API key of this engine's database, made on first use."""
        if self._api_key is None:
            # Far above what any test sends: tests of the limit itself make keys of their own.
            self._api_key = create_api_key(self.env["DATABASE_URL"], rate_per_s=1e6, burst=1_000_000)
        return self._api_key

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}

    def client(self, **options: Any) -> httpx.AsyncClient:
        """An HTTP client of this engine's API, sending its key."""
        options.setdefault("timeout", 30)
        headers = {**self.headers, **options.pop("headers", {})}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, **options)

    def connect(self, path: str, **options: Any) -> Any:
        """A WebSocket to this engine's API (``path`` from the root), sending its key."""
        headers = {**self.headers, **options.pop("additional_headers", {})}
        return websockets.connect(self.ws_url + path, additional_headers=headers, **options)

    def start_worker(self, **extra: str) -> subprocess.Popen[bytes]:
        proc = self._spawn("worker", extra=extra)
        self.workers.append(proc)
        return proc

    def start_watcher(self, **extra: str) -> subprocess.Popen[bytes]:
        """A watcher of waiting (limit and sniper) orders, as ``oee up`` runs one."""
        proc = self._spawn("watcher", extra=extra)
        self.watchers.append(proc)
        return proc

    @classmethod
    @contextmanager
    def api_only(cls, env: dict[str, str]) -> Iterator[EngineProcesses]:
        """An API process without a worker, answering (its health says degraded) until the block ends."""
        engine = cls(env)
        engine.start_api()
        try:
            assert engine.api is not None
            wait_for_api(engine.base_url, [engine.api], healthy=False)
            yield engine
        finally:
            engine.stop()

    @classmethod
    @contextmanager
    def running(cls, env: dict[str, str]) -> Iterator[EngineProcesses]:
        """An API process and a worker, healthy, until the block ends."""
        engine = cls(env).start()
        try:
            engine.wait_healthy()
            yield engine
        finally:
            engine.stop()

    def start(self, *, watcher: bool = True, **worker_extra: str) -> EngineProcesses:
        self.start_api()
        self.start_worker(**worker_extra)
        if watcher:
            self.start_watcher()
        return self

    def wait_healthy(self, timeout: float = 60) -> None:
        wait_for_api(
            self.base_url, [p for p in [self.api, *self.workers] if p is not None], healthy=True, timeout=timeout
        )

    def wait_answering(self, timeout: float = 60) -> None:
        """Until ``/health`` answers at all (an API without workers reports itself degraded)."""
        wait_for_api(
            self.base_url, [p for p in [self.api, *self.workers] if p is not None], healthy=False, timeout=timeout
        )

    def kill_workers(self, sig: int = signal.SIGKILL) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(sig)
        for proc in self.workers:
            proc.wait(timeout=30)
        self.workers = []

    def stop(self) -> None:
        stop_processes([p for p in [self.api, *self.workers, *self.watchers] if p is not None])
        self.api = None
        self.workers = []
        self.watchers = []
        if self._metrics_dir is not None:
            shutil.rmtree(self._metrics_dir, ignore_errors=True)  # made again if it starts again


async def eventually(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    within: float = 60,
    interval: float = 0.05,
    describe: Callable[[T], object] = repr,
) -> T:
    """Poll ``probe`` until ``done`` holds; return the last value. Fails after ``within`` seconds."""
    deadline = time.monotonic() + within
    value = await probe()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {within} s; last value: {str(describe(value))[:2000]}")
        await asyncio.sleep(interval)
        value = await probe()
    return value


def base_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOCK_", "ORDER_", "WORKER_"))}
    env.update(FAST_ENV)
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, OEE_SKIP_MIGRATIONS="1")
    env.update(extra)
    return env


@contextlib.contextmanager
def migrated_database(admin_url: str, prefix: str = "oee_test") -> Iterator[str]:
    """A new database on the server of ``admin_url``, brought to the latest migration; dropped after."""
    import asyncpg

    from engine.db.urls import asyncpg_dsn
    from engine.runtime import run_migrations
    from kernel.settings import Settings

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(asyncpg_dsn(admin_url))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f"CREATE DATABASE {name}"))
    base, _, query = admin_url.partition("?")
    url = f"{base.rpartition('/')[0]}/{name}" + (f"?{query}" if query else "")
    try:
        run_migrations(Settings(_env_file=None, database_url=url, redis_url="redis://unused"))  # type: ignore[call-arg]
        yield url
    finally:
        asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def create_api_key(
    database_url: str, *, name: str = "test", rate_per_s: float | None = None, burst: int | None = None
) -> str:
    """A new API key stored in the database of ``database_url``; returns the key itself."""
    import asyncpg

    from engine.auth.keys import generate_key
    from engine.db import keys as key_sql
    from engine.db.urls import asyncpg_dsn

    new = generate_key()

    async def insert() -> None:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            await key_sql.insert_key(conn, new, name=name, rate_per_s=rate_per_s, burst=burst)
        finally:
            await conn.close()

    # In a thread of its own so that async tests (with a loop running) can call it too.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, insert()).result()
    return new.secret


async def json_rpc(url: str, method: str, *params: Any) -> Any:
    """One raw JSON-RPC call to a Solana RPC (the local network's own ``localnet_*`` methods included);
    returns ``result`` or fails with the error."""
    async with httpx.AsyncClient() as http:
        reply = (
            await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        ).json()
    assert "error" not in reply, reply
    return reply["result"]
