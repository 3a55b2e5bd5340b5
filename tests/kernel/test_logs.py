"""Log lines carry what is bound about the order they belong to, as JSON or as text."""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from kernel.logs import ConsoleFormatter, JsonFormatter, bind, bound
from tests.support import EngineProcesses, base_env, eventually, migrated_database

ORDER = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.5", "slippageBps": 100}


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"oee.test.{id(out)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_json_lines_carry_the_bound_fields_and_drop_them_after() -> None:
    logger, out = capture(JsonFormatter())
    with bound(orderId="o-1", attempt=2):
        bind(signature="5Kx")
        logger.info("sent %s", "tx")
        with bound(dex="raydium"):
            logger.warning("slow")
    logger.info("outside")
    first, second, third = (orjson.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "sent tx" and first["level"] == "info"
    assert (first["orderId"], first["attempt"], first["signature"]) == ("o-1", 2, "5Kx")
    assert second["dex"] == "raydium" and second["orderId"] == "o-1"
    assert "orderId" not in third and "signature" not in third


async def test_concurrent_orders_keep_their_own_fields() -> None:
    logger, out = capture(JsonFormatter())

    async def order(order_id: str) -> None:
        with bound(orderId=order_id):
            await asyncio.sleep(0)
            logger.info("step")

    await asyncio.gather(*(order(f"o-{n}") for n in range(20)))
    ids = sorted(orjson.loads(line)["orderId"] for line in out.getvalue().splitlines())
    assert ids == sorted(f"o-{n}" for n in range(20))


def test_console_lines_end_with_the_fields() -> None:
    logger, out = capture(ConsoleFormatter())
    with bound(orderId="o-9"):
        logger.info("confirmed")
    assert out.getvalue().rstrip().endswith("confirmed orderId=o-9")


@pytest.fixture
def logged_engine(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[EngineProcesses]:
    env = base_env(database_url, redis_url, QUEUE_NAME=f"oee:logs:{uuid.uuid4().hex[:6]}", LOG_FORMAT="json",
                   LOG_LEVEL="INFO", ACCESS_LOG="true")  # fmt: skip
    engine = EngineProcesses(env, log_dir=tmp_path)
    yield engine
    engine.stop()


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line the process wrote; each must be one JSON object."""
    return [orjson.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_a_worker_logs_one_json_line_per_status_change_carrying_the_order(
    logged_engine: EngineProcesses, tmp_path: Path
) -> None:
    engine = logged_engine.start()
    engine.wait_healthy()
    async with engine.client() as client:
        replies = await asyncio.gather(*(client.post("/api/orders/execute", json=ORDER) for _ in range(5)))
        ids = [r.json()["orderId"] for r in replies]

        async def orders() -> list[dict[str, Any]]:
            return [(await client.get(f"/api/orders/{i}")).json() for i in ids]

        done = await eventually(orders, lambda got: all(o["status"] in ("confirmed", "failed") for o in got))
    engine.stop()  # every line written

    worker = json_lines(tmp_path / "worker.log")
    for order in done:
        changes = [line for line in worker if line.get("orderId") == order["orderId"] and "status" in line]
        recorded = [e["status"] for e in order["events"] if e["kind"] == "status" and e["status"] != "pending"]
        assert [line["status"] for line in changes] == recorded  # one line per change, in order
        assert all(line["attempt"] >= 1 for line in changes)
        if order["status"] == "confirmed":
            last = changes[-1]
            assert last["signature"] == order["txHash"] and last["dex"] == order["route"]["dex"]
    # Every other line of an order's run carries its ID too (the routing decision, for one).
    assert {line["orderId"] for line in worker if line["logger"] == "oee.execution"} >= set(ids)

    access = [line for line in json_lines(tmp_path / "api.log") if line["logger"] == "oee.access"]
    submits = [line for line in access if line["method"] == "POST" and line["path"] == "/api/orders/execute"]
    assert [line["status"] for line in submits] == [202] * len(ids)
    assert all(line["durationMs"] >= 0 for line in access)


@pytest.fixture
def watched_engine(servers: tuple[str, str], redis_url: str, tmp_path: Path) -> Iterator[EngineProcesses]:
    """An engine with its own database: no other test's watcher, on the shared one, fires its orders."""
    with migrated_database(servers[0], "oee_logs_waiting") as url:
        env = base_env(url, redis_url, QUEUE_NAME=f"oee:logw:{uuid.uuid4().hex[:6]}", LOG_FORMAT="json",
                       LOG_LEVEL="INFO")  # fmt: skip
        engine = EngineProcesses(env, log_dir=tmp_path)
        yield engine
        engine.stop()


async def test_waiting_orders_log_acceptance_trigger_expiry_and_cancel_as_fields(
    watched_engine: EngineProcesses, tmp_path: Path
) -> None:
    engine = watched_engine.start()
    engine.wait_healthy()
    limit = {**ORDER, "type": "limit", "expiresInS": 600}
    async with engine.client() as client:
        fires = (await client.post("/api/orders/execute", json={**limit, "limitPrice": "0.000001"})).json()["orderId"]
        waits = (await client.post("/api/orders/execute", json={**limit, "limitPrice": "1000000"})).json()["orderId"]
        lapses = await client.post("/api/orders/execute", json={**limit, "limitPrice": "1000000", "expiresInS": 1})
        lapses_id = lapses.json()["orderId"]
        assert (await client.delete(f"/api/orders/{waits}")).json()["status"] == "cancelled"

        async def status(order_id: str) -> str:
            return str((await client.get(f"/api/orders/{order_id}")).json()["status"])

        await eventually(lambda: status(fires), lambda s: s == "confirmed")
        await eventually(lambda: status(lapses_id), lambda s: s == "expired")
    engine.stop()  # every line written

    api = [line for line in json_lines(tmp_path / "api.log") if "orderId" in line]
    accepted = {line["orderId"]: line for line in api if line["logger"] == "oee.intake"}
    assert {accepted[i]["status"] for i in (fires, waits, lapses_id)} == {"waiting"}
    assert accepted[waits]["type"] == "limit" and accepted[waits]["triggerMinOutRaw"] > 0
    assert accepted[waits]["expiresAt"]
    assert [line["status"] for line in api if line["orderId"] == waits and line["logger"] == "oee.api"] == ["cancelled"]
    watcher = [line for line in json_lines(tmp_path / "watcher.log") if "orderId" in line]
    fired = [line for line in watcher if line["orderId"] == fires]
    assert [line["status"] for line in fired] == ["pending"] and fired[0]["trigger"] == "limit"
    assert [line["status"] for line in watcher if line["orderId"] == lapses_id] == ["expired"]
    route = [line for line in json_lines(tmp_path / "worker.log") if "routeKind" in line and line["orderId"] == fires]
    assert len(route) == 1 and route[0]["legs"] >= 1 and route[0]["minAmountOutRaw"] > 0
