"""The Postman collection, run with newman against a live API (with a worker) started by ``live_api``.

newman is a Node dev dependency pinned in package.json/package-lock.json. A fresh clone has no
node_modules: the test runs ``npm ci`` first. Without Node and npm at all, the run is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import EngineProcesses

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "postman" / "order-execution-engine.postman_collection.json"
NEWMAN = ROOT / "node_modules" / ".bin" / ("newman.cmd" if os.name == "nt" else "newman")
NEWMAN_TIMEOUT_S = 300
NPM_CI_TIMEOUT_S = 600

EXPECTED_REQUESTS = [
    ("GET", "{{baseUrl}}/health"),
    ("GET", "{{baseUrl}}/api/orders/recent?limit=5"),
    ("POST", "{{baseUrl}}/api/orders/execute"),
    ("POST", "{{baseUrl}}/api/orders/execute"),
    ("POST", "{{baseUrl}}/api/orders/execute"),
    ("GET", "{{baseUrl}}/api/orders/{{orderId}}"),
    ("GET", "{{baseUrl}}/api/orders/active"),
    ("GET", "{{baseUrl}}/api/orders/recent?limit=5"),
    ("GET", "{{baseUrl}}/api/orders/recent?limit=5&status=confirmed"),
    ("GET", "{{baseUrl}}/api/orders/00000000-0000-0000-0000-000000000000"),
    ("POST", "{{baseUrl}}/api/orders/execute"),
    ("POST", "{{baseUrl}}/api/quotes"),
    ("POST", "{{baseUrl}}/api/orders/execute"),
    ("GET", "{{baseUrl}}/api/orders/{{hopOrderId}}"),
    *[("POST", "{{baseUrl}}/api/orders/execute")] * 8,
    ("POST", "{{baseUrl}}/api/orders/execute"),
    ("GET", "{{baseUrl}}/api/orders/{{waitingId}}"),
    ("DELETE", "{{baseUrl}}/api/orders/{{waitingId}}"),
    ("DELETE", "{{baseUrl}}/api/orders/{{orderId}}"),
    ("POST", "{{baseUrl}}/api/orders/execute"),
    ("POST", "{{baseUrl}}/api/orders/execute"),
    ("POST", "{{baseUrl}}/api/pools/launch"),
    ("GET", "{{baseUrl}}/api/orders/{{sniperId}}"),
    ("POST", "{{baseUrl}}/api/orders/execute"),
    ("DELETE", "{{baseUrl}}/api/orders/{{ocoId}}"),
    ("POST", "{{baseUrl}}/api/orders/execute"),
    ("GET", "{{baseUrl}}/api/orders/{{stopId}}"),
    ("POST", "{{baseUrl}}/api/orders/execute"),
    ("GET", "{{baseUrl}}/api/orders/{{dcaId}}"),
    ("GET", "{{baseUrl}}/docs"),
    ("GET", "{{baseUrl}}/openapi.json"),
]


def _requests(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The collection's requests in run order (folders flattened)."""
    out: list[dict[str, Any]] = []
    for item in items:
        if "item" in item:
            out.extend(_requests(item["item"]))
        else:
            out.append(item)
    return out


def _output(result: subprocess.CompletedProcess[str] | subprocess.TimeoutExpired) -> str:
    def text(value: str | bytes | None) -> str:
        if value is None:
            return ""
        return value.decode(errors="replace") if isinstance(value, bytes) else value

    return f"--- stdout ---\n{text(result.stdout)}\n--- stderr ---\n{text(result.stderr)}"


def _newman() -> Path:
    """The local newman, installed with ``npm ci`` when node_modules is missing; skip without Node/npm."""
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: newman (the Postman collection runner) needs node and npm")
    if NEWMAN.exists():
        return NEWMAN
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: it is needed to install newman from package-lock.json (npm ci)")
    try:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"npm ci did not finish within {NPM_CI_TIMEOUT_S} s\n{_output(exc)}")
    if result.returncode != 0 or not NEWMAN.exists():
        pytest.fail(f"npm ci failed to install newman (exit {result.returncode})\n{_output(result)}")
    return NEWMAN


def test_collection_structure() -> None:
    """Cheap checks without a server: v2.1 format, baseUrl variable, order, a test script on every request."""
    collection = json.loads(COLLECTION.read_text())
    assert collection["info"]["schema"] == "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    variables = {v["key"]: v.get("value") for v in collection["variable"]}
    assert variables["baseUrl"] == "http://127.0.0.1:8000"
    assert variables["apiKey"] == "", "the collection ships no key"
    auth = {entry["key"]: entry["value"] for entry in collection["auth"]["apikey"]}
    assert auth == {"key": "X-API-Key", "value": "{{apiKey}}", "in": "header"}

    requests = _requests(collection["item"])
    assert [(r["request"]["method"], r["request"]["url"]["raw"]) for r in requests] == EXPECTED_REQUESTS
    names = [r["name"] for r in requests]
    assert len(names) == len(set(names)), "request names must be unique (setNextRequest uses them)"
    for item in requests:
        tests = [e for e in item.get("event", []) if e["listen"] == "test"]
        assert tests, f"{item['name']} has no test script"
        source = "\n".join(tests[0]["script"]["exec"])
        assert "pm.test(" in source and ("pm.expect(" in source or "pm.response.to" in source), item["name"]


def test_postman_collection_passes(live_engine: EngineProcesses) -> None:
    newman = _newman()
    live_api = live_engine.base_url
    command = [
        str(newman),
        "run",
        str(COLLECTION.relative_to(ROOT)),
        # An environment variable outranks the collection's own baseUrl default.
        "--env-var",
        f"baseUrl={live_api.rstrip('/')}",
        "--env-var",
        f"apiKey={live_engine.api_key}",
        "--reporters",
        "cli",
        "--bail",
        "--color",
        "off",
        "--timeout-request",
        "30000",
    ]
    env = {**os.environ, "NO_COLOR": "1"}
    try:
        result = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=NEWMAN_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        output = _output(exc)
        print(output)
        pytest.fail(f"newman did not finish within {NEWMAN_TIMEOUT_S} s\n{output}")
    if result.returncode != 0:
        print(_output(result))
    assert result.returncode == 0, f"newman failed (exit {result.returncode}):\n{_output(result)}"
