"""Child processes of the engine (API, workers): waiting for the API to answer, and stopping them."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Sequence

import httpx


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
