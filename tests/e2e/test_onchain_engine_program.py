"""The whole engine routing to a real Raydium CPMM pool: API, queue, worker, and the real cp-swap program.

Needs a mainnet cp-swap build and an AmmConfig dump, named by ``OEE_CPMM_SO`` and ``OEE_CPMM_CONFIG``
(never part of this repository); skipped without them. The local network loads the program at its
mainnet address and a SOL-USDC pool built with the project's own encoders. The wallet already holds wrapped
SOL in its own wSOL account, which the orders must leave as it is.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import based58
import httpx
import orjson
import pytest
from solders.keypair import Keypair

from adapters.solana.spl import NATIVE_MINT, associated_token_address
from localnet import LocalnetHandle, start_localnet
from tests.adapters.contract.raydium_cpmm import PROGRAM_ID, PoolFiles, build_sol_usdc_pool
from tests.adapters.dexes.raydium_cpmm.test_raydium_cpmm_program import _config_dump
from tests.adapters.settlement.desk import write_token_account
from tests.support import EngineProcesses, base_env, eventually

SO = os.environ.get("OEE_CPMM_SO")
CONFIG_DUMP = os.environ.get("OEE_CPMM_CONFIG")
pytestmark = pytest.mark.skipif(
    not (SO and CONFIG_DUMP), reason="OEE_CPMM_SO and OEE_CPMM_CONFIG name no cp-swap build and AmmConfig dump"
)
SOL = "So11111111111111111111111111111111111111112"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
HELD_WSOL = 3 * 10**9


def rpc(url: str, method: str, params: list[Any]) -> Any:
    body = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=30).json()
    assert "error" not in body, body
    return body["result"]


def holdings(url: str, owner: str) -> dict[str, int]:
    """Lamports, and the raw amount of every token account ``owner`` has."""
    out = {"lamports": rpc(url, "getBalance", [owner, {"commitment": "confirmed"}])["value"]}
    for program in ("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",):
        found = rpc(url, "getTokenAccountsByOwner", [owner, {"programId": program}, {"encoding": "jsonParsed"}])
        for entry in found["value"]:
            info = entry["account"]["data"]["parsed"]["info"]
            out[info["mint"]] = out.get(info["mint"], 0) + int(info["tokenAmount"]["amount"])
    return out


@pytest.fixture
def wallet() -> Keypair:
    return Keypair()


@pytest.fixture
def net_and_pool(wallet: Keypair, tmp_path: Path) -> Iterator[tuple[LocalnetHandle, str]]:
    assert SO and CONFIG_DUMP
    files = PoolFiles(tmp_path)
    files.amm_config(_config_dump(Path(CONFIG_DUMP)))
    pool = build_sol_usdc_pool(files)
    held = associated_token_address(wallet.pubkey(), NATIVE_MINT)
    write_token_account(files, held, NATIVE_MINT, wallet.pubkey(), HELD_WSOL)
    net = start_localnet(
        slot_ms=50, finality_depth=4, programs=[(str(PROGRAM_ID), Path(SO))], accounts=files.accounts,
        fund=[str(wallet.pubkey())], fund_tokens={"USDC": "10000"},
    )  # fmt: skip
    yield net, orjson.dumps({"pools": [pool.book_entry()]}).decode()
    net.stop()


async def test_orders_route_to_the_real_pool_and_the_program_pays_the_quote(
    database_url: str, redis_url: str, wallet: Keypair, net_and_pool: tuple[LocalnetHandle, str], tmp_path: Path
) -> None:
    net, pools = net_and_pool
    env = base_env(
        database_url, redis_url, QUEUE_NAME=f"oee:onchain:{uuid.uuid4().hex[:6]}", SOLANA_NETWORK="localnet",
        SOLANA_RPC_URL=net.url, SOLANA_PRIVATE_KEY=based58.b58encode(bytes(wallet)).decode(), ROUTING="onchain",
        ENABLED_DEXES="raydium", POOLS_JSON=pools, CONFIRM_POLL_MS="50", REBROADCAST_MS="300",
    )  # fmt: skip
    engine = EngineProcesses(env, log_dir=tmp_path)
    owner = str(wallet.pubkey())
    try:
        engine.start()
        engine.wait_healthy()
        async with engine.client(timeout=30) as client:
            for body, received in (
                ({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "2", "slippageBps": 50}, USDC),
                ({"tokenIn": "USDC", "tokenOut": "SOL", "amountIn": "250", "slippageBps": 50}, "lamports"),
            ):
                before = await asyncio.to_thread(holdings, net.url, owner)
                order_id = (await client.post("/api/orders/execute", json=body)).json()["orderId"]

                async def order(oid: str = order_id) -> dict[str, Any]:
                    return (await client.get(f"/api/orders/{oid}")).json()  # type: ignore[no-any-return]

                done = await eventually(order, lambda o: o["status"] in ("confirmed", "failed"), within=60)
                assert done["status"] == "confirmed", done["failureReason"]
                assert done["settlement"]["kind"] == "chain" and done["route"]["dex"] == "raydium"
                after = await asyncio.to_thread(holdings, net.url, owner)
                decimals = done["tokenOut"]["decimals"]
                paid = after[received] - before.get(received, 0)
                if received == "lamports":
                    fee = 5000 + 0  # one signature; the localnet charges no priority fee
                    paid += fee
                # What the engine quoted is what the program paid, to the unit.
                assert Decimal(paid).scaleb(-decimals) == Decimal(done["amountOut"]) == Decimal(done["quotedAmountOut"])
                # The wallet's own wrapped SOL is untouched, and no other wSOL account is left open.
                assert after[SOL] == before[SOL] == HELD_WSOL
    finally:
        engine.stop()
