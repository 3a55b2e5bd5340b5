"""The localnet's request tally (``localnet_requests``): each client's calls by method, the accounts they named,
and the notifications pushed to it, told apart by socket."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import websockets
from solders.keypair import Keypair

from localnet import LocalnetHandle, running_localnet

OWNER = "11111111111111111111111111111111"


@pytest.fixture
async def net() -> AsyncIterator[LocalnetHandle]:
    async with running_localnet(slot_ms=0) as handle:
        yield handle


async def _call(http: httpx.AsyncClient, url: str, method: str, *params: Any) -> Any:
    reply = (await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})).json()
    assert "error" not in reply, reply
    return reply["result"]


def _placed(address: str, data: bytes) -> dict[str, Any]:
    return {"pubkey": address, "account": {"lamports": 1_000_000, "data": [base64.b64encode(data).decode(), "base64"],
                                           "owner": OWNER, "executable": False}}  # fmt: skip


def _by(tally: dict[str, Any], section: str, peer: str) -> dict[str, int]:
    rows = [r for r in tally[section] if r["peer"] == peer]
    return {r.get("method") or r.get("account") or "all": r["count"] for r in rows}


async def test_requests_are_counted_per_client_method_and_account(net: LocalnetHandle) -> None:
    a, b = str(Keypair().pubkey()), str(Keypair().pubkey())
    async with httpx.AsyncClient() as one, httpx.AsyncClient() as other, httpx.AsyncClient() as admin:
        await _call(one, net.url, "getMultipleAccounts", [a, b], {"encoding": "base64"})
        await _call(one, net.url, "getMultipleAccounts", [a], {"encoding": "base64"})
        await _call(other, net.url, "getAccountInfo", b, {"encoding": "base64"})
        await _call(other, net.url, "getSlot")
        tally = await _call(admin, net.url, "localnet_requests")
    http = [r for r in tally["requests"] if r["transport"] == "http" and not r["method"].startswith("localnet_")]
    peers = {r["peer"] for r in http}
    assert len(peers) == 2  # one entry per socket, never merged
    by_peer = {p: {r["method"]: r["count"] for r in http if r["peer"] == p} for p in peers}
    first = next(p for p, methods in by_peer.items() if "getMultipleAccounts" in methods)
    second = next(p for p in peers if p != first)
    assert by_peer[first] == {"getMultipleAccounts": 2}
    assert by_peer[second] == {"getAccountInfo": 1, "getSlot": 1}
    assert _by(tally, "reads", first) == {a: 2, b: 1}
    assert _by(tally, "reads", second) == {b: 1}


async def test_pubsub_subscriptions_and_notifications_are_counted_and_reset(net: LocalnetHandle) -> None:
    address = str(Keypair().pubkey())
    async with websockets.connect(net.ws_url) as ws, httpx.AsyncClient() as http:
        params = [address, {"encoding": "base64", "commitment": "processed"}]
        await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "accountSubscribe", "params": params}))
        assert "result" in orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        host, port = ws.local_address[:2]
        peer = f"{host}:{port}"
        for fill in (1, 2):
            await _call(http, net.url, "localnet_setAccount", _placed(address, bytes([fill]) * 8))
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["method"] == "accountNotification"
        tally = await _call(http, net.url, "localnet_requests", {"reset": True})
        mine = [r for r in tally["requests"] if r["peer"] == peer]
        assert mine == [{"transport": "pubsub", "peer": peer, "method": "accountSubscribe", "count": 1}]
        assert _by(tally, "reads", peer) == {address: 1}
        assert _by(tally, "notifications", peer) == {"all": 2}
        after = await _call(http, net.url, "localnet_requests")
        assert not _by(after, "notifications", peer) and not _by(after, "reads", peer)
        assert not [r for r in after["requests"] if r["peer"] == peer]
