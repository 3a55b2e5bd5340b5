"""The whole engine's router on chain: API, queue, worker, router and chain settlement against the real
cp-swap and lb_clmm programs in one local network.

The pair is the DLMM fixture pair (a pump token X and SOL, loaded from its dump) with a real CPMM X/SOL pool
built on the same mints, and a CPMM SOL/USDC pool. A large SOL -> X order is split over both DEXes and pays
more than either pool alone; a small one takes one pool; X -> USDC, which no pool trades directly, hops
through SOL. Each is paid exactly its quote, to the unit.

Needs ``OEE_CPMM_SO``/``OEE_CPMM_CONFIG`` and ``OEE_DLMM_SO``/``OEE_DLMM_FIXTURES`` (never committed);
skipped without them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import based58
import orjson
import pytest

from kernel.tokens import Token
from localnet import LocalnetHandle, start_localnet
from tests.adapters.contract.meteora_dlmm import PROGRAM_ID as DLMM_PROGRAM_ID
from tests.adapters.contract.meteora_dlmm import PairFiles
from tests.adapters.contract.raydium_cpmm import PROGRAM_ID as CPMM_PROGRAM_ID
from tests.adapters.contract.raydium_cpmm import SOL, USDC, PoolFiles, build_pool, build_sol_usdc_pool
from tests.adapters.dexes.meteora_dlmm.test_meteora_dlmm_program import WALLET, _load
from tests.adapters.dexes.raydium_cpmm.test_raydium_cpmm_program import _config_dump
from tests.support import EngineProcesses, base_env, eventually, migrated_database
from tests.support import json_rpc as rpc

CPMM_SO, CPMM_CONFIG = os.environ.get("OEE_CPMM_SO"), os.environ.get("OEE_CPMM_CONFIG")
DLMM_SO, DLMM_FIXTURES = os.environ.get("OEE_DLMM_SO"), os.environ.get("OEE_DLMM_FIXTURES")
pytestmark = pytest.mark.skipif(
    not (CPMM_SO and CPMM_CONFIG and DLMM_SO and DLMM_FIXTURES),
    reason="OEE_CPMM_SO, OEE_CPMM_CONFIG, OEE_DLMM_SO and OEE_DLMM_FIXTURES name no program builds",
)
PAIR = "EtAdVRLFH22rjWh3mcUasKFF27WtHhsaCvK27tPFFWig"
LARGE = "0.5"  # SOL: large against both X/SOL pools, so that a split pays
SMALL = "0.001"  # SOL: small enough that one pool (the CPMM one, at these prices) pays the most
SELL = "600"  # X sold for SOL: large against both pools too
HOP_IN = "50"  # X sold for USDC, through SOL
HOP_USDC = "20"  # USDC spent on X, through SOL


@dataclass
class Routed:
    """The running engine, its local network and what it trades."""

    engine: EngineProcesses
    net: LocalnetHandle
    owner: str
    x: Token

    async def holding(self, mint: str) -> int:
        """Raw units of ``mint`` in every token account the wallet has of it; lamports for SOL."""
        if mint == SOL.mint:
            return int((await rpc(self.net.url, "getBalance", self.owner, {"commitment": "confirmed"}))["value"])
        return await self.token_accounts(mint)

    async def token_accounts(self, mint: str) -> int:
        """Raw units of ``mint`` in the wallet's token accounts of it (wrapped SOL too, for the native mint)."""
        found = await rpc(self.net.url, "getTokenAccountsByOwner", self.owner, {"mint": mint},
                          {"encoding": "jsonParsed", "commitment": "confirmed"})  # fmt: skip
        return sum(int(a["account"]["data"]["parsed"]["info"]["tokenAmount"]["amount"]) for a in found["value"])


@pytest.fixture
def routed(servers: tuple[str, str], tmp_path: Path) -> Iterator[Routed]:
    # Each test starts from the same pools: every swap moves them, and what splits depends on where they are.
    folder = tmp_path
    dlmm_files = PairFiles(folder)
    x = _load(dlmm_files, Path(DLMM_FIXTURES or "") / PAIR).x  # the wallet holds X in its associated account
    files = PoolFiles(folder)
    files.amm_config(_config_dump(Path(CPMM_CONFIG or "")))
    x_sol = build_pool(files, x, 1_000 * 10**6, SOL, 1_500_000_000)
    sol_usdc = build_sol_usdc_pool(files)
    net = start_localnet(
        slot_ms=50, finality_depth=4, accounts=dlmm_files.accounts + files.accounts,
        programs=[(str(CPMM_PROGRAM_ID), Path(CPMM_SO or "")), (str(DLMM_PROGRAM_ID), Path(DLMM_SO or ""))],
        fund=[str(WALLET.pubkey())], fund_tokens={"USDC": "10000"},
    )  # fmt: skip
    pools = {"pools": [x_sol.book_entry(), sol_usdc.book_entry(),
                       {"dex": "meteora", "address": PAIR, "mints": [x.mint, SOL.mint]}]}  # fmt: skip
    try:
        # A database and a namespace of its own: other engines' watchers load every waiting order of theirs.
        with migrated_database(servers[0], prefix="oee_route_chain") as database_url:
            env = base_env(
                database_url, servers[1], OEE_NAMESPACE=f"oee-route-{uuid.uuid4().hex[:6]}",
                SOLANA_NETWORK="localnet", SOLANA_RPC_URL=net.url,
                SOLANA_PRIVATE_KEY=based58.b58encode(bytes(WALLET)).decode(), ROUTING="onchain",
                ENABLED_DEXES="raydium,meteora", POOLS_JSON=orjson.dumps(pools).decode(),
                ROUTE_INTERMEDIATES="USDC,SOL", CONFIRM_POLL_MS="50", REBROADCAST_MS="300",
            )  # fmt: skip
            engine = EngineProcesses(env, log_dir=folder)
            try:
                engine.start()
                engine.wait_healthy()
                yield Routed(engine, net, str(WALLET.pubkey()), x)
            finally:
                engine.stop()
    finally:
        net.stop()


async def _quote(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post("/api/quotes", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def _execute(routed: Routed, client: Any, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Place ``body``; the confirmed order and the raw units of its output token the wallet received."""
    out_mint = body["tokenOut"]
    before = await routed.holding(out_mint)
    placed = await client.post("/api/orders/execute", json=body)
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["orderId"]

    async def order() -> dict[str, Any]:
        return (await client.get(f"/api/orders/{order_id}")).json()  # type: ignore[no-any-return]

    done = await eventually(order, lambda o: o["status"] in ("confirmed", "failed"), within=90)
    assert done["status"] == "confirmed", done["failureReason"]
    assert done["settlement"]["kind"] == "chain"
    assert await routed.token_accounts(SOL.mint) == 0  # no wrapped SOL is left in a token account
    if out_mint != SOL.mint:
        return done, await routed.holding(out_mint) - before
    # Lamports: what the swap's own transaction paid the wallet, its fee given back. A plan too large for a
    # legacy message first pays for a lookup table in a transaction of its own, which is not the swap's output.
    found = await rpc(routed.net.url, "getTransaction", done["txHash"],
                      {"encoding": "json", "commitment": "confirmed", "maxSupportedTransactionVersion": 0})  # fmt: skip
    meta = found["meta"]
    assert found["transaction"]["message"]["accountKeys"][0] == routed.owner
    return done, meta["postBalances"][0] - meta["preBalances"][0] + meta["fee"]


def _paid_exactly(done: dict[str, Any], received: int) -> None:
    # What the engine quoted is what the programs paid, to the unit.
    decimals = done["tokenOut"]["decimals"]
    assert Decimal(received).scaleb(-decimals) == Decimal(done["amountOut"]) == Decimal(done["quotedAmountOut"])


@pytest.mark.parametrize("side", ["buy", "sell"])
async def test_a_large_order_splits_over_real_cpmm_and_dlmm_and_is_paid_its_quote(routed: Routed, side: str) -> None:
    pair = (SOL.mint, routed.x.mint, LARGE) if side == "buy" else (routed.x.mint, SOL.mint, SELL)
    body = {"tokenIn": pair[0], "tokenOut": pair[1], "amountIn": pair[2], "slippageBps": 100}
    async with routed.engine.client(timeout=60) as client:
        quoted = await _quote(client, body)
        assert quoted["routePlan"]["kind"] == "split", quoted["route"]["reason"]
        done, received = await _execute(routed, client, body)
    plan = done["routePlan"]
    assert plan["kind"] == "split", done["route"]["reason"]
    assert {leg["dex"] for leg in plan["legs"]} == {"raydium", "meteora"}
    assert sum(leg["shareBps"] for leg in plan["legs"]) == 10_000
    assert sum(Decimal(leg["amountIn"]) for leg in plan["legs"]) == Decimal(pair[2])
    # It pays more than the best single pool quoted in the same round.
    best_single = max(Decimal(q["amountOut"]) for q in done["quotes"] if q["amountOut"] is not None)
    assert plan["gainBps"] > 0 and Decimal(done["amountOut"]) > best_single
    # Nothing traded between the quote call and the order: it priced exactly the plan the order executed.
    assert quoted["routePlan"]["legs"] == plan["legs"]
    _paid_exactly(done, received)


async def test_a_small_order_on_the_same_pair_takes_one_pool(routed: Routed) -> None:
    body = {"tokenIn": SOL.mint, "tokenOut": routed.x.mint, "amountIn": SMALL, "slippageBps": 100}
    async with routed.engine.client(timeout=60) as client:
        done, received = await _execute(routed, client, body)
    plan = done["routePlan"]
    assert plan["kind"] == "single" and len(plan["legs"]) == 1, done["route"]["reason"]
    assert plan["legs"][0]["dex"] == done["route"]["dex"]
    _paid_exactly(done, received)


@pytest.mark.parametrize("side", ["sell", "buy"])
async def test_an_order_no_pool_trades_directly_hops_through_sol_and_is_paid_its_quote(
    routed: Routed, side: str
) -> None:
    # Selling X: its first leg is exact out on the X/SOL pool paying more (the DLMM pair at these prices);
    # buying X with USDC: exact out on the CPMM SOL/USDC pool, then SOL into the X/SOL pools.
    pair = (routed.x.mint, USDC.mint, HOP_IN) if side == "sell" else (USDC.mint, routed.x.mint, HOP_USDC)
    body = {"tokenIn": pair[0], "tokenOut": pair[1], "amountIn": pair[2], "slippageBps": 100}
    in_before = await routed.holding(pair[0])
    async with routed.engine.client(timeout=60) as client:
        quoted = await _quote(client, body)
        assert quoted["routePlan"]["kind"] == "hop", quoted["route"]["reason"]
        done, received = await _execute(routed, client, body)
    plan = done["routePlan"]
    assert plan["kind"] == "hop", done["route"]["reason"]
    first, second = plan["legs"]
    assert first["mode"] == "exact_out" and second["mode"] == "exact_in"
    assert first["outputMint"] == second["inputMint"] == SOL.mint and first["amountOut"] == second["amountIn"]
    assert quoted["routePlan"]["legs"] == plan["legs"]
    _paid_exactly(done, received)
    spent = in_before - await routed.holding(pair[0])
    # The first leg buys exactly what the second spends, for at most the order's input.
    assert 0 < spent <= int(Decimal(pair[2]).scaleb(done["tokenIn"]["decimals"]))
