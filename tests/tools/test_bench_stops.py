"""A bench stopped half-way (SIGTERM, as `make` passes on a Ctrl-C or a timeout) stops every process and server
it started before it exits."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.servers  # runs a bench, its API and embedded servers


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = {int(k) for k in (task / "children").read_text().split()}
            except (FileNotFoundError, ProcessLookupError):
                continue
            todo += list(kids - found)
            found |= kids
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _holding(folder: Path) -> set[int]:
    """Processes whose command line names ``folder`` (the embedded servers started under it)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(folder).encode() in (entry / "cmdline").read_bytes():
                    pids.add(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
    return pids


def test_bench_streams_stopped_while_its_sockets_wait_stops_everything(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "OEE_"))}
    env.update(OEE_DATA_DIR=str(data), LOG_LEVEL="WARNING")
    bench = subprocess.Popen([sys.executable, "-m", "tools.bench_streams", "--sockets", "40", "--idle-seconds", "60"],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    assert bench.stdout is not None
    seen = b""
    deadline = time.monotonic() + 120
    try:
        while b"opened" not in seen and time.monotonic() < deadline and bench.poll() is None:
            if select.select([bench.stdout], [], [], 1)[0]:
                seen += os.read(bench.stdout.fileno(), 65536)
        assert b"opened" in seen, seen.decode(errors="replace")[-2000:]
        started = _descendants(bench.pid) | _holding(data)
        assert started, "the bench started nothing"
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=90) == 128 + signal.SIGTERM
    finally:
        if bench.poll() is None:
            bench.kill()
    deadline = time.monotonic() + 30
    while _alive(started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(started), f"left running: {_alive(started)}"
    assert not _alive(_holding(data))
