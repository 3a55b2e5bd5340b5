"""``/metrics`` over real processes (two API processes, two workers) agrees with what PostgreSQL recorded."""

from __future__ import annotations

import asyncio
import importlib
import json
import platform
import re
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from engine import __version__
from engine.auth.keys import key_id_of
from engine.db.urls import asyncpg_dsn
from tests.support import ROOT, EngineProcesses, base_env, create_api_key, eventually, migrated_database

ORDER = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.25", "slippageBps": 100}
ORDERS = 40

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def scrape(engine: EngineProcesses) -> tuple[str, Samples]:
    async with httpx.AsyncClient(base_url=engine.base_url, timeout=10) as anonymous:  # no API key
        reply = await anonymous.get("/metrics")
    assert reply.status_code == 200, reply.text
    return reply.text, parse(reply.text)


@pytest.fixture
def own_database(servers: tuple[str, str]) -> Iterator[str]:
    # Its own database: no other test's unfinished orders for these workers' recovery sweep to take on.
    with migrated_database(servers[0], "oee_metrics") as url:
        yield url


async def test_metrics_agree_with_the_orders_recorded(own_database: str, redis_url: str) -> None:
    # Quotes fail now and then, so some attempts retry and some venues are counted as erring.
    env = base_env(own_database, redis_url, QUEUE_NAME=f"oee:metrics:{uuid.uuid4().hex[:6]}", API_PROCESSES="2",
                   SIMULATED_FAILURE_RATE="0.3")  # fmt: skip
    engine = EngineProcesses(env)
    try:
        engine.start()
        engine.start_worker()
        engine.wait_healthy()
        async with engine.client() as client:
            replies = await asyncio.gather(*(client.post("/api/orders/execute", json=ORDER) for _ in range(ORDERS)))
        ids = [r.json()["orderId"] for r in replies]
        assert all(r.status_code == 202 for r in replies)

        async def finished() -> int:
            conn = await asyncpg.connect(asyncpg_dsn(own_database))
            try:
                return int(await conn.fetchval("SELECT count(*) FROM orders WHERE status IN ('confirmed', 'failed')"))
            finally:
                await conn.close()

        await eventually(finished, lambda n: n == ORDERS)
        conn = await asyncpg.connect(asyncpg_dsn(own_database))
        try:
            statuses = Counter(r["status"] for r in await conn.fetch("SELECT status FROM orders"))
            events = await conn.fetch("SELECT order_id, status, kind FROM order_events")
            quotes = await conn.fetch("SELECT dex, error FROM quotes")
        finally:
            await conn.close()
        status_events = Counter(e["status"] for e in events if e["kind"] == "status")
        reached = {s: len({e["order_id"] for e in events if e["status"] == s}) for s in ("routing", "submitted")}

        # The last steps are counted as they commit, just after the orders read as finished.
        text, samples = await eventually(
            lambda: scrape(engine),
            lambda got: (
                total(got[1], "oee_order_transitions_total", status="confirmed") == statuses["confirmed"]
                and total(got[1], "oee_order_transitions_total", status="failed") == statuses["failed"]
            ),
        )
    finally:
        engine.stop()

    assert statuses["confirmed"] > 0
    for status, n in status_events.items():
        assert value(samples, "oee_order_transitions_total", type="market", status=status) == n, status
    stage_count = "oee_order_stage_seconds_count"
    assert value(samples, stage_count, stage="accepted_to_routing") == reached["routing"] == ORDERS
    assert value(samples, stage_count, stage="routing_to_submitted") == reached["submitted"]
    assert value(samples, stage_count, stage="submitted_to_confirmed") == statuses["confirmed"]
    assert total(samples, "oee_order_retries_total") == sum(1 for e in events if e["kind"] == "retrying")
    for dex in ("raydium", "meteora"):
        asked = [q for q in quotes if q["dex"] == dex]
        errors = Counter(q["error"].split(":")[0] for q in asked if q["error"])
        assert value(samples, "oee_quote_seconds_count", dex=dex) == len(asked)
        for code, n in errors.items():
            assert value(samples, "oee_quote_errors_total", dex=dex, code=code) == n
    assert total(samples, "oee_quote_errors_total") > 0  # the failure rate did show
    assert value(samples, "oee_queue_depth", state="ready") == 0
    assert total(samples, "oee_orders_unfinished") == 0
    # Nothing that names an order or a key.
    assert not any(i in text for i in ids) and engine.api_key not in text


async def test_live_gauges_count_streams_and_the_queue(own_database: str, redis_url: str) -> None:
    env = base_env(own_database, redis_url, QUEUE_NAME=f"oee:metrics:{uuid.uuid4().hex[:6]}")
    with EngineProcesses.api_only(env) as engine:  # no worker: the order waits, pending, in the queue
        async with engine.client() as client:
            order_id = (await client.post("/api/orders/execute", json=ORDER)).json()["orderId"]
        _, samples = await scrape(engine)
        assert value(samples, "oee_orders_unfinished", type="market", status="pending") == 1
        assert value(samples, "oee_queue_depth", state="ready") == 1
        assert value(samples, "oee_order_transitions_total", type="market", status="pending") == 1

        async def subscribers() -> float:
            return value((await scrape(engine))[1], "oee_ws_subscribers")

        sockets = [await engine.connect(f"/ws/orders/{order_id}", open_timeout=30) for _ in range(3)]
        await eventually(subscribers, lambda n: n == 3)
        for ws in sockets:
            await ws.close()
        await eventually(subscribers, lambda n: n == 0)


def test_the_cli_chooses_the_metrics_directory_before_anything_imports_prometheus_client() -> None:
    # prometheus-client picks its value store once, when first imported: ``oee`` must set the directory first.
    probe = "import sys, tools.cli; print('prometheus_client' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_dashboard_reads_only_metrics_the_engine_exports() -> None:
    for module in ("engine.metrics", "engine.api.metrics", "adapters.solana.rpc", "adapters.settlement.funding"):
        importlib.import_module(module)  # each defines the metrics it counts

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    exported = {f.name + s for f in REGISTRY.collect() for s in suffixes.get(f.type, ())}
    exported |= {"oee_orders_unfinished", "oee_queue_depth"}  # read from the stores at scrape time
    dashboard = json.loads((ROOT / "docs" / "grafana" / "oee-dashboard.json").read_text())
    used = {name for p in dashboard["panels"] for t in p["targets"] for name in re.findall(r"\boee_\w+", t["expr"])}
    assert used and used <= exported, used - exported


async def test_http_requests_are_counted_by_route_template_and_status(own_database: str, redis_url: str) -> None:
    env = base_env(own_database, redis_url, QUEUE_NAME=f"oee:metrics:{uuid.uuid4().hex[:6]}")
    unknown = str(uuid.uuid4())
    with EngineProcesses.api_only(env) as engine:
        async with engine.client() as client:
            assert (await client.post("/api/orders/execute", json=ORDER)).status_code == 202  # the fast path
            assert (await client.get(f"/api/orders/{unknown}")).status_code == 404
            assert (await client.get(f"/api/orders/{uuid.uuid4()}")).status_code == 404
            assert (await client.get("/no/such/page")).status_code == 404
            assert (await client.get("/api/orders/recent")).status_code == 200
        # A key allowed one request, then 429s.
        secret = create_api_key(own_database, name="limited", rate_per_s=0.001, burst=1)
        key_id = key_id_of(secret)
        assert key_id is not None
        async with httpx.AsyncClient(base_url=engine.base_url, headers={"X-API-Key": secret}, timeout=10) as limited:
            codes = [(await limited.get("/api/orders/recent")).status_code for _ in range(3)]
        assert codes == [200, 429, 429]
        text, samples = await scrape(engine)

    requests = "oee_http_requests_total"
    assert value(samples, requests, method="POST", route="/api/orders/execute", status="202") == 1
    assert value(samples, requests, method="GET", route="/api/orders/{orderId}", status="404") == 2
    assert value(samples, requests, method="GET", route="unmatched", status="404") == 1
    assert value(samples, requests, method="GET", route="/api/orders/recent", status="200") == 2
    assert value(samples, requests, method="GET", route="/api/orders/recent", status="429") == 2
    assert value(samples, "oee_http_request_seconds_count", method="GET", route="/api/orders/{orderId}",
                 status="404") == 2  # fmt: skip
    assert value(samples, "oee_rate_limited_total", key_id=key_id) == 2
    # Route templates only: no raw path, no order ID, no secret.
    routes = {dict(labels).get("route") for (name, labels) in samples if name == requests}
    assert all(r is not None and (r == "unmatched" or r.startswith("/")) for r in routes)
    assert unknown not in text and "/no/such/page" not in text and secret not in text and engine.api_key not in text

    build = [dict(labels) for (name, labels), v in samples.items() if name == "oee_build_info" and v == 1]
    assert len(build) == 1, build
    assert build[0]["version"] == __version__
    assert build[0]["python"] == platform.python_version()
    assert build[0]["commit"]  # the git commit, or "unknown" outside a checkout


async def test_a_worker_writing_to_a_sub_folder_is_counted(own_database: str, redis_url: str, tmp_path: Path) -> None:
    # As in docker-compose.yml: the API writes to the shared volume, each worker container to a folder of its own
    # in it (process IDs repeat across containers, and prometheus-client names its files by process ID).
    env = base_env(own_database, redis_url, QUEUE_NAME=f"oee:metrics:{uuid.uuid4().hex[:6]}",
                   PROMETHEUS_MULTIPROC_DIR=str(tmp_path))  # fmt: skip
    worker_dir = tmp_path / "worker-container"
    worker_dir.mkdir()
    engine = EngineProcesses(env)
    try:
        engine.start_api()
        engine.start_worker(PROMETHEUS_MULTIPROC_DIR=str(worker_dir))
        engine.wait_healthy()
        async with engine.client() as client:
            assert (await client.post("/api/orders/execute", json=ORDER)).status_code == 202
        _, samples = await eventually(
            lambda: scrape(engine),
            lambda got: total(got[1], "oee_order_transitions_total", status="confirmed") == 1,
        )
    finally:
        engine.stop()
    assert list(worker_dir.glob("counter_*.db")), "the worker wrote no samples of its own"
    assert value(samples, "oee_order_stage_seconds_count", stage="submitted_to_confirmed") == 1
