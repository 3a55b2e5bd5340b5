"""Child processes of the engine (API, workers): waiting for the API to answer, and stopping them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

import httpx

from engine.runtime import ResolvedServices, resolve_services, run_migrations
from kernel.settings import Settings

SKIP_MIGRATIONS_ENV = "OEE_SKIP_MIGRATIONS"


def prepare_services(settings: Settings) -> ResolvedServices:
    """The services ``settings`` name (embedded ones started when unnamed), migrated. A failed start
    stops whatever it had started."""
    services = resolve_services(settings)
    try:
        if os.environ.get(SKIP_MIGRATIONS_ENV) != "1":
            run_migrations(services.settings)
    except BaseException:
        services.stop()
        raise
    return services


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment for child processes: resolved URLs, migrations already done."""
    env = dict(os.environ)
    assert settings.database_url and settings.redis_url
    env.update(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, **{SKIP_MIGRATIONS_ENV: "1"})
    env.update(extra)
    return env


# Only workers sign. The API process is the one exposed to the network: it never holds the wallet.
SIGNING_KEY_ENV = ("SOLANA_PRIVATE_KEY", "SOLANA_KEYPAIR_PATH")


def api_env(settings: Settings) -> dict[str, str]:
    """The environment of an API process: the child environment without the wallet."""
    return {k: v for k, v in child_env(settings).items() if k not in SIGNING_KEY_ENV}


class Stopped(SystemExit):
    """SIGTERM, SIGINT or SIGHUP reached a command that started processes: raised in its main thread, so its
    ``finally`` blocks stop what it started (the default SIGTERM ends a process without running them)."""


def stop_on_signals() -> None:
    """Turn SIGTERM, SIGINT and SIGHUP into :class:`Stopped` (exit status 128 + the signal's number)."""

    def stop(signum: int, frame: object) -> None:
        signal.signal(signum, signal.SIG_IGN)  # once: the clean-up itself is not interrupted
        raise Stopped(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)


def spawn(argv: Sequence[str], env: dict[str, str], *, stderr: int | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tools.cli", *argv], env=env, stderr=stderr)


def wait_for_api(
    base_url: str, procs: Sequence[subprocess.Popen[bytes]], *, healthy: bool, timeout: float = 60
) -> None:
    """Poll ``/health`` until it answers (``healthy``: answers 200). Raises if a process exits or time runs out."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            reply = httpx.get(base_url + "/health", timeout=2)
            if reply.status_code == 200 or not healthy:
                return
            last = reply.text
        except httpx.HTTPError as exc:
            last = exc
        exited = [p.args for p in procs if p.poll() is not None]
        if exited:
            raise RuntimeError(f"an engine process exited before the API was ready: {exited}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the API at {base_url} was not ready in {timeout} s: {last}")
        time.sleep(0.1)


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    """SIGTERM every running process (workers hand their jobs back), then kill what outlives ``timeout``."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
