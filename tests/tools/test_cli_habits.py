"""The command line's small habits: a version, and a bad setting told in one line per variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from engine import __version__
from tests.support import ROOT

pytestmark = pytest.mark.servers  # runs oee


def oee(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "tools.cli", *argv], env={**clean, **env}, cwd=ROOT,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_version() -> None:
    result = oee("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"oee {__version__}"


def test_a_bad_setting_is_one_line_naming_the_variable_and_what_it_accepts() -> None:
    result = oee("migrate", SOLANA_NETWORK="bogus", WORKER_CONCURRENCY="0", OEE_DATA_DIR="/nonexistent/never-used")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert len(lines) == 2, lines
    network = next(line for line in lines if "SOLANA_NETWORK" in line)
    assert "'simulated', 'localnet', 'devnet' or 'mainnet-beta'" in network and "bogus" in network
    assert any(line.startswith("oee: WORKER_CONCURRENCY: ") and "greater than or equal to 1" in line for line in lines)
