"""DCA orders through the whole engine: the amount placed as market orders one interval apart, each executed
by a worker like any other; a cancel stops the rest; a band pauses the schedule while the price is outside."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.support import EngineProcesses, eventually, migrated_database
from tests.waiting_support import BASE_USD, Deployment, feed_of, place

DCA = {"type": "dca", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1", "slippageBps": 100,
       "children": 10, "intervalS": 1}  # fmt: skip
FINAL = ("confirmed", "failed", "cancelled", "expired")


@pytest.fixture(scope="module")
def deployment(servers: tuple[str, str]) -> Iterator[Deployment]:
    with migrated_database(servers[0], prefix="oee_dca") as url:
        yield Deployment.make(url, servers[1])


@pytest.fixture(scope="module")
def engine(deployment: Deployment) -> Iterator[EngineProcesses]:
    with EngineProcesses.running(deployment.env) as engine:  # its watcher runs the DCA schedules
        yield engine


@pytest.fixture(autouse=True)
async def steady_market(deployment: Deployment, redis: aioredis.Redis) -> None:
    await feed_of(deployment.settings, redis).set_prices(BASE_USD, steady=True)  # SOL at 100 USDC


async def children(pool: asyncpg.Pool, parent: str) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT * FROM orders WHERE parent_id = $1 ORDER BY created_at", parent))


async def test_a_dca_places_its_children_an_interval_apart_and_each_executes(
    engine: EngineProcesses, conn_pool: asyncpg.Pool
) -> None:
    async with engine.client() as client:
        [parent] = await place(client, [DCA])
        accepted = (await client.get(f"/api/orders/{parent}")).json()
        assert (accepted["status"], accepted["children"], accepted["intervalS"]) == ("waiting", 10, 1)

        async def doc() -> dict[str, object]:
            return dict((await client.get(f"/api/orders/{parent}")).json())

        done = await eventually(doc, lambda d: d["status"] == "confirmed", within=60,
                                describe=lambda d: (d["status"], d["childrenPlaced"]))  # fmt: skip
        assert done["childrenPlaced"] == 10
        kids = await eventually(lambda: children(conn_pool, parent), lambda k: all(c["status"] in FINAL for c in k))
        done = await doc()  # the schedule ended with its last child placed; now every child is final too
    assert [c["status"] for c in kids] == ["confirmed"] * 10
    assert sum(int(c["amount_in"]) for c in kids) == 10**9  # the whole amount, no unit lost or doubled
    assert {c["order_type"] for c in kids} == {"market"}
    created = (await conn_pool.fetchrow("SELECT created_at FROM orders WHERE id = $1", parent))["created_at"]
    for k, child in enumerate(kids):
        # Never early: child k is due k intervals after acceptance, by PostgreSQL's clock, and placed then.
        assert child["created_at"] >= created + timedelta(seconds=k), k
    for earlier, later in itertools.pairwise(kids):  # placed in their order, each after the one before
        assert later["created_at"] > earlier["created_at"]
    paid = sum(int(c["amount_out"]) for c in kids)
    assert Decimal(str(done["childrenAmountOut"])) == Decimal(paid) / 10**6
    assert [c["orderId"] for c in done["childOrders"]] == [str(c["id"]) for c in kids]  # type: ignore[union-attr]


async def test_a_cancel_after_four_children_stops_the_other_six(
    engine: EngineProcesses, conn_pool: asyncpg.Pool
) -> None:
    async with engine.client() as client:
        [parent] = await place(client, [{**DCA, "intervalS": 2}])  # the cancel has two seconds to land

        async def placed() -> int:
            return int((await client.get(f"/api/orders/{parent}")).json()["childrenPlaced"])

        await eventually(placed, lambda n: n >= 4, within=30, interval=0.02)
        cancelled = (await client.delete(f"/api/orders/{parent}")).json()
        assert cancelled["status"] == "cancelled"
        at_cancel = int(cancelled["childrenPlaced"])
        assert at_cancel == 4, "the fifth child was due two seconds after the fourth"
        # What did not happen cannot be polled for: wait out two more intervals, then count.
        await asyncio.sleep(4.5)
        kids = await eventually(lambda: children(conn_pool, parent), lambda k: all(c["status"] in FINAL for c in k))
    assert len(kids) == at_cancel
    assert [c["status"] for c in kids] == ["confirmed"] * at_cancel


async def test_a_band_holds_the_schedule_until_the_price_is_inside(
    deployment: Deployment, engine: EngineProcesses, conn_pool: asyncpg.Pool, redis: aioredis.Redis
) -> None:
    async with engine.client() as client:
        [parent] = await place(client, [{**DCA, "children": 2, "bandMin": "120"}])  # SOL is at 100
        await asyncio.sleep(1.5)  # a child is due at once and one a second later: outside the band, neither
        assert await children(conn_pool, parent) == [], "a child was placed below its band"
        await feed_of(deployment.settings, redis).set_prices({**BASE_USD, "SOL": Decimal(130)}, steady=True)
        kids = await eventually(lambda: children(conn_pool, parent), lambda k: len(k) == 2, within=30)
        assert (await client.get(f"/api/orders/{parent}")).json()["status"] == "confirmed"
    assert all(int(c["amount_in"]) == 5 * 10**8 for c in kids)


def test_a_dca_is_refused_without_its_schedule_or_with_an_expiry() -> None:
    import json

    from engine.api.orders import read_spec
    from engine.api.validation import parse_body
    from kernel.errors import InvalidRequest
    from kernel.settings import Network
    from kernel.tokens import TokenRegistry

    tokens = TokenRegistry.for_network(Network.SIMULATED)

    def refused(**body: object) -> dict[str, str]:
        with pytest.raises(InvalidRequest) as exc:
            read_spec(parse_body(json.dumps({**DCA, **body}).encode()), tokens, 50)
        return {i.field: i.reason for i in exc.value.fields}

    assert refused(children=None) == {"children": "is required for dca orders"}
    assert refused(intervalS=0) == {"intervalS": "must be a whole number of seconds from 1 to 604800"}
    assert refused(expiresInS=60) == {"expiresInS": "is not a field of dca orders (a DCA ends with its last child)"}
    assert refused(bandMin="150", bandMax="120") == {"bandMax": "must be above bandMin"}
    assert refused(amountIn="0.000000005", children=10) == {
        "children": "leaves a child less than one raw unit of tokenIn; at most 5"
    }
