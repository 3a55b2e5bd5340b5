"""Quotes without orders, and pairs no venue trades refused at submission, against running APIs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import orjson
import pytest

from engine.api.schemas import QuoteAnswer
from tests.api.test_api import ORDER
from tests.api.test_api_input import error_of, fields_of
from tests.support import EngineProcesses, base_env

QUOTE = {k: v for k, v in ORDER.items() if k != "type"}
SOL_USDC_POOL = "7JuwJuNU88gurFnyWeiyGKbFmExMWcmRZntn9imEzdny"
SOL = "So11111111111111111111111111111111111111112"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


async def test_a_quote_shows_every_venue_and_the_best_route_and_places_nothing(client: httpx.AsyncClient) -> None:
    before = (await client.get("/api/orders/recent", params={"limit": 3})).json()
    r = await client.post("/api/quotes", json={**QUOTE, "slippageBps": 100})
    assert r.status_code == 200, r.text
    answer = QuoteAnswer.model_validate(r.json())
    assert {q.dex for q in answer.quotes} == {"raydium", "meteora"}
    assert all(q.error is None and q.amountOut for q in answer.quotes)
    best = max(answer.quotes, key=lambda q: Decimal(q.amountOut or 0))
    assert answer.route.dex == best.dex and answer.route.amountOut == best.amountOut
    raw_best = int(Decimal(best.amountOut or 0).scaleb(6))
    assert Decimal(answer.minAmountOut).scaleb(6) == raw_best * (10_000 - 100) // 10_000
    assert answer.route.minAmountOut == answer.minAmountOut
    assert answer.amountIn == "1.5" and answer.tokenOut.symbol == "USDC"
    for q in answer.quotes:  # fees are amounts like the others: in their token's units, never raw
        decimals = {SOL: 9, USDC: 6}[q.feeMint or ""]
        fee = Decimal(q.fee or "")
        assert 0 < fee < (Decimal("1.5") if q.feeMint == SOL else Decimal(best.amountOut or 0))
        assert fee == fee.quantize(Decimal(1).scaleb(-decimals))
    after = (await client.get("/api/orders/recent", params={"limit": 3})).json()
    assert after == before


async def test_a_quote_applies_the_submission_rules(client: httpx.AsyncClient) -> None:
    assert "amountIn" in fields_of(await client.post("/api/quotes", json={**QUOTE, "amountIn": "1E+999990"}))
    assert "type" in fields_of(await client.post("/api/quotes", json=ORDER))  # a quote has no order type
    assert error_of(await client.post("/api/quotes", content=orjson.dumps(QUOTE)), 415)
    assert error_of(await client.get("/api/quotes"), 405)


@pytest.fixture(scope="module")
def one_pool_api(database_url: str, redis_url: str) -> Iterator[EngineProcesses]:
    """An API process routing on chain with one configured pool, SOL/USDC on Raydium (it needs no RPC to refuse)."""
    pools = {"pools": [{"dex": "raydium", "address": SOL_USDC_POOL, "mints": [SOL, USDC]}]}
    env = base_env(
        database_url, redis_url, QUEUE_NAME=f"oee:pairs:{uuid.uuid4().hex[:6]}", SOLANA_NETWORK="localnet",
        ROUTING="onchain", ENABLED_DEXES="raydium", POOLS_JSON=orjson.dumps(pools).decode(),
    )  # fmt: skip
    with EngineProcesses.api_only(env) as engine:
        yield engine


async def test_a_pair_no_venue_trades_is_refused_at_submission(one_pool_api: EngineProcesses) -> None:
    async with one_pool_api.client(timeout=10) as c:
        before = (await c.get("/api/orders/recent", params={"limit": 3})).json()
        r = await c.post("/api/orders/execute", json={**ORDER, "tokenOut": "BONK"})
        assert error_of(r, 422)["code"] == "unsupported_pair"
        assert "tokenOut" in fields_of(r)
        assert error_of(await c.post("/api/quotes", json={**QUOTE, "tokenIn": "USDT"}), 422)["code"] == (
            "unsupported_pair"
        )
        assert (await c.get("/api/orders/recent", params={"limit": 3})).json() == before
