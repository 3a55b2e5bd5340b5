"""A process's own heartbeat on local disk, for a container's liveness check (``python -m tools.liveness``).

A worker or watcher touches one file, ``<OEE_DATA_DIR>/heartbeat/<role>-<pid>``, every
``HEARTBEAT_INTERVAL_S`` from a task on its event loop, and removes it when it stops. The check reads the file's
age: a process whose loop is stuck, or that died, stops touching it. Local disk rather than Redis: the check asks
whether this container's process lives, which Redis cannot say (every worker of a deployment shares its keys, and
process IDs repeat across containers), and a worker riding out a Redis outage is alive, not to be restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path

log = logging.getLogger("oee.heartbeat")

HEARTBEAT_INTERVAL_S = 2.0
# Believed for this long: several missed beats, so a busy loop is not a dead one.
HEARTBEAT_MAX_AGE_S = 15.0


def heartbeat_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "heartbeat"


class Heartbeat:
    """Touches this process's heartbeat file until stopped. A failed write is logged, never raised."""

    def __init__(self, data_dir: Path, role: str) -> None:
        self.path = heartbeat_dir(data_dir) / f"{role}-{os.getpid()}"
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Heartbeat:
        self._task = asyncio.create_task(self._run(), name="heartbeat")
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.path.unlink(missing_ok=True)

    def beat(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()

    async def _run(self) -> None:
        while True:
            try:
                self.beat()
            except OSError as exc:
                log.warning("heartbeat not written to %s: %r", self.path, exc)
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)


def liveness(data_dir: Path, role: str, *, max_age_s: float = HEARTBEAT_MAX_AGE_S, now: float | None = None) -> str:
    """Empty when a live process of ``role`` beat within ``max_age_s``; else what is wrong, in words."""
    now = time.time() if now is None else now
    beats = sorted(heartbeat_dir(data_dir).glob(f"{role}-*"))
    if not beats:
        return f"no {role} heartbeat in {heartbeat_dir(data_dir)}"
    ages = []
    for path in beats:
        pid = path.name.rpartition("-")[2]
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:
            continue  # its process stopped meanwhile
        if pid.isdigit() and _alive(int(pid)) and age <= max_age_s:
            return ""
        ages.append(f"{path.name}: {age:.0f} s old" + ("" if pid.isdigit() and _alive(int(pid)) else ", process gone"))
    return f"no live {role} beat within {max_age_s:g} s ({'; '.join(ages) or 'none left'})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
