"""How long waiting orders wait is its own metric, apart from the queue time of orders that run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.api.test_metrics import scrape, value
from tests.support import EngineProcesses, base_env, eventually, migrated_database

LIMIT = {"type": "limit", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.25", "slippageBps": 100,
         "expiresInS": 600}  # fmt: skip


@pytest.fixture
def own_database(servers: tuple[str, str]) -> Iterator[str]:
    with migrated_database(servers[0], "oee_wait_metrics") as url:
        yield url


async def test_the_wait_of_each_waiting_order_is_counted_by_outcome(own_database: str, redis_url: str) -> None:
    engine = EngineProcesses(base_env(own_database, redis_url, QUEUE_NAME=f"oee:waitm:{uuid.uuid4().hex[:6]}"))
    try:
        engine.start()
        engine.wait_healthy()
        async with engine.client() as client:
            fires = (await client.post("/api/orders/execute", json={**LIMIT, "limitPrice": "0.000001"})).json()
            waits = (await client.post("/api/orders/execute", json={**LIMIT, "limitPrice": "1000000"})).json()
            assert (await client.delete(f"/api/orders/{waits['orderId']}")).status_code == 200

            async def status() -> str:
                return str((await client.get(f"/api/orders/{fires['orderId']}")).json()["status"])

            await eventually(status, lambda s: s == "confirmed")
        _, samples = await eventually(
            lambda: scrape(engine),
            lambda got: value(got[1], "oee_order_stage_seconds_count", stage="submitted_to_confirmed") == 1,
        )
    finally:
        engine.stop()
    count = "oee_order_wait_seconds_count"
    assert value(samples, count, type="limit", outcome="pending") == 1  # fired
    assert value(samples, count, type="limit", outcome="cancelled") == 1
    assert value(samples, count, type="limit", outcome="expired") == 0
    # The fired order's queue time is timed from when it fired; its wait is not in the stage.
    assert value(samples, "oee_order_stage_seconds_count", stage="accepted_to_routing") == 1
