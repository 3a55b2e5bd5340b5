"""Error classification on the exceptions solana-py really raises against the local network; only reply
shapes the localnet cannot produce (a public RPC's bare error codes) come from respx."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
import respx
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.core import RPCException
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from adapters.settlement import ChainRpc
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
from engine.runtime import free_port
from kernel.errors import FatalError, RetryableError
from kernel.settings import Network
from localnet import LocalnetHandle, running_localnet
from tests.adapters.settlement.helpers import (
    SOL_LAMPORTS,
    chain_config,
    rpc,
)

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
