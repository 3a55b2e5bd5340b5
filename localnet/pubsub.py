"""The localnet's PubSub WebSocket: Solana's subscriptions, on the RPC port + 1 as ``solana-test-validator``.

``accountSubscribe``, ``signatureSubscribe``, ``logsSubscribe`` and ``slotSubscribe`` (and their
unsubscribes) answer with a subscription number, then push notifications in the validator's shapes::

    {"jsonrpc": "2.0", "method": "accountNotification",
     "params": {"result": {"context": {"slot": 5}, "value": {...}}, "subscription": 3}}

A subscription at ``processed`` hears of a change as the transaction lands (or the account is placed); at
``confirmed`` or ``finalized`` once the change's slot is that deep, with the account as it is then, as a
validator's bank at that commitment would show it. An account notification is sent only when the
account's lamports, owner or data differ from the last one sent on that subscription, so a failed
transaction that merely named it writable says nothing. Signature subscriptions fire once and end.

The chain calls :class:`PubSub` (a :class:`~localnet.chain.ChainObserver`) from its own event loop; each
socket drains its own queue, so a slow client never blocks the chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from solders.pubkey import Pubkey
from solders.signature import Signature
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from localnet.accounts import encode_account
from localnet.chain import Chain
from localnet.encoding import error_json
from localnet.methods import RpcError, config_at, invalid, pubkey_param
from localnet.records import Commitment, TxRecord
from localnet.tally import RequestTally, peer_of

log = logging.getLogger("oee.localnet.pubsub")

CLOCK_SYSVAR = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")

# A client that stops reading loses its socket rather than the localnet's memory.
MAX_QUEUED = 10_000
_KINDS = {"accountSubscribe": "account", "signatureSubscribe": "signature", "logsSubscribe": "logs",
          "slotSubscribe": "slot"}  # fmt: skip
_UNSUBSCRIBE = {"accountUnsubscribe": "account", "signatureUnsubscribe": "signature", "logsUnsubscribe": "logs",
                "slotUnsubscribe": "slot"}  # fmt: skip


@dataclass(eq=False, slots=True)
class Subscription:
    """One client subscription. ``key`` is the account (account), the signature (signature), or the mentioned
    account (logs; None for all); ``depth`` the slots its commitment waits."""

    number: int
    kind: str
    send: Callable[[dict[str, Any]], None]
    depth: int = 0
    key: Pubkey | Signature | None = None
    encoding: str = "base64"
    last_sent: tuple[int, bytes, bytes] | None = None


@dataclass(eq=False, slots=True)
class _Client:
    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(MAX_QUEUED))
    numbers: set[int] = field(default_factory=set)
    fresh: set[int] = field(default_factory=set)  # answered in this message; settled once the answer is queued
    peer: str = "?"
    tally: RequestTally | None = None
    overflowed: bool = False

    def push(self, message: dict[str, Any]) -> None:
        if self.tally is not None and "method" in message:  # a notification, not an answer
            self.tally.notified(self.peer)
        try:
            self.queue.put_nowait(orjson.dumps(message))
        except asyncio.QueueFull:
            self.overflowed = True


class PubSub:
    """The subscriptions of every socket, fed by the chain."""

    def __init__(self, chain: Chain, tally: RequestTally | None = None) -> None:
        self.chain = chain
        self.tally = tally or RequestTally()
        self._numbers = itertools.count(1)
        self._subs: dict[int, Subscription] = {}
        self._due: dict[int, list[Callable[[], None]]] = {}
        chain.observers.append(self)

    # --- subscribing ----------------------------------------------------------------------------------

    def subscribe(self, method: str, params: list[Any], send: Callable[[dict[str, Any]], None]) -> Subscription:
        kind = _KINDS[method]
        config = config_at(params, 1) if kind != "slot" else {}
        sub = Subscription(next(self._numbers), kind, send, self.chain.depth_of(_commitment(config)))
        if kind == "account":
            sub.key = pubkey_param(params[0] if params else None)
            sub.encoding = str(config.get("encoding") or "base64")
            if sub.encoding not in ("base64", "base58", "base64+zstd", "jsonParsed"):
                raise invalid(f"Invalid params: unsupported encoding {sub.encoding!r}")
            sub.last_sent = self._fingerprint(sub.key)
        elif kind == "signature":
            try:
                sub.key = Signature.from_string(str(params[0] if params else None))
            except ValueError as exc:
                raise invalid(f"Invalid param: {exc}") from exc
        elif kind == "logs":
            sub.key = _logs_filter(params[0] if params else None)
        self._subs[sub.number] = sub
        return sub

    def settle(self, sub: Subscription) -> None:
        """Once the subscription's number is sent: a signature that already landed deep enough notifies now."""
        if sub.kind == "signature":
            self._check_signature(sub)

    def unsubscribe(self, method: str, params: list[Any]) -> bool:
        number = params[0] if params else None
        sub = self._subs.get(number) if isinstance(number, int) else None
        if sub is None or sub.kind != _UNSUBSCRIBE[method]:
            raise invalid("Invalid subscription id.")
        del self._subs[sub.number]
        return True

    def drop(self, numbers: set[int]) -> None:
        for number in numbers:
            self._subs.pop(number, None)

    # --- the chain's events ---------------------------------------------------------------------------

    def on_slot(self, slot: int) -> None:
        for action in self._due.pop(slot, []):
            action()
        for sub in list(self._subs.values()):
            if sub.kind == "account" and sub.key == CLOCK_SYSVAR:
                self._later(sub.depth, functools.partial(self._send_account, sub))  # the Clock changes every slot
            elif sub.kind == "slot":
                root = self.chain.commitment_slot(Commitment.FINALIZED)
                sub.send(_notification("slotNotification", {"parent": max(0, slot - 1), "root": root, "slot": slot},
                                       sub.number))  # fmt: skip
            elif sub.kind == "signature" and sub.depth > 0:
                self._check_signature(sub)

    def on_transaction(self, record: TxRecord, writable: frozenset[Pubkey]) -> None:
        mentioned: set[Pubkey] | None = None
        for sub in list(self._subs.values()):
            if sub.kind == "account" and sub.key in writable:
                self._later(sub.depth, functools.partial(self._send_account, sub))
            elif sub.kind == "signature" and sub.key == record.signature and sub.depth == 0:
                self._check_signature(sub)
            elif sub.kind == "logs":
                if sub.key is not None:
                    mentioned = mentioned if mentioned is not None else self._mentions(record)
                    if sub.key not in mentioned:
                        continue
                self._later(sub.depth, functools.partial(self._send_logs, sub, record))

    def on_accounts(self, keys: frozenset[Pubkey]) -> None:
        for sub in list(self._subs.values()):
            if sub.kind == "account" and sub.key in keys:
                self._later(sub.depth, functools.partial(self._send_account, sub))

    # --- notifications --------------------------------------------------------------------------------

    def _later(self, depth: int, action: Callable[[], None]) -> None:
        if depth == 0:
            action()
        else:
            self._due.setdefault(self.chain.slot + depth, []).append(action)

    def _fingerprint(self, key: Pubkey) -> tuple[int, bytes, bytes] | None:
        account = self.chain.account(key)
        if account is None or account.lamports == 0:
            return None
        return account.lamports, bytes(account.owner), bytes(account.data)

    def _send_account(self, sub: Subscription) -> None:
        if sub.number not in self._subs or not isinstance(sub.key, Pubkey):
            return
        now = self._fingerprint(sub.key)
        if now == sub.last_sent:
            return
        sub.last_sent = now
        account = self.chain.account(sub.key)
        if now is None or account is None:
            # A closed account is reported as an empty system account, as a validator does.
            value: dict[str, Any] = {"lamports": 0, "data": ["", "base64"], "owner": "11111111111111111111111111111111",
                                     "executable": False, "rentEpoch": 0, "space": 0}  # fmt: skip
        else:
            value = encode_account(account, sub.encoding, self.chain.decimals_of)
        sub.send(_notification("accountNotification", self._context(value), sub.number))

    def _check_signature(self, sub: Subscription) -> None:
        if sub.number not in self._subs or not isinstance(sub.key, Signature):
            return
        record = self.chain.transaction(sub.key)
        if record is None or self.chain.slot - record.slot < sub.depth:
            return
        del self._subs[sub.number]
        sub.send(_notification("signatureNotification", self._context({"err": error_json(record.err)}, record.slot),
                               sub.number))  # fmt: skip

    def _send_logs(self, sub: Subscription, record: TxRecord) -> None:
        if sub.number not in self._subs:
            return
        value = {"signature": str(record.signature), "err": error_json(record.err), "logs": record.logs}
        sub.send(_notification("logsNotification", self._context(value, record.slot), sub.number))

    def _mentions(self, record: TxRecord) -> set[Pubkey]:
        if record.transaction is None:
            return set()
        keys, _, _ = self.chain.account_keys(record.transaction.message)
        return set(keys)

    def _context(self, value: Any, slot: int | None = None) -> dict[str, Any]:
        return {"context": {"slot": self.chain.slot if slot is None else slot}, "value": value}

    # --- the socket -----------------------------------------------------------------------------------

    async def serve_socket(self, socket: WebSocket) -> None:
        """One client: requests in, answers and notifications out, until either side closes."""
        await socket.accept()
        client = _Client(peer=peer_of(socket.client), tally=self.tally)
        sender = asyncio.create_task(self._drain(socket, client))
        try:
            while True:
                message = await socket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                self._answer(text if text is not None else bytes(message.get("bytes") or b"").decode(), client)
        except WebSocketDisconnect:
            pass
        finally:
            self.drop(client.numbers)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _drain(self, socket: WebSocket, client: _Client) -> None:
        while True:
            message = await client.queue.get()
            if client.overflowed:
                log.warning("pubsub: a client stopped reading; closing its socket")
                await socket.close(code=1008)
                return
            await socket.send_text(message.decode())

    def _answer(self, text: str, client: _Client) -> None:
        try:
            payload = orjson.loads(text)
        except orjson.JSONDecodeError:
            client.push(_error(None, -32700, "Parse error"))
            return
        for call in payload if isinstance(payload, list) else [payload]:
            self.tally.request("pubsub", client.peer, call)
            client.push(self._one(call, client))
        for number in sorted(client.fresh):
            sub = self._subs.get(number)
            if sub is not None:
                self.settle(sub)
        client.fresh.clear()

    def _one(self, call: Any, client: _Client) -> dict[str, Any]:
        rid = call.get("id") if isinstance(call, dict) else None
        method = call.get("method") if isinstance(call, dict) else None
        if not isinstance(method, str):
            return _error(rid, -32600, "Invalid request")
        params = call.get("params") or []
        params = params if isinstance(params, list) else [params]
        try:
            if method in _KINDS:
                sub = self.subscribe(method, params, client.push)
                client.numbers.add(sub.number)
                client.fresh.add(sub.number)
                return {"jsonrpc": "2.0", "result": sub.number, "id": rid}
            if method in _UNSUBSCRIBE:
                result = self.unsubscribe(method, params)
                client.numbers.discard(params[0])
                return {"jsonrpc": "2.0", "result": result, "id": rid}
        except RpcError as exc:
            return _error(rid, exc.code, exc.message)
        return _error(rid, -32601, "Method not found")

    def app(self) -> Starlette:
        """The WebSocket app: every path serves PubSub, as a validator's port does."""
        return Starlette(
            routes=[WebSocketRoute("/", self.serve_socket), WebSocketRoute("/{path:path}", self.serve_socket)]
        )


def _commitment(config: dict[str, Any]) -> Commitment:
    raw = str(config.get("commitment") or "finalized")
    raw = {"recent": "processed", "single": "processed", "singleGossip": "confirmed", "root": "finalized",
           "max": "finalized"}.get(raw, raw)  # fmt: skip
    try:
        return Commitment(raw)
    except ValueError as exc:
        raise invalid(f"Invalid params: unknown commitment {raw!r}") from exc


def _logs_filter(value: Any) -> Pubkey | None:
    if value in ("all", "allWithVotes"):
        return None
    mentions = value.get("mentions") if isinstance(value, dict) else None
    if not isinstance(mentions, list) or len(mentions) != 1:
        raise invalid('Invalid params: expected "all", "allWithVotes" or {"mentions": [one address]}')
    return pubkey_param(mentions[0])


def _notification(method: str, result: Any, number: int) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": {"result": result, "subscription": number}}


def _error(rid: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": rid}
