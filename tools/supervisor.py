"""``oee up``'s children: started together, each restarted with back-off when it dies, stopped together.

One child that dies never takes the others down: the API keeps accepting orders while a worker
restarts (they wait in the queue), and workers keep executing while the API restarts. A child that
keeps dying is restarted ever more slowly (doubling up to ``max_backoff_s``); one that stayed up for
``stable_after_s`` starts again from the shortest delay. SIGTERM or SIGINT stops every child (workers
hand their running jobs back) and then returns, so the caller can stop what it started.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tools.processes import stop_processes

log = logging.getLogger("oee.up")

Spawn = Callable[[Sequence[str]], subprocess.Popen[bytes]]


@dataclass
class Child:
    """One supervised process: its name, its ``oee`` arguments, and its restart state."""

    name: str
    argv: tuple[str, ...]
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff_s: float = 0.0
    restart_at: float | None = None


@dataclass
class Supervisor:
    """Keeps ``children`` running until asked to stop."""

    spawn: Spawn
    children: list[Child]
    min_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    stable_after_s: float = 30.0
    poll_s: float = 0.2
    clock: Callable[[], float] = time.monotonic
    stopping: bool = field(default=False, init=False)

    def start(self) -> None:
        for child in self.children:
            self._launch(child)

    def stop(self, signum: int = 0, frame: object = None) -> None:
        """Ask :meth:`run` to return (a signal handler)."""
        self.stopping = True

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGTERM, self.stop)

    def run(self) -> None:
        """Supervise until :meth:`stop`; then stop every child."""
        try:
            while not self.stopping:
                self.tick()
                time.sleep(self.poll_s)
        finally:
            stop_processes([c.proc for c in self.children if c.proc is not None])

    def tick(self) -> None:
        """One look at every child: note the dead, restart those whose back-off has passed."""
        now = self.clock()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at and not self.stopping:
                    self._launch(child)
                continue
            if child.proc is None or child.proc.poll() is None:
                continue
            code = child.proc.returncode
            if now - child.started_at >= self.stable_after_s:
                child.backoff_s = 0.0
            child.backoff_s = min(self.max_backoff_s, max(self.min_backoff_s, child.backoff_s * 2))
            child.restart_at = now + child.backoff_s
            log.warning("%s exited with code %s; restarting it in %.1f s", child.name, code, child.backoff_s)

    def _launch(self, child: Child) -> None:
        if child.proc is not None:
            child.restarts += 1
        child.proc = self.spawn(child.argv)
        child.started_at = self.clock()
        child.restart_at = None
