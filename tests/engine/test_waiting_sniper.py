"""Sniper orders on the whole stack (API, worker and watcher processes): waiting for a pool, firing once it opens."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import asyncpg
import pytest

from tests.support import ROOT, EngineProcesses, eventually, migrated_database
from tests.waiting_support import Deployment, events, place, rows, status_path


@pytest.fixture(scope="module")
def deployment(servers: tuple[str, str]) -> Iterator[Deployment]:
    with migrated_database(servers[0], prefix="oee_snipe") as url:
        yield Deployment.make(url, servers[1])


@pytest.fixture(scope="module")
def engine(deployment: Deployment) -> Iterator[EngineProcesses]:
    with EngineProcesses.running(deployment.env) as engine:  # an API, a worker and a watcher process
        yield engine


def sniper(**terms: object) -> dict[str, object]:
    return {"type": "sniper", "tokenIn": "USDC", "tokenOut": "NEWT", "amountIn": "10", "slippageBps": 100,
            "expiresInS": 120, **terms}  # fmt: skip


async def test_a_sniper_fires_at_the_first_update_after_its_pool_opens(
    engine: EngineProcesses, conn_pool: asyncpg.Pool
) -> None:
    async with engine.client() as client:
        order_id, capped = await place(client, [sniper(limitPrice="16.6666667"), sniper(limitPrice="100")])
        quote = await client.post("/api/quotes", json={"tokenIn": "USDC", "tokenOut": "NEWT", "amountIn": "10"})
        assert quote.status_code in (422, 503), quote.text  # no pool yet
        launched = await client.post("/api/pools/launch", json={"base": "NEWT", "quote": "USDC", "price": "0.05",
                                                                "opensInS": 2})  # fmt: skip
        assert launched.status_code == 200, launched.text
        opens_at = datetime.fromisoformat(launched.json()["opensAt"]).timestamp()
        again = await client.post("/api/pools/launch", json={"base": "USDC", "quote": "NEWT", "price": "20"})
        assert again.status_code == 409 and again.json()["error"]["code"] == "pool_exists", again.text
        found = await eventually(lambda: rows(conn_pool, [order_id]), lambda r: r[order_id]["status"] == "confirmed",
                                 within=60, describe=lambda r: r[order_id]["status"])  # fmt: skip
        row = found[order_id]
        assert row["triggered_at"].timestamp() >= opens_at  # never before the pool opened
        # 10 USDC at 0.05 USDC per NEWT is about 200 NEWT; 16.6666667 NEWT per USDC asks at least 166.666667.
        assert int(row["trigger_min_out"]) == 166_666_667
        assert int(row["amount_out"]) >= int(row["execute_min_out"]) >= int(row["trigger_min_out"])
        trigger = next(e for e in (await events(conn_pool, [order_id]))[order_id] if e["status"] == "pending")
        assert trigger["created_at"].timestamp() >= opens_at
        # The one capped below the pool's price keeps waiting, and is cancelled.
        assert (await rows(conn_pool, [capped]))[capped]["status"] == "waiting"
        assert (await client.delete(f"/api/orders/{capped}")).json()["status"] == "cancelled"
    path = status_path((await events(conn_pool, [order_id]))[order_id])
    assert path == ["waiting", "pending", "routing", "building", "submitted", "confirmed"]


async def test_oee_pools_launch_makes_a_pair_every_process_quotes(engine: EngineProcesses) -> None:
    command = [sys.executable, "-m", "tools.cli", "pools", "launch", "PUMP", "USDC", "--price", "0.5"]
    done = await asyncio.to_thread(
        subprocess.run, command, env=engine.env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "launched PUMP/USDC" in done.stdout
    async with engine.client() as client:
        r = await client.post("/api/quotes", json={"tokenIn": "USDC", "tokenOut": "PUMP", "amountIn": "10"})
        assert r.status_code == 200, r.text
        # About 20, less fees and impact, give or take the spread between the two DEXes (up to 2.35% each way).
        assert Decimal("19") < Decimal(r.json()["route"]["amountOut"]) < Decimal("20.5")


async def test_a_launch_names_each_bad_field(engine: EngineProcesses) -> None:
    async with engine.client() as client:
        r = await client.post("/api/pools/launch", json={"base": "NEWT", "quote": "NEWT", "price": "-1",
                                                         "opensInS": -5, "colour": 1})  # fmt: skip
        assert r.status_code == 422
        assert {f["field"] for f in r.json()["error"]["fields"]} == {"colour"}
        r = await client.post("/api/pools/launch", json={"base": "NEWT", "quote": "NEWT", "price": "-1",
                                                         "opensInS": -5})  # fmt: skip
        assert {f["field"] for f in r.json()["error"]["fields"]} == {"quote", "price", "opensInS"}
        anonymous = await client.post("/api/pools/launch", json={}, headers={"X-API-Key": ""})
        assert anonymous.status_code == 401


async def test_two_watcher_processes_fire_each_order_once(engine: EngineProcesses, conn_pool: asyncpg.Pool) -> None:
    engine.start_watcher()  # a second one: it stands by for the pairs the first holds
    async with engine.client() as client:
        bodies = [{"type": "limit", "tokenIn": token_in, "tokenOut": "USDC", "amountIn": "1", "limitPrice": "0.01",
                   "expiresInS": 120} for token_in in ("SOL", "JUP", "RAY") for _ in range(20)]  # fmt: skip
        ids = await place(client, bodies)
    found = await eventually(
        lambda: rows(conn_pool, ids),
        lambda r: all(x["status"] == "confirmed" for x in r.values()),
        within=60,
        describe=lambda r: sorted(x["status"] for x in r.values()),
    )
    logs = await events(conn_pool, ids)
    for order_id in found:
        assert status_path(logs[order_id]).count("pending") == 1
