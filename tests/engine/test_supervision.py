"""``oee up`` keeps its children running, and a process stops what it started, however it stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.runtime import free_port
from tests.support import ROOT, base_env, eventually
from tools.processes import stop_processes, wait_for_api

pytestmark = pytest.mark.servers  # runs oee up and the embedded servers

ORDER = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.5", "slippageBps": 100}


def children_of(pid: int) -> dict[int, str]:
    """The live child processes of ``pid`` and the ``oee`` command each runs (``api``, ``worker``)."""
    found: dict[int, str] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            if b"tools.cli" in argv:
                found[int(child)] = argv[argv.index(b"tools.cli") + 1].decode()
    return found


def oee(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tools.cli", *argv], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


@pytest.fixture
def up(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    port = free_port()
    env = base_env(database_url, redis_url, API_PORT=str(port), QUEUE_NAME=f"oee:up:{uuid.uuid4().hex[:6]}",
                   OEE_DATA_DIR=str(tmp_path))  # fmt: skip
    env.pop("OEE_SKIP_MIGRATIONS")
    proc = oee(["up"], env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_api(base_url, [proc], healthy=True)
        # `oee up` made a local API key on first start, readable only by its owner.
        key_file = tmp_path / "api-key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        yield proc, base_url, key_file.read_text().strip()
    finally:
        stop_processes([proc])


async def confirmed_order(base_url: str, key: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers={"X-API-Key": key}) as client:
        order_id = (await client.post("/api/orders/execute", json=ORDER)).json()["orderId"]

        async def read() -> dict[str, object]:
            return dict((await client.get(f"/api/orders/{order_id}")).json())

        return await eventually(read, lambda o: o["status"] in ("confirmed", "failed"), within=60)


async def test_a_child_that_dies_is_restarted_and_the_others_keep_going(
    up: tuple[subprocess.Popen[bytes], str, str],
) -> None:
    proc, base_url, key = up
    before = children_of(proc.pid)
    assert sorted(before.values()) == ["api", "watcher", "worker"]
    worker = next(pid for pid, name in before.items() if name == "worker")
    api = next(pid for pid, name in before.items() if name == "api")

    os.kill(worker, signal.SIGKILL)

    async def workers() -> list[int]:
        return [pid for pid, name in children_of(proc.pid).items() if name == "worker"]

    restarted = await eventually(workers, lambda pids: len(pids) == 1 and pids[0] != worker, within=30)
    assert api in children_of(proc.pid), "the API went down with the worker"
    assert (await confirmed_order(base_url, key))["status"] == "confirmed"

    os.kill(api, signal.SIGKILL)

    async def health() -> int:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(base_url + "/health")).status_code
        except httpx.HTTPError:
            return 0

    async def apis() -> list[int]:
        return [pid for pid, name in children_of(proc.pid).items() if name == "api"]

    await eventually(apis, lambda pids: len(pids) == 1 and pids[0] != api, within=30)
    await eventually(health, lambda code: code == 200, within=60)
    assert restarted[0] in children_of(proc.pid), "the worker went down with the API"
    assert (await confirmed_order(base_url, key))["status"] == "confirmed"
    assert proc.poll() is None


def embedded_pids(data_dir: Path) -> list[int]:
    """PIDs of live processes whose command line names ``data_dir`` (the embedded servers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(data_dir).encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
    return pids


def embedded_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "OEE_SKIP_MIGRATIONS")}
    env.update(OEE_DATA_DIR=str(data_dir), LOG_LEVEL="WARNING", **extra)
    return env


def test_sigterm_to_a_lone_api_stops_the_embedded_servers_it_started(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    proc = oee(["api", "--port", str(port)], embedded_env(data_dir))
    try:
        wait_for_api(f"http://127.0.0.1:{port}", [proc], healthy=False)
        assert embedded_pids(data_dir), "no embedded servers were started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        stop_processes([proc])
    assert embedded_pids(data_dir) == []


def test_a_failed_start_stops_what_it_had_started(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # Both embedded: PostgreSQL starts first, then Redis cannot (a file stands where its folder goes).
    (data_dir / "redis").write_text("not a folder")
    proc = oee(["up"], embedded_env(data_dir))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert (data_dir / "pg").is_dir(), err.decode()[-2000:]
    assert embedded_pids(data_dir) == []
