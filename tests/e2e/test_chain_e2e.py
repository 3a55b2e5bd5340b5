"""The engine settling on a Solana network: ``oee localnet`` (LiteSVM behind JSON-RPC) over HTTP.

The engine runs as real processes with ``SOLANA_NETWORK=localnet``; routing is simulated, so each
order lands one transaction carrying its memo. The ledger is read back over JSON-RPC.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import based58
import httpx
import orjson
import pytest
from solders.keypair import Keypair

from localnet import LocalnetHandle, start_localnet
from tests.support import EngineProcesses, base_env, eventually

ORDER = {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.25", "slippageBps": 100}
TERMINAL = ("confirmed", "failed")


def rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    reply = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=30)
    body = reply.json()
    assert "error" not in body, body
    return body["result"]


def memos_by_order(url: str, wallet: str) -> Counter[str]:
    """Order ID -> number of successful transactions from ``wallet`` whose memo names that order."""
    found: Counter[str] = Counter()
    for entry in rpc(url, "getSignaturesForAddress", [wallet, {"limit": 1000, "commitment": "confirmed"}]):
        if entry.get("err") is not None:
            continue
        tx = rpc(url, "getTransaction", [entry["signature"], {"encoding": "jsonParsed", "commitment": "confirmed"}])
        if tx is None:  # the funding airdrop: the local network keeps no transaction for it
            continue
        for ix in tx["transaction"]["message"]["instructions"]:
            if ix.get("program") == "spl-memo":
                memo = orjson.loads(ix["parsed"])
                found[memo["order"]] += 1
    return found


@pytest.fixture
def wallet() -> Keypair:
    return Keypair()


@pytest.fixture
def localnet(wallet: Keypair, request: pytest.FixtureRequest) -> Iterator[LocalnetHandle]:
    """A local network with 50 ms slots funding ``wallet``; ``@pytest.mark.localnet(...)`` overrides options."""
    options: dict[str, Any] = {"slot_ms": 50, "blockhash_window": 600, "finality_depth": 4}
    marker = request.node.get_closest_marker("localnet")
    if marker is not None:
        options.update(marker.kwargs)
    net = start_localnet(fund=[str(wallet.pubkey())], **options)
    yield net
    net.stop()


@pytest.fixture
def chain_env(database_url: str, redis_url: str, localnet: LocalnetHandle, wallet: Keypair) -> dict[str, str]:
    return base_env(
        database_url,
        redis_url,
        OEE_NAMESPACE=f"oee:chain:{uuid.uuid4().hex[:6]}",
        SOLANA_NETWORK="localnet",
        SOLANA_RPC_URL=localnet.url,
        SOLANA_PRIVATE_KEY=based58.b58encode(bytes(wallet)).decode(),
        CONFIRM_POLL_MS="50",
        REBROADCAST_MS="300",
        RPC_MAX_ATTEMPTS="8",
        LOG_LEVEL="INFO",
    )


@pytest.fixture
def engine(chain_env: dict[str, str], tmp_path: Path) -> Iterator[EngineProcesses]:
    procs = EngineProcesses(chain_env, log_dir=tmp_path)
    yield procs
    procs.stop()


async def health(engine: EngineProcesses) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=engine.base_url, timeout=5) as client:
        return (await client.get("/health")).json()  # type: ignore[no-any-return]


async def submit(engine: EngineProcesses, n: int) -> list[str]:
    async with engine.client(timeout=30) as client:
        responses = await asyncio.gather(*(client.post("/api/orders/execute", json=ORDER) for _ in range(n)))
    assert [r.status_code for r in responses] == [202] * n
    return [r.json()["orderId"] for r in responses]


async def orders(engine: EngineProcesses, ids: list[str]) -> list[dict[str, Any]]:
    async with engine.client(timeout=30) as client:
        return [r.json() for r in await asyncio.gather(*(client.get(f"/api/orders/{i}") for i in ids))]


async def all_terminal(engine: EngineProcesses, ids: list[str], within: float = 120) -> list[dict[str, Any]]:
    return await eventually(
        lambda: orders(engine, ids),
        lambda os: all(o["status"] in TERMINAL for o in os),
        within=within,
        interval=0.2,
        describe=lambda os: Counter(o["status"] for o in os),
    )


def assert_landed_once(localnet: LocalnetHandle, wallet: Keypair, finished: list[dict[str, Any]]) -> None:
    assert [o["status"] for o in finished] == ["confirmed"] * len(finished), [o["failureReason"] for o in finished]
    assert all(o["settlement"]["kind"] == "chain" for o in finished)
    landed = memos_by_order(localnet.url, str(wallet.pubkey()))
    assert {o["orderId"]: 1 for o in finished} == {oid: landed[oid] for oid in (o["orderId"] for o in finished)}


async def test_a_batch_settles_on_chain_one_transaction_per_order(
    engine: EngineProcesses, localnet: LocalnetHandle, wallet: Keypair
) -> None:
    engine.start()
    engine.wait_healthy()
    ids = await submit(engine, 12)
    finished = await all_terminal(engine, ids)
    assert_landed_once(localnet, wallet, finished)
    for order in finished:
        status = rpc(localnet.url, "getSignatureStatuses", [[order["txHash"]], {"searchTransactionHistory": True}])
        assert status["value"][0]["err"] is None
        assert order["amountOut"] == order["route"]["amountOut"]  # simulated routing: the memo's fill
        assert "moves no tokens" in order["settlement"]["note"]


async def test_dropped_sends_and_rate_limits_still_land_exactly_once(
    engine: EngineProcesses, localnet: LocalnetHandle, wallet: Keypair
) -> None:
    engine.start()
    engine.wait_healthy()
    rpc(localnet.url, "localnet_setFaults", [{"dropRate": 0.3, "rate429": 0.1, "seed": 11}])
    ids = await submit(engine, 12)
    finished = await all_terminal(engine, ids, within=180)
    rpc(localnet.url, "localnet_setFaults", [{"dropRate": 0, "rate429": 0}])
    assert_landed_once(localnet, wallet, finished)


async def test_worker_killed_between_send_and_confirm_confirms_the_same_signature(
    engine: EngineProcesses, localnet: LocalnetHandle, wallet: Keypair
) -> None:
    engine.env["JOB_TIMEOUT_S"] = "3"
    engine.start()
    engine.wait_healthy()
    # Transactions are executed only 40 slots (2 s) after they are sent: a window to kill the worker in.
    rpc(localnet.url, "localnet_setFaults", [{"delaySlots": 40}])
    ids = await submit(engine, 4)
    sent = await eventually(
        lambda: orders(engine, ids),
        lambda os: all(o["status"] == "submitted" for o in os),
        within=60,
        describe=lambda os: Counter(o["status"] for o in os),
    )
    engine.kill_workers()
    rpc(localnet.url, "localnet_setFaults", [{"delaySlots": 0}])
    engine.start_worker()
    finished = await all_terminal(engine, ids)
    assert [o["txHash"] for o in finished] == [o["txHash"] for o in sent]
    assert_landed_once(localnet, wallet, finished)


@pytest.mark.localnet(blockhash_window=30)
async def test_an_expired_transaction_is_rebuilt_and_lands_once(
    engine: EngineProcesses, localnet: LocalnetHandle, wallet: Keypair
) -> None:
    engine.env["ORDER_RETRY_BASE_MS"] = "1000"  # the faults are lifted while the order backs off
    engine.start()
    engine.wait_healthy()
    rpc(localnet.url, "localnet_setFaults", [{"dropRate": 1}])
    (order_id,) = await submit(engine, 1)

    async def events() -> list[dict[str, Any]]:
        return (await orders(engine, [order_id]))[0]["events"]

    await eventually(events, lambda es: any(e["data"].get("expired") for e in es), within=60, interval=0.1)
    rpc(localnet.url, "localnet_setFaults", [{"dropRate": 0}])
    (finished,) = await all_terminal(engine, [order_id])
    expired = [e["data"]["txHash"] for e in finished["events"] if e["data"].get("expired")]
    assert len(expired) == 1 and expired[0] != finished["txHash"]
    assert finished["attemptCount"] == 2
    assert_landed_once(localnet, wallet, [finished])


async def test_an_unfunded_wallet_with_a_limited_faucet_settles_as_simulated_and_says_why(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    poor = Keypair()
    net = start_localnet(slot_ms=50, max_requests_global=0)
    env = base_env(
        database_url, redis_url, OEE_NAMESPACE=f"oee:chain:{uuid.uuid4().hex[:6]}", SOLANA_NETWORK="localnet",
        SOLANA_RPC_URL=net.url, SOLANA_PRIVATE_KEY=based58.b58encode(bytes(poor)).decode(), LOG_LEVEL="INFO",
    )  # fmt: skip
    procs = EngineProcesses(env, log_dir=tmp_path)
    try:
        procs.start()
        procs.wait_answering()
        # Health says so before any order: the wallet is below the fee floor.
        unfunded = await eventually(lambda: health(procs), lambda h: bool(h["workers"]))
        assert unfunded["status"] == "degraded" and any("below the fee floor" in r for r in unfunded["degraded"])
        ids = await submit(procs, 3)
        finished = await all_terminal(procs, ids)
        # Once the faucet refused, orders are falling back to the simulated ledger, and health says that too.
        falling_back = await eventually(
            lambda: health(procs), lambda h: any(w["fallback"] for w in h["workers"]), within=30
        )
    finally:
        procs.stop()
        net.stop()
    [worker] = falling_back["workers"]
    assert "rate-limited" in worker["fallback"] and worker["wallet"]["address"] == str(poor.pubkey())
    assert any(r.startswith("worker ") and "simulated ledger" in r for r in falling_back["degraded"])
    assert [o["status"] for o in finished] == ["confirmed"] * 3
    for order in finished:
        assert order["settlement"]["kind"] == "simulated"
        assert "rate-limited" in order["settlement"]["note"]
        assert str(poor.pubkey())[:4] in order["settlement"]["note"]
        assert any(e["data"].get("note") == order["settlement"]["note"] for e in order["events"])


async def test_the_secret_key_appears_in_no_log_or_response(
    engine: EngineProcesses, chain_env: dict[str, str], wallet: Keypair, tmp_path: Path
) -> None:
    engine.start()
    engine.wait_healthy()
    ids = await submit(engine, 2)
    finished = await all_terminal(engine, ids)
    said = await health(engine)
    engine.stop()
    # Health is honest about the chain: the network, the RPC's latency, the wallet's address and balance.
    assert said["status"] == "ok", said
    [worker] = said["workers"]
    assert (worker["network"], worker["settlement"], worker["fallback"]) == ("localnet", "chain", None)
    assert worker["rpc"]["reachable"] is True and worker["rpc"]["latencyMs"] >= 0
    assert worker["wallet"]["address"] == str(wallet.pubkey())
    assert worker["wallet"]["balanceLamports"] >= worker["wallet"]["minFeeBalanceLamports"] > 0
    finished.append(said)  # and shows neither the key nor the RPC URL
    assert chain_env["SOLANA_RPC_URL"] not in orjson.dumps(said).decode()
    secret_b58 = chain_env["SOLANA_PRIVATE_KEY"]
    secret_json = orjson.dumps(list(bytes(wallet))).decode()
    seed_b58 = based58.b58encode(bytes(wallet)[:32]).decode()
    logs = await asyncio.to_thread(lambda: "".join(p.read_text() for p in tmp_path.glob("*.log")))
    assert "worker ready" in logs  # the processes' output was captured
    for text in (logs, orjson.dumps(finished).decode()):
        for secret in (secret_b58, secret_json, seed_b58):
            assert secret not in text


def test_a_malformed_key_stops_the_worker_with_a_clear_error(chain_env: dict[str, str]) -> None:
    env = {**chain_env, "SOLANA_PRIVATE_KEY": "5" * 40}
    result = subprocess.run(
        [sys.executable, "-m", "tools.cli", "worker", "--burst"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SOLANA_PRIVATE_KEY" in result.stderr
    assert "5" * 40 not in result.stderr + result.stdout


def test_wallet_setup_command_reports_a_rate_limited_faucet(tmp_path: Path) -> None:
    net = start_localnet(slot_ms=50, max_requests_global=0)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tools.cli", "wallet", "setup", "--network", "localnet", "--rpc-url", net.url,
             "--keypair", str(tmp_path / "id.json"), "--env-file", str(tmp_path / ".env")],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip
    finally:
        net.stop()
    assert result.returncode == 2, result.stdout + result.stderr
    assert "rate-limited" in result.stderr
    assert "Traceback" not in result.stderr
    keypair = Keypair.from_bytes(bytes(orjson.loads((tmp_path / "id.json").read_text())))
    assert str(keypair.pubkey()) in result.stdout + result.stderr


async def test_health_says_when_the_rpc_stops_answering(engine: EngineProcesses, localnet: LocalnetHandle) -> None:
    engine.env["WORKER_STATUS_INTERVAL_S"] = "0.5"
    engine.start()
    engine.wait_healthy()
    localnet.stop()
    said = await eventually(lambda: health(engine), lambda h: h["status"] == "degraded", within=30)
    [worker] = said["workers"]
    assert worker["rpc"]["reachable"] is False and worker["rpc"]["error"]
    assert any("localnet RPC unreachable" in r for r in said["degraded"])
