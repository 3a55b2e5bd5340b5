"""The localnet's PubSub WebSocket, through solana-py's own websocket client: each subscription kind notifies."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import orjson
import websockets
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed, Processed
from solana.rpc.websocket_api import SolanaWsClientProtocol, connect
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.rpc.config import RpcTransactionLogsFilterMentions
from solders.rpc.responses import (
    AccountNotification,
    LogsNotification,
    SignatureNotification,
    SlotNotification,
    SubscriptionResult,
    UnsubscribeResult,
)

from localnet import LocalnetHandle
from tests.localnet.helpers import MEMO_PROGRAM, SOL, funded, transfer_tx
from tests.support import json_rpc as rpc

NOTICE_S = 20.0


async def _subscribed(ws: SolanaWsClientProtocol) -> int:
    reply = await _next(ws, SubscriptionResult)
    return int(reply.result)


async def _next(ws: SolanaWsClientProtocol, kind: type[Any]) -> Any:
    """The next message of ``kind``, skipping answers to unsubscribes."""
    while True:
        for message in await asyncio.wait_for(ws.recv(), NOTICE_S):
            if isinstance(message, kind):
                return message


def _account_json(lamports: int, data: bytes, owner: Pubkey) -> dict[str, Any]:
    return {"lamports": lamports, "data": [base64.b64encode(data).decode(), "base64"], "owner": str(owner)}


async def test_the_cli_url_pair_is_rpc_then_port_plus_one(ticking: LocalnetHandle) -> None:
    host, port = ticking.url.removeprefix("http://").split(":")
    assert ticking.ws_url == f"ws://{host}:{int(port) + 1}"


async def test_account_notifies_on_a_transfer_and_on_a_placed_account(
    ticking: LocalnetHandle, client: AsyncClient
) -> None:
    payer = await funded(client)
    target = Keypair().pubkey()
    async with connect(ticking.ws_url) as ws:
        await ws.account_subscribe(target, Processed, "base64")
        number = await _subscribed(ws)
        blockhash = (await client.get_latest_blockhash()).value.blockhash
        await client.send_raw_transaction(bytes(transfer_tx(payer, target, SOL // 4, blockhash)))
        note = await _next(ws, AccountNotification)
        assert note.subscription == number and note.result.value.lamports == SOL // 4
        # an account placed at run time notifies too, with its bytes
        owner = Keypair().pubkey()
        await rpc(ticking.url, "localnet_setAccount", {"pubkey": str(target),
                                                        "account": _account_json(10**9, b"pool", owner)})  # fmt: skip
        placed = await _next(ws, AccountNotification)
        assert placed.result.value.owner == owner and bytes(placed.result.value.data) == b"pool"
        await ws.account_unsubscribe(number)


async def test_account_at_confirmed_waits_a_slot(ticking: LocalnetHandle, client: AsyncClient) -> None:
    target = Keypair().pubkey()
    async with connect(ticking.ws_url) as ws:
        await ws.account_subscribe(target, Confirmed)
        await _subscribed(ws)
        before = (await client.get_slot(Processed)).value
        await rpc(ticking.url, "localnet_setAccount", str(target), _account_json(5_000_000, b"", Pubkey.default()))
        note = await _next(ws, AccountNotification)
        assert note.result.context.slot >= before + 1


async def test_signature_notifies_once_the_transaction_lands(ticking: LocalnetHandle, client: AsyncClient) -> None:
    payer = await funded(client)
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    tx = transfer_tx(payer, Keypair().pubkey(), SOL // 10, blockhash)
    async with connect(ticking.ws_url) as ws:
        await ws.signature_subscribe(tx.signatures[0], Confirmed)
        number = await _subscribed(ws)
        await client.send_raw_transaction(bytes(tx))
        note = await _next(ws, SignatureNotification)
        assert note.subscription == number and note.result.value.err is None
        landed = (await client.get_signature_statuses([tx.signatures[0]])).value[0]
        assert landed is not None and note.result.context.slot == landed.slot
    # a signature that already landed notifies at once
    async with connect(ticking.ws_url) as ws:
        await ws.signature_subscribe(tx.signatures[0], Processed)
        await _subscribed(ws)
        assert (await _next(ws, SignatureNotification)).result.value.err is None


async def test_logs_notify_for_all_and_for_a_mentioned_account(ticking: LocalnetHandle, client: AsyncClient) -> None:
    from solders.instruction import Instruction

    payer = await funded(client)
    memo = Instruction(MEMO_PROGRAM, b"watched", [])
    async with connect(ticking.ws_url) as ws:
        await ws.logs_subscribe(RpcTransactionLogsFilterMentions(MEMO_PROGRAM), Processed)
        mentions = await _subscribed(ws)
        blockhash = (await client.get_latest_blockhash()).value.blockhash
        tx = transfer_tx(payer, Keypair().pubkey(), 1_000_000, blockhash, memo)
        await client.send_raw_transaction(bytes(tx))
        note = await _next(ws, LogsNotification)
        assert note.subscription == mentions and note.result.value.signature == tx.signatures[0]
        assert any("watched" in line for line in note.result.value.logs)
        await ws.logs_unsubscribe(mentions)
        assert (await _next(ws, UnsubscribeResult)).result is True
        await ws.logs_subscribe(commitment=Processed)
        await _subscribed(ws)
        blockhash = (await client.get_latest_blockhash()).value.blockhash
        other = transfer_tx(payer, Keypair().pubkey(), 2_000_000, blockhash)
        await client.send_raw_transaction(bytes(other))
        seen = await _next(ws, LogsNotification)
        assert seen.result.value.signature == other.signatures[0] and seen.result.value.err is None


async def test_slots_notify_as_they_advance(ticking: LocalnetHandle) -> None:
    async with connect(ticking.ws_url) as ws:
        await ws.slot_subscribe()
        number = await _subscribed(ws)
        first = await _next(ws, SlotNotification)
        second = await _next(ws, SlotNotification)
        assert first.subscription == number and second.result.slot > first.result.slot
        assert second.result.parent == second.result.slot - 1 and second.result.root <= second.result.slot
        await ws.slot_unsubscribe(number)


async def test_an_unknown_subscription_or_method_is_an_error(ticking: LocalnetHandle) -> None:
    async with websockets.connect(ticking.ws_url) as ws:
        await ws.send('{"jsonrpc":"2.0","id":7,"method":"accountUnsubscribe","params":[987654]}')
        assert orjson.loads(await asyncio.wait_for(ws.recv(), NOTICE_S))["error"]["code"] == -32602
        await ws.send('{"jsonrpc":"2.0","id":8,"method":"blockSubscribe","params":["all"]}')
        assert orjson.loads(await asyncio.wait_for(ws.recv(), NOTICE_S))["error"]["code"] == -32601
