"""Starting the engine as a stranger does: a setting that can never work stops the start at once, in one line
naming the setting, and ``oee up`` gives up on a child that cannot start instead of restarting it forever."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pyte
import pytest
from ptyprocess import PtyProcess

from tests.support import ROOT
from tools.supervisor import Child, Supervisor

pytestmark = pytest.mark.servers  # runs oee in a terminal, and child processes

# A 64-byte secret key in base58 is about 88 characters; this decodes to 3 bytes.
BAD_KEY = "abc"
COLUMNS = 120
DEADLINE_S = 30  # what a user waits at most for the start to be refused


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No servers named (so nothing of the test session's is used), a data folder of the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "API_", "SOLANA_", "OEE_"))}
    env.update({"OEE_DATA_DIR": str(tmp_path / "data"), "TERM": "xterm", "LOG_LEVEL": "WARNING", **extra})
    return env


def in_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    """Run ``oee ARGV`` on a pseudo-terminal; its exit status and the lines the terminal shows at the end."""
    proc = PtyProcess.spawn([sys.executable, "-m", "tools.cli", *argv], cwd=str(ROOT), env=env,
                            dimensions=(50, COLUMNS))  # fmt: skip
    raw = bytearray()
    deadline = time.monotonic() + DEADLINE_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.fd], [], [], 0.5)
            if ready:
                try:
                    raw += proc.read(65536)
                except EOFError:
                    status = proc.wait()
                    screen = pyte.Screen(COLUMNS, 200)
                    pyte.ByteStream(screen).feed(bytes(raw))
                    return status, [line.rstrip() for line in screen.display if line.strip()]
        raise AssertionError(f"oee {' '.join(argv)} still ran after {DEADLINE_S} s: {bytes(raw[-2000:])!r}")
    finally:
        if proc.isalive():
            proc.terminate(force=True)


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_up_refuses_a_port_in_use_before_anything_starts(tmp_path: Path, taken_port: int) -> None:
    status, lines = in_a_terminal(["up"], clean_env(tmp_path, API_PORT=str(taken_port)))
    assert status == 2
    assert lines == [f"oee: API_PORT: port {taken_port} on 127.0.0.1 is in use by another program; stop it or set "
                     "API_PORT to a free port"]  # fmt: skip
    assert not (tmp_path / "data").exists(), "embedded servers were started for a start that could not succeed"


def test_up_refuses_a_malformed_wallet_key_in_one_line(tmp_path: Path) -> None:
    status, lines = in_a_terminal(["up"], clean_env(tmp_path, SOLANA_PRIVATE_KEY=BAD_KEY))
    assert status == 2
    assert len(lines) == 1 and lines[0].startswith("oee: SOLANA_PRIVATE_KEY: "), lines
    assert BAD_KEY not in lines[0].removeprefix("oee: SOLANA_PRIVATE_KEY: SOLANA_PRIVATE_KEY"), "the key was echoed"


def test_up_refuses_an_unreachable_redis_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    status, lines = in_a_terminal(["up"], clean_env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0"))
    assert status == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"oee: REDIS_URL: redis://127.0.0.1:{port} cannot be reached: "), lines


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://root@127.0.0.1/oee", "names a mysql database"),
        ("sqlite:///oee.db", "names a sqlite database"),
        ("postgresql+psycopg2://postgres@127.0.0.1/oee", "names the psycopg2 driver"),
        ("postgresql://postgres@127.0.0.1:5432/", "names no database"),
        ("127.0.0.1:5432/oee", "is not a URL"),
    ],
)
def test_a_database_url_of_the_wrong_kind_is_refused_never_reinterpreted(tmp_path: Path, url: str, said: str) -> None:
    result = subprocess.run([sys.executable, "-m", "tools.cli", "migrate"], cwd=ROOT, env=clean_env(tmp_path,
                            DATABASE_URL=url), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.splitlines() == [next(line for line in result.stderr.splitlines() if said in line)]
    assert result.stderr.startswith("oee: DATABASE_URL: ") and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_check_says_what_it_found_good(tmp_path: Path, servers: tuple[str, str]) -> None:
    from engine.db.urls import display_url
    from tests.support import migrated_database

    with migrated_database(servers[0], prefix="oee_check") as url:
        env = clean_env(tmp_path, DATABASE_URL=url, REDIS_URL=servers[1])
        result = subprocess.run([sys.executable, "-m", "tools.cli", "check"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"oee check: database: {display_url(url)}" in lines
    assert lines[-1] == "oee check: every setting is good"
    assert not (tmp_path / "data").exists(), "check started embedded servers"


def test_check_lists_every_problem_at_once(tmp_path: Path, taken_port: int) -> None:
    env = clean_env(tmp_path, DATABASE_URL="mysql://root@127.0.0.1/oee", REDIS_URL="http://127.0.0.1:6379",
                    SOLANA_PRIVATE_KEY=BAD_KEY, API_PORT=str(taken_port))  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "tools.cli", "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    named = [line.split(":")[1].strip() for line in result.stderr.splitlines()]
    assert named == ["DATABASE_URL", "REDIS_URL", "SOLANA_PRIVATE_KEY", "API_PORT"], result.stderr


@pytest.mark.parametrize("command", ["keys", "wallet", "up", "api", "worker", "watcher", "migrate", "check", "demo",
                                     "pools", "localnet"])  # fmt: skip
def test_help_needs_no_server_and_says_what_the_command_does(tmp_path: Path, command: str) -> None:
    # A data folder that cannot be made: a command that started an embedded server would fail.
    env = clean_env(tmp_path, OEE_DATA_DIR="/proc/no-such-folder/data")
    result = subprocess.run([sys.executable, "-m", "tools.cli", command, "--help"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    usage, _, rest = result.stdout.partition("\n\n")
    assert usage.startswith("usage: "), result.stdout
    description = rest.split("\n\n")[0]
    assert not description.startswith(("options:", "positional arguments:")), f"oee {command} --help: no description"


# --- the supervisor -------------------------------------------------------------------------------


def test_a_child_that_never_starts_is_given_up_with_its_last_error(capfd: pytest.CaptureFixture[str]) -> None:
    failing = Child("worker-1", ("worker",))
    sound = Child("api", ("api",))
    spawned: list[subprocess.Popen[bytes]] = []

    def spawn(argv: tuple[str, ...]) -> subprocess.Popen[bytes]:
        code = ("import sys; print('starting', file=sys.stderr); sys.exit('cannot bind the wallet: no such file')"
                if argv == ("worker",) else "import time; time.sleep(120)")  # fmt: skip
        proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
        spawned.append(proc)
        return proc

    supervisor = Supervisor(spawn, [sound, failing], min_backoff_s=0.05, max_backoff_s=0.2, poll_s=0.02)
    supervisor.start()
    reason = supervisor.run()
    assert reason is not None
    assert reason.startswith("worker-1 exited with code 1 5 times in a row")
    assert reason.endswith("giving up; its last error: cannot bind the wallet: no such file")
    assert failing.restarts == 4 and sound.restarts == 0
    assert all(p.poll() is not None for p in spawned), "a child outlived the supervisor"
    assert "starting" in capfd.readouterr().err, "the child's standard error was not passed through"


def test_a_child_that_stays_up_between_deaths_is_restarted_without_end() -> None:
    child = Child("worker-1", ("worker",))

    def spawn(argv: tuple[str, ...]) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"], stderr=subprocess.PIPE)

    supervisor = Supervisor(spawn, [child], min_backoff_s=0.01, max_backoff_s=0.01, stable_after_s=0.1,
                            poll_s=0.02, give_up_after=2)  # fmt: skip
    supervisor.start()
    stopper = threading.Thread(target=lambda: (_wait_for(lambda: child.restarts >= 4), supervisor.stop()))
    stopper.start()
    assert supervisor.run() is None
    stopper.join()
    assert child.restarts >= 4


def _wait_for(condition: Callable[[], bool], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_up_with_json_logs_writes_nothing_but_json_lines(tmp_path: Path, database_url: str, redis_url: str) -> None:
    from engine.runtime import free_port
    from tests.support import base_env
    from tools.processes import stop_processes, wait_for_api

    port = free_port()
    env = base_env(database_url, redis_url, API_PORT=str(port), LOG_FORMAT="json", LOG_LEVEL="INFO",
                   OEE_DATA_DIR=str(tmp_path), QUEUE_NAME=f"oee:json-up:{port}")  # fmt: skip
    out = tmp_path / "out.log"
    with out.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "tools.cli", "up"], cwd=ROOT, env=env, stdout=sink,
                                stderr=subprocess.STDOUT)  # fmt: skip
        try:
            wait_for_api(f"http://127.0.0.1:{port}", [proc], healthy=True)
        finally:
            stop_processes([proc])
    lines = [line for line in out.read_text().splitlines() if line.strip()]
    records = []
    for line in lines:
        assert line.startswith("{"), f"not a JSON line: {line!r}"
        records.append(orjson.loads(line))
    started = next(r for r in records if r["message"].startswith("oee up: API on"))
    assert started["apiUrl"] == f"http://127.0.0.1:{port}" and started["workers"] == 1
    ready = next(r for r in records if r["message"].startswith("worker ready"))
    assert ready["dexes"] and ready["settlement"] == "simulated"


async def test_check_asks_the_cluster_and_says_when_it_cannot_be_reached(tmp_path: Path) -> None:
    import asyncio

    from localnet import running_localnet

    key = "[" + ",".join(["7"] * 32) + "]"  # a 32-byte seed: a valid key
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]

    def check(**env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tools.cli", "check"], cwd=ROOT, capture_output=True, text=True,
                              env=clean_env(tmp_path, SOLANA_NETWORK="localnet", SOLANA_PRIVATE_KEY=key,
                                            API_PORT=str(closed), **env), timeout=60)  # fmt: skip

    async with running_localnet() as chain:
        answered = await asyncio.to_thread(check, SOLANA_RPC_URL=chain.url)
    assert answered.returncode == 0, answered.stderr
    assert "oee check: network: localnet" in answered.stdout
    gone = await asyncio.to_thread(check, SOLANA_RPC_URL=f"http://127.0.0.1:{closed}")
    assert gone.returncode == 2
    assert gone.stderr.splitlines() == [
        f"oee: SOLANA_RPC_URL: http://127.0.0.1:{closed} cannot be reached: connection refused (nothing listens there)"
    ]
    wrong = await asyncio.to_thread(check, SOLANA_RPC_URL="ws://127.0.0.1:8900")
    assert wrong.stderr.splitlines() == [
        "oee: SOLANA_RPC_URL: 'ws://127.0.0.1:8900' is not an http:// or https:// URL of a Solana JSON-RPC node"
    ]
