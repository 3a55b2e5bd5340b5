"""The whole engine routing to concentrated-liquidity pools on chain: API, queue, worker, router and chain
settlement against the real Raydium CLMM, Orca Whirlpool and cp-swap programs in one local network.

- A SOL/USDC Raydium CLMM pool alone, then a SOL/USDC Orca Whirlpool pool alone: an order each way routes to
  it and is paid, to the unit, the quote the route decision stored.
- The CLMM pool beside a CPMM SOL/USDC pool: an order of a size where splitting pays is split over both, paid
  its plan's quote to the unit, and more than either pool alone quotes for the whole size (the adapters' own
  math over the pools as built).

Needs ``OEE_CLMM_SO`` (with ``OEE_CPMM_SO``/``OEE_CPMM_CONFIG`` for the split) and ``OEE_WHIRLPOOL_SO``
(never committed); each test is skipped without its programs.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import based58
import orjson
import pytest
from solders.keypair import Keypair

from adapters.dexes.raydium_clmm import math as clmm_math
from adapters.dexes.raydium_cpmm import math as cpmm_math
from localnet import LocalnetHandle, start_localnet
from tests.adapters.contract import orca_whirlpool, raydium_clmm
from tests.adapters.contract.accounts import AccountFiles
from tests.adapters.contract.raydium_cpmm import SOL, USDC, LocalPool, PoolFiles
from tests.adapters.contract.raydium_cpmm import build_sol_usdc_pool as build_cpmm_sol_usdc_pool
from tests.adapters.dexes.raydium_cpmm.test_raydium_cpmm_program import _config_dump
from tests.support import EngineProcesses, base_env, eventually, migrated_database
from tests.support import json_rpc as rpc
from tools.chain_pools import PROGRAM_ID as CPMM_PROGRAM_ID

CPMM_SO, CPMM_CONFIG = os.environ.get("OEE_CPMM_SO"), os.environ.get("OEE_CPMM_CONFIG")
CLMM_SO, WHIRLPOOL_SO = os.environ.get("OEE_CLMM_SO"), os.environ.get("OEE_WHIRLPOOL_SO")
needs_clmm = pytest.mark.skipif(not CLMM_SO, reason="OEE_CLMM_SO names no Raydium CLMM build (raydium_clmm.so)")
needs_whirlpool = pytest.mark.skipif(
    not WHIRLPOOL_SO, reason="OEE_WHIRLPOOL_SO names no Orca Whirlpool build (whirlpool.so)"
)
needs_split = pytest.mark.skipif(
    not (CLMM_SO and CPMM_SO and CPMM_CONFIG),
    reason="OEE_CLMM_SO, OEE_CPMM_SO and OEE_CPMM_CONFIG name no Raydium CLMM and cp-swap builds and AmmConfig dump",
)
SINGLE_ORDERS = (("SOL", "USDC", "2"), ("USDC", "SOL", "250"))  # each way through one pool
SPLIT_SOL = 20  # SOL into USDC: both pools' prices move enough that a split pays (10 SOL barely splits)


@dataclass
class Engine:
    """The running engine, its local network and its wallet."""

    engine: EngineProcesses
    net: LocalnetHandle
    owner: str

    async def token_accounts(self, mint: str) -> int:
        """Raw units of ``mint`` in the wallet's token accounts of it (wrapped SOL too, for the native mint)."""
        found = await rpc(self.net.url, "getTokenAccountsByOwner", self.owner, {"mint": mint},
                          {"encoding": "jsonParsed", "commitment": "confirmed"})  # fmt: skip
        return sum(int(a["account"]["data"]["parsed"]["info"]["tokenAmount"]["amount"]) for a in found["value"])


@contextlib.contextmanager
def running_engine(
    folder: Path,
    servers: tuple[str, str],
    *,
    programs: Sequence[tuple[str, Path]],
    accounts: Sequence[tuple[str, Path]],
    pools: Sequence[dict[str, Any]],
    dexes: str,
) -> Iterator[Engine]:
    """A local network holding ``accounts`` and running ``programs``, and the engine routing on chain over ``pools``
    with ``dexes`` enabled; its wallet holds SOL and USDC."""
    wallet = Keypair()
    net = start_localnet(slot_ms=50, finality_depth=4, accounts=list(accounts), programs=list(programs),
                         fund=[str(wallet.pubkey())], fund_tokens={"USDC": "10000"})  # fmt: skip
    try:
        # A database and a namespace of its own: other engines' watchers load every waiting order of theirs.
        with migrated_database(servers[0], prefix="oee_concentrated_chain") as database_url:
            env = base_env(
                database_url, servers[1], OEE_NAMESPACE=f"oee-conc-{uuid.uuid4().hex[:6]}",
                SOLANA_NETWORK="localnet", SOLANA_RPC_URL=net.url,
                SOLANA_PRIVATE_KEY=based58.b58encode(bytes(wallet)).decode(), ROUTING="onchain",
                ENABLED_DEXES=dexes, POOLS_JSON=orjson.dumps({"pools": list(pools)}).decode(),
                CONFIRM_POLL_MS="50", REBROADCAST_MS="300",
            )  # fmt: skip
            engine = EngineProcesses(env, log_dir=folder)
            try:
                engine.start()
                engine.wait_healthy()
                yield Engine(engine, net, str(wallet.pubkey()))
            finally:
                engine.stop()
    finally:
        net.stop()


async def _execute(running: Engine, client: Any, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Place ``body``; the confirmed order and the raw units of its output token the wallet received."""
    out_mint = body["tokenOut"]
    before = await running.token_accounts(out_mint) if out_mint != SOL.mint else 0
    placed = await client.post("/api/orders/execute", json=body)
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["orderId"]

    async def order() -> dict[str, Any]:
        return (await client.get(f"/api/orders/{order_id}")).json()  # type: ignore[no-any-return]

    done = await eventually(order, lambda o: o["status"] in ("confirmed", "failed"), within=90)
    assert done["status"] == "confirmed", done["failureReason"]
    assert done["settlement"]["kind"] == "chain"
    assert await running.token_accounts(SOL.mint) == 0  # no wrapped SOL is left in a token account
    if out_mint != SOL.mint:
        return done, await running.token_accounts(out_mint) - before
    # Lamports: what the swap's own transaction paid the wallet, its fee given back.
    found = await rpc(running.net.url, "getTransaction", done["txHash"],
                      {"encoding": "json", "commitment": "confirmed", "maxSupportedTransactionVersion": 0})  # fmt: skip
    meta = found["meta"]
    assert found["transaction"]["message"]["accountKeys"][0] == running.owner
    return done, meta["postBalances"][0] - meta["preBalances"][0] + meta["fee"]


def _paid_exactly(done: dict[str, Any], received: int) -> None:
    # What the route decision quoted is what the program paid, to the unit.
    decimals = done["tokenOut"]["decimals"]
    assert Decimal(received).scaleb(-decimals) == Decimal(done["amountOut"]) == Decimal(done["quotedAmountOut"])
    assert Decimal(done["routePlan"]["amountOut"]) == Decimal(done["amountOut"])


def _mint(symbol: str) -> str:
    return {"SOL": SOL.mint, "USDC": USDC.mint}[symbol]


def _clmm_pool(folder: Path) -> tuple[raydium_clmm.LocalClmmPool, list[tuple[str, Path]]]:
    files = AccountFiles(folder)
    return raydium_clmm.build_sol_usdc_pool(files), files.accounts


def _whirlpool(folder: Path) -> tuple[orca_whirlpool.LocalWhirlpool, list[tuple[str, Path]]]:
    files = AccountFiles(folder)
    return orca_whirlpool.build_sol_usdc_pool(files), files.accounts


def _cpmm_pool(folder: Path) -> tuple[LocalPool, list[tuple[str, Path]]]:
    files = PoolFiles(folder)
    config = _config_dump(Path(CPMM_CONFIG or ""))
    files.amm_config(config)
    return build_cpmm_sol_usdc_pool(files, config=config), files.accounts


@pytest.fixture
def single(
    request: pytest.FixtureRequest, servers: tuple[str, str], tmp_path: Path
) -> Iterator[tuple[Engine, str, str]]:
    """The engine over one SOL/USDC pool of the DEX ``request.param``: ``(engine, dex, pool address)``."""
    dex: str = request.param
    if dex == "raydium_clmm":
        clmm, accounts = _clmm_pool(tmp_path)
        address, program = str(clmm.address), (str(raydium_clmm.PROGRAM_ID), Path(CLMM_SO or ""))
        entry = clmm.book_entry()
    else:
        whirlpool, accounts = _whirlpool(tmp_path)
        address, program = str(whirlpool.address), (str(orca_whirlpool.PROGRAM_ID), Path(WHIRLPOOL_SO or ""))
        entry = whirlpool.book_entry()
    with running_engine(tmp_path, servers, programs=[program], accounts=accounts, pools=[entry],
                        dexes=dex) as running:  # fmt: skip
        yield running, dex, address


@pytest.mark.parametrize(
    "single",
    [pytest.param("raydium_clmm", marks=needs_clmm), pytest.param("orca_whirlpool", marks=needs_whirlpool)],
    indirect=True,
)
async def test_an_order_routes_to_a_concentrated_pool_and_is_paid_its_quote(single: tuple[Engine, str, str]) -> None:
    running, dex, address = single
    async with running.engine.client(timeout=60) as client:
        for token_in, token_out, amount in SINGLE_ORDERS:
            body = {"tokenIn": _mint(token_in), "tokenOut": _mint(token_out), "amountIn": amount,
                    "slippageBps": 50}  # fmt: skip
            done, received = await _execute(running, client, body)
            plan = done["routePlan"]
            assert plan["kind"] == "single", done["route"]["reason"]
            assert done["route"]["dex"] == dex
            assert [(leg["dex"], leg["pool"]) for leg in plan["legs"]] == [(dex, address)]
            _paid_exactly(done, received)
            print(f"\n{dex}: {amount} {token_in} paid {received} raw {token_out}, the quote {done['quotedAmountOut']}")


def _alone(clmm: raydium_clmm.LocalClmmPool, cpmm: LocalPool, amount_in: int) -> tuple[int, int]:
    """What each pool alone pays for ``amount_in`` SOL (token 0 of both), by the adapters' math."""
    by_clmm = clmm_math.quote_exact_in(clmm.state, clmm.config, clmm.tick_arrays, amount_in, zero_for_one=True,
                                       extension=clmm.extension).amount_out  # fmt: skip
    by_cpmm = cpmm_math.quote_exact_in(cpmm.state, cpmm.config, cpmm.vault_0_amount, cpmm.vault_1_amount,
                                       amount_in, zero_for_one=True, now=0).amount_out  # fmt: skip
    return by_clmm, by_cpmm


@dataclass
class Split:
    running: Engine
    clmm: raydium_clmm.LocalClmmPool
    cpmm: LocalPool


@pytest.fixture
def split(servers: tuple[str, str], tmp_path: Path) -> Iterator[Split]:
    """The engine over a CLMM and a CPMM SOL/USDC pool."""
    clmm, clmm_accounts = _clmm_pool(tmp_path)
    cpmm, cpmm_accounts = _cpmm_pool(tmp_path)
    programs = [(str(raydium_clmm.PROGRAM_ID), Path(CLMM_SO or "")), (str(CPMM_PROGRAM_ID), Path(CPMM_SO or ""))]
    pools = [clmm.book_entry(), cpmm.book_entry()]
    with running_engine(tmp_path, servers, programs=programs, accounts=clmm_accounts + cpmm_accounts, pools=pools,
                        dexes="raydium_clmm,raydium") as running:  # fmt: skip
        yield Split(running, clmm, cpmm)


@needs_split
async def test_a_large_order_splits_over_clmm_and_cpmm_and_is_paid_its_quote(split: Split) -> None:
    clmm, cpmm = split.clmm, split.cpmm
    assert SOL.mint == str(clmm.state.token_mint_0) == str(cpmm.state.token_0_mint)
    by_clmm, by_cpmm = _alone(clmm, cpmm, SPLIT_SOL * 10**9)
    body = {"tokenIn": SOL.mint, "tokenOut": USDC.mint, "amountIn": str(SPLIT_SOL), "slippageBps": 100}
    async with split.running.engine.client(timeout=60) as client:
        done, received = await _execute(split.running, client, body)
    plan = done["routePlan"]
    assert plan["kind"] == "split", done["route"]["reason"]
    legs = {(leg["dex"], leg["pool"]) for leg in plan["legs"]}
    assert legs == {("raydium_clmm", str(clmm.address)), ("raydium", str(cpmm.address))}
    assert sum(leg["shareBps"] for leg in plan["legs"]) == 10_000
    assert sum(Decimal(leg["amountIn"]) for leg in plan["legs"]) == SPLIT_SOL
    _paid_exactly(done, received)
    # More than either pool alone pays for the whole size.
    assert received > max(by_clmm, by_cpmm), (received, by_clmm, by_cpmm)
    assert plan["gainBps"] > 0
    print(f"\nsplit of {SPLIT_SOL} SOL paid {received} raw USDC; CLMM alone {by_clmm}, CPMM alone {by_cpmm}")
