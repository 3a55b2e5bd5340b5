from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT, base_env


def test_demo_runs_orders_to_confirmation(database_url: str, redis_url: str) -> None:
    env = base_env(database_url, redis_url, QUEUE_NAME="oee:demo-test", COLUMNS="160")
    env.pop("OEE_SKIP_MIGRATIONS")
    result = subprocess.run(
        [sys.executable, "-m", "tools.cli", "demo", "--orders", "8", "--fast"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "8 orders: 8 confirmed, 0 failed" in result.stdout
    assert "routes won:" in result.stdout
