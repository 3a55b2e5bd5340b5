"""Sniper orders through the whole engine (API, watcher, worker) against the real Raydium CPMM program.

The local network's clock moves only when the test says (``slot_ms=0``), so "the first slot the pool
allows" is exact: a sniper waits for a SOL/USDC pool that does not exist yet; the pool is placed at its
canonical address with an ``open_time`` ahead; nothing is sent while the block time is before it; the
chain is then held in the first slot at ``open_time`` until the engine's swap lands in it, and the program
pays exactly what the engine quoted. A second sniper buys a Token-2022 mint unknown to the token list
(decimals and transfer fee read from the chain) and is paid its quote to the unit.

Needs ``OEE_CPMM_SO`` and ``OEE_CPMM_CONFIG`` (see tests/adapters/dexes/raydium_cpmm/test_raydium_cpmm_program.py);
skipped without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import based58
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from adapters.solana.accounts import TransferFee, TransferFeeConfig, encode_mint
from adapters.solana.spl import TOKEN_2022_PROGRAM_ID
from kernel.tokens import Token
from localnet import LocalnetHandle, start_localnet
from tests.adapters.contract.accounts import place_accounts
from tests.adapters.contract.raydium_cpmm import PROGRAM_ID, SOL, USDC, PoolFiles, build_pool
from tests.adapters.dexes.raydium_cpmm.test_raydium_cpmm_program import CONFIG_DUMP, SO, _config_dump
from tests.support import EngineProcesses, base_env, eventually, migrated_database
from tests.support import json_rpc as rpc

pytestmark = pytest.mark.skipif(
    not (SO and CONFIG_DUMP), reason="OEE_CPMM_SO and OEE_CPMM_CONFIG name no cp-swap build and AmmConfig dump"
)
FEE_MINT = Keypair().pubkey()
FEES = TransferFeeConfig(TransferFee(0, 10**12, 100), TransferFee(0, 10**12, 100))  # 1% on every transfer
FEE_TOKEN = Token("FEE", "fee token", 6, str(FEE_MINT))


@dataclass
class Chain:
    net: LocalnetHandle
    wallet: Keypair
    ticking: asyncio.Event  # set: the test's ticker moves a slot every 100 ms; clear: the chain holds its slot
    tick_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # held while the ticker moves a slot

    async def hold(self) -> None:
        """Stop the ticker, once any slot it is moving has moved."""
        self.ticking.clear()
        async with self.tick_lock:
            pass

    @property
    def owner(self) -> str:
        return str(self.wallet.pubkey())

    async def advance(self, unix_time: int | None = None) -> dict[str, Any]:
        params: dict[str, int] = {"slots": 1} | ({"unixTimestamp": unix_time} if unix_time is not None else {})
        return await rpc(self.net.url, "localnet_advanceSlots", params)  # type: ignore[no-any-return]

    async def block_time(self) -> int:
        return int((await self.advance())["unixTimestamp"])

    async def landed_slot(self, signature: str) -> int | None:
        """The slot ``signature`` was processed in, once it has been."""
        found = await rpc(self.net.url, "getSignatureStatuses", [signature], {"searchTransactionHistory": True})
        status = found["value"][0]
        return None if status is None else int(status["slot"])

    async def signatures(self) -> list[str]:
        """The signatures of the wallet's transactions, newest first."""
        found = await rpc(self.net.url, "getSignaturesForAddress", self.owner, {"commitment": "confirmed"})
        return [entry["signature"] for entry in found]

    async def token_amount(self, mint: str) -> int:
        found = await rpc(
            self.net.url, "getTokenAccountsByOwner", self.owner, {"mint": mint}, {"encoding": "jsonParsed"}
        )
        return sum(int(a["account"]["data"]["parsed"]["info"]["tokenAmount"]["amount"]) for a in found["value"])


@pytest.fixture(scope="module")
def chain_files() -> Iterator[PoolFiles]:
    with tempfile.TemporaryDirectory(prefix="oee-snipe-chain-") as folder:
        files = PoolFiles(Path(folder))
        assert CONFIG_DUMP
        files.amm_config(_config_dump(Path(CONFIG_DUMP)))
        files.write(FEE_MINT, TOKEN_2022_PROGRAM_ID, encode_mint(6, 10**15, transfer_fee=FEES))
        yield files


@pytest.fixture
async def chain(chain_files: PoolFiles) -> AsyncIterator[Chain]:
    assert SO
    wallet = Keypair()
    net = start_localnet(
        slot_ms=0, finality_depth=2, programs=[(str(PROGRAM_ID), Path(SO))], accounts=chain_files.accounts,
        fund=[str(wallet.pubkey())],
    )  # fmt: skip
    ticking = asyncio.Event()
    ticking.set()
    found = Chain(net, wallet, ticking)

    async def tick() -> None:
        while True:
            await ticking.wait()
            async with found.tick_lock:
                if ticking.is_set():
                    await found.advance()
            await asyncio.sleep(0.1)

    ticker = asyncio.create_task(tick())
    try:
        yield found
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        net.stop()


@pytest.fixture
def engine(servers: tuple[str, str], chain: Chain, tmp_path: Path) -> Iterator[EngineProcesses]:
    # A database and a namespace of its own: the watchers of other tests' engines, which load every waiting
    # order of their database, never see these orders.
    with migrated_database(servers[0], prefix="oee_snipe_chain") as database_url:
        yield from _engine(database_url, servers[1], chain, tmp_path)


def _engine(database_url: str, redis_url: str, chain: Chain, tmp_path: Path) -> Iterator[EngineProcesses]:
    env = base_env(
        database_url, redis_url, OEE_NAMESPACE=f"oee-snipe-{uuid.uuid4().hex[:6]}", SOLANA_NETWORK="localnet",
        SOLANA_RPC_URL=chain.net.url, SOLANA_PRIVATE_KEY=based58.b58encode(bytes(chain.wallet)).decode(),
        ROUTING="onchain", ENABLED_DEXES="raydium", POOLS_JSON='{"pools": []}', CONFIRM_POLL_MS="50",
        REBROADCAST_MS="300",
    )  # fmt: skip
    engine = EngineProcesses(env, log_dir=tmp_path)
    try:
        engine.start()
        engine.wait_healthy()
        yield engine
    finally:
        engine.stop()


def _sniper(token_out: str, amount_in: str) -> dict[str, Any]:
    return {"type": "sniper", "tokenIn": "SOL", "tokenOut": token_out, "amountIn": amount_in, "slippageBps": 100,
            "expiresInS": 600}  # fmt: skip


async def _order(client: Any, order_id: str) -> dict[str, Any]:
    return (await client.get(f"/api/orders/{order_id}")).json()  # type: ignore[no-any-return]


async def test_a_sniper_sends_nothing_before_open_time_and_fills_in_the_first_slot_at_it(
    engine: EngineProcesses, chain: Chain
) -> None:
    async with engine.client(timeout=30) as client:
        placed = await client.post("/api/orders/execute", json=_sniper("USDC", "2"))
        assert placed.status_code in (200, 201, 202), placed.text
        order_id = placed.json()["orderId"]
        await eventually(lambda: _order(client, order_id), lambda o: o["status"] == "waiting", within=30)
        sent_before = await chain.signatures()

        # The pool appears with its open_time an hour of chain time ahead.
        open_time = await chain.block_time() + 3600
        with tempfile.TemporaryDirectory(prefix="oee-snipe-pool-") as folder:
            files = PoolFiles(Path(folder))
            build_pool(files, SOL, 1_000 * 10**9, USDC, 150_000 * 10**6, open_time=open_time)
            await place_accounts(chain.net.url, files)
        # Block time runs with the wall clock from where it is warped to: 5 s before open_time, then about
        # 2 s more of slots (20 snapshots' worth for a watcher pushed every slot). A window, not a wait for a
        # condition: what it shows is that nothing happens in it. The order waits and the wallet sends nothing.
        await chain.advance(open_time - 5)
        await asyncio.sleep(2)
        assert (await _order(client, order_id))["status"] == "waiting"
        assert await chain.signatures() == sent_before

        # Hold the chain in the first slot whose block time is open_time until the swap lands in it.
        await chain.hold()
        usdc_before = await chain.token_amount(USDC.mint)
        opened = await chain.advance(open_time)
        open_slot = int(opened["slot"])
        submitted = await eventually(lambda: _order(client, order_id), lambda o: o["txHash"] is not None, within=60)
        signature = submitted["txHash"]
        slot = await eventually(lambda: chain.landed_slot(signature), lambda found: found is not None, within=60)
        assert slot == open_slot  # the first slot the pool allows
        chain.ticking.set()

        done = await eventually(lambda: _order(client, order_id), lambda o: o["status"] in ("confirmed", "failed"),
                                within=60)  # fmt: skip
        assert done["status"] == "confirmed", done["failureReason"]
        assert done["txHash"] == signature
        assert (await chain.signatures())[0] == signature  # the only transaction sent
        assert len(await chain.signatures()) == len(sent_before) + 1
        paid = await chain.token_amount(USDC.mint) - usdc_before
        assert Decimal(paid).scaleb(-USDC.decimals) == Decimal(done["amountOut"]) == Decimal(done["quotedAmountOut"])


async def test_a_sniper_on_a_mint_unknown_to_the_token_list_is_paid_its_quote(
    engine: EngineProcesses, chain: Chain
) -> None:
    async with engine.client(timeout=30) as client:
        placed = await client.post("/api/orders/execute", json=_sniper(str(FEE_MINT), "1.5"))
        assert placed.status_code in (200, 201, 202), placed.text
        order_id = placed.json()["orderId"]
        waiting = await eventually(lambda: _order(client, order_id), lambda o: o["status"] == "waiting", within=30)
        assert waiting["tokenOut"]["mint"] == str(FEE_MINT) and waiting["tokenOut"]["decimals"] == 6  # from the chain

        with tempfile.TemporaryDirectory(prefix="oee-snipe-fee-") as folder:
            files = PoolFiles(Path(folder))
            build_pool(files, SOL, 500 * 10**9, FEE_TOKEN, 75_000 * 10**6,
                       token_programs={FEE_TOKEN.mint: TOKEN_2022_PROGRAM_ID})  # fmt: skip
            await place_accounts(chain.net.url, files)
        done = await eventually(lambda: _order(client, order_id), lambda o: o["status"] in ("confirmed", "failed"),
                                within=60)  # fmt: skip
        assert done["status"] == "confirmed", done["failureReason"]
        received = await chain.token_amount(str(FEE_MINT))
        # The transfer fee comes off what the wallet receives, and the quote already took it off.
        assert Decimal(received).scaleb(-6) == Decimal(done["amountOut"]) == Decimal(done["quotedAmountOut"])
        assert Pubkey.from_string(done["tokenOut"]["mint"]) == FEE_MINT
