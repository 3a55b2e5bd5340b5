"""``oee up``'s children: started together, each restarted with back-off when it dies, stopped together.

One child that dies never takes the others down: the API keeps accepting orders while a worker
restarts (they wait in the queue), and workers keep executing while the API restarts. A child that
keeps dying is restarted ever more slowly (doubling up to ``max_backoff_s``); one that stayed up for
``stable_after_s`` starts again from the shortest delay. A child that fails ``give_up_after`` starts in a
row, each dying before it was stable, can never start as set up: the supervisor stops every child and
:meth:`Supervisor.run` returns why, in one line, with the last line the child wrote to its standard error.
SIGTERM or SIGINT stops every child (workers hand their running jobs back) and then returns, so the caller
can stop what it started.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

import orjson

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
    failed_starts: int = 0  # in a row, each dead before it was stable
    last_error: str = ""  # the last line it wrote to its standard error
    relay: threading.Thread | None = None


@dataclass
class Supervisor:
    """Keeps ``children`` running until asked to stop."""

    spawn: Spawn
    children: list[Child]
    min_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    stable_after_s: float = 30.0
    poll_s: float = 0.2
    give_up_after: int = 5
    clock: Callable[[], float] = time.monotonic
    stopping: bool = field(default=False, init=False)
    gave_up: str | None = field(default=None, init=False)

    def start(self) -> None:
        for child in self.children:
            self._launch(child)

    def stop(self, signum: int = 0, frame: object = None) -> None:
        """Ask :meth:`run` to return (a signal handler)."""
        self.stopping = True

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGTERM, self.stop)

    def run(self) -> str | None:
        """Supervise until :meth:`stop` or until a child cannot start; then stop every child. Returns why it
        gave up, or None when asked to stop."""
        try:
            while not self.stopping:
                self.tick()
                time.sleep(self.poll_s)
        finally:
            stop_processes([c.proc for c in self.children if c.proc is not None])
        return self.gave_up

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
                child.failed_starts = 0
            child.failed_starts += 1
            if child.failed_starts >= self.give_up_after:
                if child.relay is not None:
                    child.relay.join(timeout=2)  # its last words may still be in the pipe
                said = f"; its last error: {child.last_error}" if child.last_error else ""
                self.gave_up = (f"{child.name} exited with code {code} {child.failed_starts} times in a row, each "
                                f"within {self.stable_after_s:g} s of starting; giving up{said}")  # fmt: skip
                self.stopping = True
                return
            child.backoff_s = min(self.max_backoff_s, max(self.min_backoff_s, child.backoff_s * 2))
            child.restart_at = now + child.backoff_s
            log.warning("%s exited with code %s; restarting it in %.1f s", child.name, code, child.backoff_s)

    def _launch(self, child: Child) -> None:
        if child.proc is not None:
            child.restarts += 1
        child.proc = self.spawn(child.argv)
        child.started_at = self.clock()
        child.restart_at = None
        if child.proc.stderr is not None:
            child.relay = threading.Thread(target=_relay, args=(child, child.proc.stderr), daemon=True)
            child.relay.start()


def _relay(child: Child, stream: IO[bytes]) -> None:
    """Pass a child's standard error through as it comes, noting its last line."""
    out = sys.stderr.buffer
    for line in iter(stream.readline, b""):
        out.write(line)
        out.flush()
        text = _said(line.decode(errors="replace").strip())
        if text:
            child.last_error = text[:500]
    stream.close()


def _said(line: str) -> str:
    """A line of standard error as one line for a reader: a JSON log line's message and the last line of its
    exception; any other line as it is."""
    if not line.startswith("{"):
        return line
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line
    if not isinstance(record, dict):
        return line
    message = str(record.get("message", line))
    exception = str(record.get("exception") or "").strip().splitlines()
    return f"{message} ({exception[-1]})" if exception else message
