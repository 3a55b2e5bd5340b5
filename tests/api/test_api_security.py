"""Security basics of a running API: headers, CORS and WebSocket Origin, offline docs, no wallet in the API."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import websockets
from solders.keypair import Keypair

from engine.runtime import free_port
from kernel.settings import Settings
from tests.api.test_api import ORDER
from tests.support import ROOT, EngineProcesses, base_env
from tools.processes import stop_processes, wait_for_api

ALLOWED = "https://app.example.com"
STRANGER = "https://evil.example"
SECURITY = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


def assert_secured(r: httpx.Response) -> None:
    assert "server" not in r.headers
    for name, value in SECURITY.items():
        assert r.headers[name] == value, name
    assert "content-security-policy" in r.headers


async def test_every_answer_carries_the_security_headers_and_no_server_banner(client: httpx.AsyncClient) -> None:
    answers = [
        await client.post("/api/orders/execute", json=ORDER),  # the fast path
        await client.post("/api/orders/execute", content=b"x", headers={"content-type": "text/plain"}),
        await client.get("/health"),
        await client.get(f"/api/orders/{uuid.uuid4()}"),
        await client.get("/nowhere"),
    ]
    for r in answers:
        assert_secured(r)
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


async def test_docs_work_offline_from_this_origin_only(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert_secured(page)
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "http" not in policy
    assert "<script>" not in page.text  # no inline script: the policy needs no exception
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        r = await client.get(asset)
        assert r.status_code == 200 and r.content, asset


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/orders/execute",
        headers={"origin": STRANGER, "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    r = await client.post("/api/orders/execute", json=ORDER, headers={"origin": STRANGER})
    assert "access-control-allow-origin" not in r.headers


async def test_a_browser_websocket_from_an_unlisted_origin_is_refused(live_engine: EngineProcesses) -> None:
    for path in ("/api/orders/execute", f"/ws/orders/{uuid.uuid4()}"):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(f"{live_engine.ws_url}{path}", origin=STRANGER):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code == 403
    # A client that sends no Origin (not a browser) is served.
    async with live_engine.connect(f"/ws/orders/{uuid.uuid4()}") as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4404


@pytest.fixture(scope="module")
def listed_origin_api(database_url: str, redis_url: str) -> Iterator[EngineProcesses]:
    """An API process (no worker) that lists one browser origin."""
    env = base_env(database_url, redis_url, QUEUE_NAME=f"oee:cors:{uuid.uuid4().hex[:6]}", API_CORS_ORIGINS=ALLOWED)
    with EngineProcesses.api_only(env) as engine:
        yield engine


async def test_a_listed_origin_may_call_the_api_and_open_streams(listed_origin_api: EngineProcesses) -> None:
    async with listed_origin_api.client(timeout=10) as c:
        preflight = await c.options(
            "/api/orders/execute",
            headers={"origin": ALLOWED, "access-control-request-method": "POST",
                     "access-control-request-headers": "content-type,idempotency-key"},
        )  # fmt: skip
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ALLOWED
        accepted = await c.post("/api/orders/execute", json=ORDER, headers={"origin": ALLOWED})
        assert accepted.status_code == 202
        assert accepted.headers["access-control-allow-origin"] == ALLOWED
        assert "access-control-allow-origin" not in (await c.get("/health", headers={"origin": STRANGER})).headers
    order_id = accepted.json()["orderId"]
    async with listed_origin_api.connect(f"/ws/orders/{order_id}", origin=ALLOWED) as ws:
        assert orjson.loads(await ws.recv())["type"] == "snapshot"
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(f"{listed_origin_api.ws_url}/ws/orders/{order_id}", origin=STRANGER):  # type: ignore[arg-type]
            pass


def test_env_example_documents_the_allowed_origins() -> None:
    assert "API_CORS_ORIGINS=" in (ROOT / ".env.example").read_text()
    assert "api_cors_origins" in Settings.model_fields


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def _argv(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def _roles(pid: int) -> dict[str, dict[str, str]]:
    found = {}
    for child in _children(pid):
        argv = _argv(child)
        found[argv[argv.index("tools.cli") + 1]] = _environ(child)
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc")
def test_oee_up_gives_the_signing_key_to_workers_only(database_url: str, redis_url: str) -> None:
    port = free_port()
    key = str(Keypair())
    env = base_env(
        database_url,
        redis_url,
        QUEUE_NAME=f"oee:keys:{uuid.uuid4().hex[:6]}",
        API_PORT=str(port),
        SOLANA_PRIVATE_KEY=key,
    )
    up = subprocess.Popen([sys.executable, "-m", "tools.cli", "up"], env=env, cwd=ROOT)
    try:
        # Healthy means the API answers and a worker beats: both children are running.
        wait_for_api(f"http://127.0.0.1:{port}", [up], healthy=True)
        by_role = _roles(up.pid)
        assert by_role["worker"]["SOLANA_PRIVATE_KEY"] == key
        assert "SOLANA_PRIVATE_KEY" not in by_role["api"]
        assert "SOLANA_KEYPAIR_PATH" not in by_role["api"]
    finally:
        stop_processes([up])
