"""Chain settlement against the local Solana network (`localnet`), driven over JSON-RPC like devnet.

Three localnets serve these tests: one with a fast running clock, one whose clock moves only on
``localnet_advanceSlots`` (expiry and dropped sends, step by step), and one with a faucet that refuses
everything (the fallback to the simulated ledger). Error classification is checked on the exceptions
solana-py really raises against them; only reply shapes the localnet cannot produce (a public RPC's bare
error codes) come from respx.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import based58
import httpx
import pytest
import redis.asyncio as aioredis
import respx
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.core import RPCException
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction, VersionedTransaction

from adapters.chain import ChainConfig, ChainRpc, FundedOrSimulated, SolanaSettlement
from adapters.chain.settlement import SIMULATED_ROUTE_NOTE
from adapters.simulated import build_simulated
from adapters.solana.errors import (
    AirdropRateLimited,
    AirdropRefused,
    BlockhashNotFound,
    NodeBehind,
    RpcRateLimited,
    RpcUnavailable,
    WalletUnfunded,
    classify,
)
from adapters.solana.spl import MEMO_PROGRAM_ID
from adapters.solana.transactions import decode_memo, memo_of
from engine.runtime import free_port
from kernel.errors import FatalError, RetryableError
from kernel.settings import Network, Settings
from kernel.tokens import Token, TokenRegistry
from kernel.venues import PreparedTx, Quote, QuoteRequest, SwapTicket, TxState, TxStatus
from localnet import LocalnetHandle, running_localnet

SOL_LAMPORTS = 1_000_000_000
T = TypeVar("T")


def _token(symbol: str) -> Token:
    found = TokenRegistry.for_network(Network.LOCALNET).resolve(symbol)
    assert found is not None
    return found


SOL, USDC = _token("SOL"), _token("USDC")


# --- helpers --------------------------------------------------------------------------------------


async def rpc(url: str, method: str, *params: Any) -> Any:
    """One raw JSON-RPC call (the localnet_* methods are never subject to injected faults)."""
    async with httpx.AsyncClient() as http:
        reply = (
            await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        ).json()
    assert "error" not in reply, reply
    return reply["result"]


async def advance(url: str, slots: int = 1) -> int:
    return int((await rpc(url, "localnet_advanceSlots", slots))["slot"])


async def wait_for(check: Callable[[], Awaitable[T | None]], what: str, limit_s: float = 30.0) -> T:
    """Poll ``check`` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def chain_config(url: str, network: Network = Network.LOCALNET, **overrides: Any) -> ChainConfig:
    options: dict[str, Any] = {"confirm_poll_ms": 20, "rpc_backoff_s": 0.01, "rpc_backoff_max_s": 0.05}
    return ChainConfig(network, url, **(options | overrides))


def ticket(order_id: str | None = None, amount_out: int = 150_250_000) -> SwapTicket:
    route = Quote("raydium", "7JuwJuNU88gurFnyWeiyGKbFmExMWcmRZntn9imEzdny", SOL_LAMPORTS, amount_out, 2_500_000,
                  SOL.mint, Decimal("150.25"), Decimal("0.02"))  # fmt: skip
    return SwapTicket(order_id or str(uuid.uuid4()), route, SOL, USDC, amount_out * 99 // 100)


async def landed(venue: Any, tx: PreparedTx) -> TxStatus:
    """Wait for a final status (landed or failed), asking in short rounds the way the engine does."""

    async def final() -> TxStatus | None:
        status: TxStatus = await venue.wait(tx, 0.5)
        return status if status.state in (TxState.LANDED, TxState.FAILED) else None

    return await wait_for(final, f"{tx.signature} to land")


async def fund(chain: ChainRpc, wallet: Pubkey, lamports: int = SOL_LAMPORTS) -> None:
    before = await chain.balance(wallet)
    await chain.request_airdrop(wallet, lamports)

    async def arrived() -> bool:
        return await chain.balance(wallet) >= before + lamports

    await wait_for(arrived, "the airdrop")


async def transfer_lamports(chain: ChainRpc, payer: Keypair, to: Pubkey, lamports: int) -> None:
    blockhash, _ = await chain.latest_blockhash()
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=lamports))
    await chain.send_raw(bytes(Transaction([payer], Message([ix], payer.pubkey()), blockhash)))


def secrets_of(keypair: Keypair) -> list[str]:
    return [based58.b58encode(bytes(keypair)).decode(), json.dumps(list(bytes(keypair))), str(list(bytes(keypair)))]


# --- fixtures -------------------------------------------------------------------------------------

FUNDER = Keypair()


@pytest.fixture(scope="module")
async def ticking() -> AsyncIterator[LocalnetHandle]:
    """A fast clock and an unlimited faucet."""
    async with running_localnet(slot_ms=20, finality_depth=4, fund=[str(FUNDER.pubkey())]) as net:
        yield net


@pytest.fixture(scope="module")
async def manual() -> AsyncIterator[LocalnetHandle]:
    """A clock that moves only on localnet_advanceSlots, and blockhashes that live 5 blocks."""
    async with running_localnet(slot_ms=0, finality_depth=4, blockhash_window=5, fund=[str(FUNDER.pubkey())]) as net:
        yield net


@pytest.fixture(scope="module")
async def dry() -> AsyncIterator[LocalnetHandle]:
    """A faucet that refuses every airdrop the way devnet's does when limited."""
    options = {"slot_ms": 20, "finality_depth": 4, "max_requests_per_address": 0, "fund": [str(FUNDER.pubkey())]}
    async with running_localnet(**options) as net:
        yield net


@pytest.fixture
async def settlement(ticking: LocalnetHandle) -> AsyncIterator[SolanaSettlement]:
    config = chain_config(ticking.url)
    venue = SolanaSettlement(config, ChainRpc(config), Keypair())
    await fund(venue.rpc, venue.wallet)
    yield venue
    await venue.aclose()


@pytest.fixture
async def manual_settlement(manual: LocalnetHandle) -> AsyncIterator[SolanaSettlement]:
    config = chain_config(manual.url)
    wallet = Keypair()
    venue = SolanaSettlement(config, ChainRpc(config), wallet)
    await transfer_lamports(venue.rpc, FUNDER, wallet.pubkey(), SOL_LAMPORTS)
    yield venue
    await venue.aclose()


def sim_settings(redis_url: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        solana_network=Network.LOCALNET,
        redis_url=redis_url,
        simulated_quote_latency_ms="0",  # type: ignore[arg-type]
        simulated_execution_latency_ms="0",  # type: ignore[arg-type]
    )


# --- landing ----------------------------------------------------------------------------------------


async def test_memo_only_swap_lands_once_with_the_order_in_its_memo(settlement: SolanaSettlement) -> None:
    t = ticket()
    before = await settlement.rpc.balance(settlement.wallet)
    tx = await settlement.prepare(t)
    assert tx.kind == "chain" and tx.note == SIMULATED_ROUTE_NOTE
    assert tx.last_valid > await settlement.rpc.block_height()
    assert settlement.explorer_url(tx.signature) is None  # a localnet has no public explorer
    for _ in range(3):  # a rebroadcast of the same bytes is the same signature: it cannot run twice
        await settlement.send(tx)
    status = await landed(settlement, tx)
    assert status.state is TxState.LANDED and status.amount_out == t.route.amount_out

    found = await settlement.rpc.get_transaction(Signature.from_string(tx.signature))
    assert found is not None and found.transaction.meta is not None
    meta = found.transaction.meta
    message = found.transaction.transaction.message  # type: ignore[union-attr]
    keys = [str(k) for k in message.account_keys]
    memos = [
        based58.b58decode(str(ix.data).encode())  # type: ignore[union-attr]
        for ix in message.instructions
        if keys[ix.program_id_index] == str(MEMO_PROGRAM_ID)  # type: ignore[union-attr]
    ]
    assert [decode_memo(m).order_id for m in memos] == [t.order_id]
    assert any(t.order_id in line for line in meta.log_messages or [])

    await settlement.send(tx)  # once more after landing: still nothing new
    assert await settlement.wait(tx, 0) == status
    assert before - await settlement.rpc.balance(settlement.wallet) == meta.fee


def budget_of(tx: PreparedTx) -> tuple[int, int]:
    """The (unit limit, unit price) a prepared transaction asks for."""
    ixs = VersionedTransaction.from_bytes(tx.raw).message.instructions
    price = int.from_bytes(bytes(ixs[1].data)[1:9], "little") if bytes(ixs[1].data)[:1] == b"\x03" else 0
    return int.from_bytes(bytes(ixs[0].data)[1:5], "little"), price


async def test_compute_budget_comes_from_the_simulation_and_the_settings(ticking: LocalnetHandle) -> None:
    wallet = Keypair()
    config = chain_config(ticking.url, compute_unit_price=7_777, compute_unit_margin=1.25)
    venue = SolanaSettlement(config, ChainRpc(config), wallet)
    try:
        await fund(venue.rpc, venue.wallet)
        tx = await venue.prepare(ticket())
        await venue.send(tx)
        await landed(venue, tx)
        found = await venue.rpc.get_transaction(Signature.from_string(tx.signature))
        assert found is not None and found.transaction.meta is not None
        used = found.transaction.meta.compute_units_consumed
        assert used is not None and budget_of(tx) == (-(-used * 125 // 100), 7_777)
        # Unset, the price is the RPC's recent fees (a percentile over recent slots) clamped to the range.
        assert 0 <= await venue.rpc.prioritization_fee([venue.wallet]) <= 7_777
        clamped = chain_config(ticking.url, compute_unit_price_min=10, compute_unit_price_max=5_000)
        second = SolanaSettlement(clamped, ChainRpc(clamped), wallet)
        try:
            assert 10 <= budget_of(await second.prepare(ticket()))[1] <= 5_000
        finally:
            await second.aclose()
    finally:
        await venue.aclose()


async def test_expiry_after_the_blockhash_window_and_a_never_sent_tx_stays_unknown(
    manual: LocalnetHandle, manual_settlement: SolanaSettlement
) -> None:
    venue = manual_settlement
    tx = await venue.prepare(ticket())
    assert (await venue.wait(tx, 0)).state is TxState.UNKNOWN
    assert not await venue.expired(tx)

    async def expired() -> bool:
        await advance(manual.url)
        return await venue.expired(tx)

    await wait_for(expired, "the blockhash to expire")
    assert await venue.rpc.block_height() > tx.last_valid
    await venue.send(tx)  # too late: the validator drops it
    await advance(manual.url, 3)
    assert (await venue.wait(tx, 0)).state is TxState.UNKNOWN


async def test_a_dropped_send_lands_on_rebroadcast(manual: LocalnetHandle, manual_settlement: SolanaSettlement) -> None:
    venue = manual_settlement
    tx = await venue.prepare(ticket())
    await rpc(manual.url, "localnet_setFaults", {"dropRate": 1.0})
    try:
        await venue.send(tx)
        await advance(manual.url, 2)
        assert (await venue.wait(tx, 0)).state is TxState.UNKNOWN
    finally:
        await rpc(manual.url, "localnet_setFaults", {"dropRate": 0.0})
    await venue.send(tx)
    assert (await venue.wait(tx, 0)).state is TxState.PENDING  # processed, not yet confirmed
    await advance(manual.url)
    status = await venue.wait(tx, 0)
    assert status.state is TxState.LANDED and status.amount_out == 150_250_000


async def test_rpc_retries_through_injected_429s_and_503s() -> None:
    wallet = Keypair()
    faults = {"rate_429": 0.3, "rate_5xx": 0.1, "seed": 5}
    async with running_localnet(slot_ms=20, finality_depth=4, fund=[str(wallet.pubkey())], **faults) as net:
        async with AsyncClient(net.url) as plain:  # without retries, some calls fail
            failures = 0
            for _ in range(30):
                try:
                    await plain.get_slot()
                except SolanaRpcException:
                    failures += 1
            assert failures > 0
        config = chain_config(net.url, rpc_max_attempts=15)
        venue = SolanaSettlement(config, ChainRpc(config), wallet)
        try:
            t = ticket()
            tx = await venue.prepare(t)
            await venue.send(tx)
            status = await landed(venue, tx)
            assert status.state is TxState.LANDED and status.amount_out == t.route.amount_out
        finally:
            await venue.aclose()


async def test_unfunded_wallet_is_rejected_at_prepare(ticking: LocalnetHandle) -> None:
    config = chain_config(ticking.url)
    venue = SolanaSettlement(config, ChainRpc(config), Keypair())
    try:
        with pytest.raises(WalletUnfunded, match="does not exist"):
            await venue.prepare(ticket())
        await transfer_lamports(venue.rpc, FUNDER, venue.wallet, 1_000)  # less than one fee

        async def arrived() -> bool:
            return await venue.rpc.balance(venue.wallet) == 1_000

        await wait_for(arrived, "the transfer")
        with pytest.raises(WalletUnfunded):
            await venue.prepare(ticket())
    finally:
        await venue.aclose()


# --- error classification on real solana-py exceptions ---------------------------------------------------


async def caught(call: Awaitable[Any]) -> BaseException:
    try:
        await call
    except BaseException as exc:
        return exc
    raise AssertionError("the call did not fail")


async def test_classifies_http_429_and_503() -> None:
    async with running_localnet(slot_ms=0) as net, AsyncClient(net.url) as client:
        await rpc(net.url, "localnet_setFaults", {"rate429": 1.0})
        exc = await caught(client.get_slot())
        assert isinstance(exc, SolanaRpcException)
        limited = classify(exc, "reading the slot")
        assert isinstance(limited, RpcRateLimited) and isinstance(limited, RetryableError)
        chain = ChainRpc(chain_config(net.url, rpc_max_attempts=3))
        with pytest.raises(RpcRateLimited):
            await chain.block_height()

        await rpc(net.url, "localnet_setFaults", {"rate429": 0.0, "rate5xx": 1.0})
        exc = await caught(client.get_balance(Keypair().pubkey()))
        assert isinstance(classify(exc, "reading a balance"), RpcUnavailable)
        with pytest.raises(RpcUnavailable, match="503"):
            await chain.balance(Keypair().pubkey())
        await rpc(net.url, "localnet_setFaults", {"rate5xx": 0.0})
        assert await chain.balance(Keypair().pubkey()) == 0
        await chain.aclose()


async def test_classifies_preflight_failures(manual: LocalnetHandle) -> None:
    async with AsyncClient(manual.url) as client:
        payer = Keypair()
        ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1))
        unknown_hash = Transaction([payer], Message([ix], payer.pubkey()), Hash.new_unique())
        exc = await caught(client.send_raw_transaction(bytes(unknown_hash)))  # with preflight: -32002
        assert isinstance(exc, RPCException)
        assert isinstance(classify(exc, "sending"), BlockhashNotFound)

        blockhash = (await client.get_latest_blockhash()).value.blockhash
        broke = Transaction([payer], Message([ix], payer.pubkey()), blockhash)
        exc = await caught(client.send_raw_transaction(bytes(broke)))
        assert isinstance(exc, RPCException)
        unfunded = classify(exc, "sending")
        assert isinstance(unfunded, WalletUnfunded) and unfunded.code == "wallet_unfunded"


async def test_classifies_faucet_refusals(dry: LocalnetHandle) -> None:
    async with AsyncClient(dry.url) as client:
        exc = await caught(client.request_airdrop(Keypair().pubkey(), SOL_LAMPORTS))
        assert isinstance(exc, SolanaRpcException)
        assert isinstance(classify(exc, "requesting an airdrop", airdrop=True), AirdropRateLimited)
        assert isinstance(classify(exc, "requesting an airdrop"), AirdropRateLimited)  # the body says so
    chain = ChainRpc(chain_config(dry.url))
    with pytest.raises(AirdropRateLimited, match="airdrop limit"):
        await chain.request_airdrop(Keypair().pubkey(), SOL_LAMPORTS)
    with pytest.raises(AirdropRefused):  # over the per-request cap
        await chain.request_airdrop(Keypair().pubkey(), 50 * SOL_LAMPORTS)
    await chain.aclose()


async def test_classifies_an_unreachable_node() -> None:
    chain = ChainRpc(chain_config(f"http://127.0.0.1:{free_port()}", rpc_max_attempts=2))
    with pytest.raises(RpcUnavailable, match="unreachable"):
        await chain.block_height()
    await chain.aclose()


async def test_classifies_public_rpc_reply_shapes() -> None:
    """Shapes only public endpoints produce: bare codes (solana-py returns them as ints), node behind."""
    url = "https://rpc.example.test"

    def reply(code: int, message: str, data: Any = None) -> httpx.Response:
        error: dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            error["data"] = data
        return httpx.Response(200, json={"jsonrpc": "2.0", "error": error, "id": 1})

    with respx.mock(assert_all_called=False) as router:
        route = router.post(url)
        chain = ChainRpc(chain_config(url, Network.DEVNET, rpc_max_attempts=2))
        route.return_value = reply(-32029, "Too many requests for airdrop")
        with pytest.raises(AirdropRateLimited):
            await chain.request_airdrop(Keypair().pubkey(), SOL_LAMPORTS)
        route.return_value = reply(429, "Too many requests")
        with pytest.raises(RpcRateLimited):
            await chain.balance(Keypair().pubkey())
        route.return_value = reply(-32603, "Internal error")
        with pytest.raises(AirdropRateLimited):
            await chain.request_airdrop(Keypair().pubkey(), SOL_LAMPORTS)
        route.return_value = reply(-32005, "Node is behind by 42 slots", {"numSlotsBehind": 42})
        with pytest.raises(NodeBehind):
            await chain.block_height()
        route.return_value = reply(-32601, "Method not found")
        with pytest.raises(FatalError):
            await chain.block_height()
        route.return_value = httpx.Response(429, json={"jsonrpc": "2.0", "error": {"code": 429, "message": "x"}})
        with pytest.raises(RpcRateLimited):
            await chain.prioritization_fee()
        assert route.call_count == 1 + 2 + 1 + 2 + 1 + 2  # retryable errors twice; faucet limits and fatal once
        await chain.aclose()


# --- funded or simulated ---------------------------------------------------------------------------


async def test_falls_back_to_the_ledger_while_the_faucet_is_limited_then_settles_on_chain(
    dry: LocalnetHandle, redis_url: str, redis: aioredis.Redis
) -> None:
    wallet = Keypair()
    config = chain_config(dry.url, Network.DEVNET, min_fee_balance_lamports=10_000_000)
    chain = SolanaSettlement(config, ChainRpc(config), wallet)
    dexes, ledger = build_simulated(sim_settings(redis_url), redis, wallet)
    venue = FundedOrSimulated(chain, ledger, balance_ttl_s=0, airdrop_cooldown_s=0)
    try:
        route = await dexes[0].quote(QuoteRequest(SOL, USDC, SOL_LAMPORTS))  # a fill the simulated pool honours
        t = SwapTicket(str(uuid.uuid4()), route, SOL, USDC, route.min_amount_out(100))
        simulated_tx = await venue.prepare(t)
        assert simulated_tx.kind == "simulated" and simulated_tx.note is not None
        assert simulated_tx.note == (
            f"wallet {str(wallet.pubkey())[:4]}… cannot pay fees (0 lamports) and the devnet faucet is "
            "rate-limited: settled on the simulated ledger"
        )
        assert not any(secret in simulated_tx.note for secret in secrets_of(wallet))
        await venue.send(simulated_tx)
        simulated_status = await landed(venue, simulated_tx)
        assert simulated_status.state is TxState.LANDED and simulated_status.amount_out

        await transfer_lamports(chain.rpc, FUNDER, wallet.pubkey(), SOL_LAMPORTS)

        async def on_chain() -> PreparedTx | None:
            tx = await venue.prepare(t)
            return tx if tx.kind == "chain" else None

        chain_tx = await wait_for(on_chain, "chain settlement to resume")
        assert chain_tx.note == SIMULATED_ROUTE_NOTE
        await venue.send(chain_tx)
        status = await landed(venue, chain_tx)
        assert status.state is TxState.LANDED and status.amount_out == t.route.amount_out
        decoded = memo_of(VersionedTransaction.from_bytes(chain_tx.raw))
        assert decoded is not None and decoded.order_id == t.order_id
        # Each transaction is still confirmed on the venue that built it.
        assert await venue.wait(simulated_tx, 0) == simulated_status
        assert not await venue.expired(chain_tx)
        assert venue.explorer_url(chain_tx.signature) == (
            f"https://explorer.solana.com/tx/{chain_tx.signature}?cluster=devnet"
        )
    finally:
        await venue.aclose()


async def test_an_empty_wallet_is_funded_by_the_faucet(
    ticking: LocalnetHandle, redis_url: str, redis: aioredis.Redis
) -> None:
    wallet = Keypair()
    config = chain_config(ticking.url, airdrop_lamports=SOL_LAMPORTS // 2)
    chain = SolanaSettlement(config, ChainRpc(config), wallet)
    _, ledger = build_simulated(sim_settings(redis_url), redis, wallet)
    venue = FundedOrSimulated(chain, ledger)
    try:
        tx = await venue.prepare(ticket())
        assert tx.kind == "chain" and tx.note == SIMULATED_ROUTE_NOTE
        assert await chain.rpc.balance(wallet.pubkey()) == SOL_LAMPORTS // 2
    finally:
        await venue.aclose()


async def test_without_a_faucet_or_when_the_chain_says_unfunded(
    ticking: LocalnetHandle, redis_url: str, redis: aioredis.Redis
) -> None:
    wallet = Keypair()
    _, ledger = build_simulated(sim_settings(redis_url), redis, wallet)
    mainnet = chain_config(ticking.url, Network.MAINNET)
    venue = FundedOrSimulated(SolanaSettlement(mainnet, ChainRpc(mainnet), wallet), ledger)
    try:
        tx = await venue.prepare(ticket())
        assert tx.kind == "simulated" and tx.note is not None and "mainnet-beta has no faucet" in tx.note
        assert await venue.chain.rpc.balance(wallet.pubkey()) == 0  # no airdrop was asked for
    finally:
        await venue.chain.aclose()

    # No minimum balance configured: the chain's own answer (the simulation) decides.
    lenient = chain_config(ticking.url, Network.MAINNET, min_fee_balance_lamports=0)
    venue = FundedOrSimulated(SolanaSettlement(lenient, ChainRpc(lenient), wallet), ledger)
    try:
        tx = await venue.prepare(ticket())
        assert tx.kind == "simulated" and tx.note == (
            f"wallet {str(wallet.pubkey())[:4]}… cannot pay fees: the fee payer's account does not exist: "
            "settled on the simulated ledger"
        )
    finally:
        await venue.aclose()
