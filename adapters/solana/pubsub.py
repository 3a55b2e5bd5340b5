"""``AccountStream``: account changes pushed over a cluster's PubSub WebSocket (``accountSubscribe``).

One socket carries every watched account. A notification only says *that* an account changed: the
watcher reads the accounts again itself (one ``getMultipleAccounts``), so a notification lost or
coalesced costs nothing but latency. ``live`` is false while the socket is down; the caller polls then.
The socket reconnects on its own, after a back-off, and subscribes to every watched account again.

What fails here never raises to the caller: a socket that cannot connect or breaks is logged and
retried, and until it is back the stream is simply not live.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

import orjson
import websockets
from solders.pubkey import Pubkey

log = logging.getLogger("oee.chain.pubsub")

RECONNECT_S = 1.0
RECONNECT_MAX_S = 30.0


def pubsub_url_for(rpc_url: str) -> str:
    """The PubSub WebSocket of an RPC URL, as web3.js derives it: ``ws``/``wss``, and the port after an
    explicit one (``solana-test-validator`` and ``oee localnet`` listen on the RPC port + 1)."""
    parts = urlsplit(rpc_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port + 1}" if parts.port is not None else host
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


class AccountStream:
    """Calls ``on_change(key)`` whenever a watched account changes, for as long as :meth:`run` runs."""

    def __init__(self, url: str, on_change: Callable[[Pubkey], None], *, commitment: str = "processed") -> None:
        self.url = url
        self._on_change = on_change
        self._commitment = commitment
        self._watched: set[Pubkey] = set()
        self._ids = itertools.count(1)
        self._pending: dict[int, Pubkey] = {}  # request id -> key, until the subscription number comes back
        self._numbers: dict[int, Pubkey] = {}  # subscription number -> key
        self._socket: websockets.ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self.notifications = 0

    @property
    def live(self) -> bool:
        """Whether the socket is up and every watched account's subscription has been confirmed."""
        return self._socket is not None and not self._pending and len(self._numbers) >= len(self._watched)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"pubsub {self.url}")

    async def watch(self, keys: Iterable[Pubkey]) -> None:
        """Subscribe to each of ``keys`` not yet watched (now if the socket is up, else once it is)."""
        new = [k for k in keys if k not in self._watched]
        self._watched.update(new)
        self.start()
        if self._socket is not None:
            for key in new:
                await self._subscribe(self._socket, key)

    async def unwatch(self, keys: Iterable[Pubkey]) -> None:
        """Stop watching ``keys`` (``accountUnsubscribe`` where the socket is up)."""
        gone = {k for k in keys if k in self._watched}
        self._watched -= gone
        numbers = [n for n, k in self._numbers.items() if k in gone]
        for number in numbers:
            del self._numbers[number]
        if self._socket is not None:
            for number in numbers:
                request = {"jsonrpc": "2.0", "id": next(self._ids), "method": "accountUnsubscribe", "params": [number]}
                await self._socket.send(orjson.dumps(request).decode())

    @property
    def watched(self) -> frozenset[Pubkey]:
        return frozenset(self._watched)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _subscribe(self, socket: websockets.ClientConnection, key: Pubkey) -> None:
        rid = next(self._ids)
        self._pending[rid] = key
        params = [str(key), {"encoding": "base64", "commitment": self._commitment}]
        request = {"jsonrpc": "2.0", "id": rid, "method": "accountSubscribe", "params": params}
        await socket.send(orjson.dumps(request).decode())

    async def _run(self) -> None:
        delay = RECONNECT_S
        while True:
            try:
                async with websockets.connect(self.url, max_size=None) as socket:
                    self._socket = socket
                    delay = RECONNECT_S
                    for key in list(self._watched):
                        await self._subscribe(socket, key)
                    async for raw in socket:
                        self._handle(raw)
            except asyncio.CancelledError:
                raise
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                log.warning("account stream %s is down (%s); polling until it is back", self.url, exc)
            finally:
                self._socket = None
                self._pending.clear()
                self._numbers.clear()
            # Something may have changed while the socket was down: say so for every watched account.
            for key in list(self._watched):
                self._on_change(key)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    def _handle(self, raw: str | bytes) -> None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning("account stream %s sent something that is not JSON", self.url)
            return
        if not isinstance(message, dict):
            return
        if message.get("method") == "accountNotification":
            params = message.get("params") or {}
            number = params.get("subscription") if isinstance(params, dict) else None
            key = self._numbers.get(number) if isinstance(number, int) else None
            if key is not None:
                self.notifications += 1
                self._on_change(key)
            return
        rid = message.get("id")
        key = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if key is None:
            return
        if isinstance(message.get("result"), int):
            self._numbers[message["result"]] = key
        else:
            log.warning("account stream %s refused a subscription to %s: %s", self.url, key, message.get("error"))
            self._watched.discard(key)
