"""``oee localnet``: Solana's JSON-RPC over solders' LiteSVM, so devnet code runs unchanged on one machine.

Library use::

    async with running_localnet(slot_ms=50, finality_depth=4) as net:
        client = AsyncClient(net.url)

:func:`serve` runs the server in the current event loop (the CLI's path, ``python -m localnet``);
:func:`running_localnet` and :func:`start_localnet` run it in a background thread on a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from pydantic import BaseModel

from localnet.chain import Chain, ChainConfig
from localnet.faucet import DEVNET_LIMIT_MESSAGE, Faucet, FaucetConfig, TokenMinter
from localnet.faults import FaultConfig, FaultInjector
from localnet.records import Commitment
from localnet.rpc import Localnet, LocalnetConfig, create_app

__all__ = [
    "DEVNET_LIMIT_MESSAGE",
    "Chain",
    "ChainConfig",
    "Commitment",
    "Faucet",
    "FaucetConfig",
    "FaultConfig",
    "FaultInjector",
    "Localnet",
    "LocalnetConfig",
    "LocalnetHandle",
    "TokenMinter",
    "build_config",
    "create_app",
    "pubsub_url",
    "running_localnet",
    "serve",
    "start_localnet",
]

_SECTIONS: dict[str, type[ChainConfig | FaucetConfig | FaultConfig]] = {
    "chain": ChainConfig,
    "faucet": FaucetConfig,
    "faults": FaultConfig,
}


def build_config(**options: Any) -> LocalnetConfig:
    """A :class:`LocalnetConfig` from keyword options. Besides its own fields, the fields of its sections
    may be given flat: ``slot_ms=50`` (chain), ``max_requests_per_address=2`` (faucet), ``drop_rate=0.5``
    (faults)."""
    sections: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    top: dict[str, Any] = {}
    for key, value in options.items():
        owner = next((name for name, model in _SECTIONS.items() if key in model.model_fields), None)
        if owner is not None and key not in LocalnetConfig.model_fields:
            sections[owner][key] = value
        else:
            top[key] = value
    for name, fields in sections.items():
        if fields:
            base = top.get(name)
            top[name] = (base.model_dump() if isinstance(base, BaseModel) else dict(base or {})) | fields
    return LocalnetConfig.model_validate(top)


class _Server(uvicorn.Server):
    """uvicorn without its signal capture: the caller decides how to stop (``stop`` event, signal handlers)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only turns Nagle off (TCP_NODELAY) on accepted sockets whose proto is TCP,
    # and with Nagle on every keep-alive request waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


# Port 0 asks for any free RPC port whose next port is free too; another process may take that one first.
_PORT_PAIR_TRIES = 50


def _bind_pair(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    """The RPC socket on ``port`` and the PubSub socket on the port after it, as solana-test-validator."""
    for _ in range(_PORT_PAIR_TRIES if port == 0 else 1):
        rpc = _bind(host, port)
        try:
            return rpc, _bind(host, rpc.getsockname()[1] + 1)
        except OSError:
            rpc.close()
            if port != 0:
                raise
    raise OSError(f"found no free pair of adjacent ports on {host}")


def pubsub_url(rpc_url: str) -> str:
    """The PubSub WebSocket URL of a localnet's RPC URL: ``ws://`` on the next port."""
    scheme, _, rest = rpc_url.partition("://")
    host, _, port = rest.rstrip("/").rpartition(":")
    return f"{'wss' if scheme == 'https' else 'ws'}://{host}:{int(port) + 1}"


def _url(sock: socket.socket, scheme: str) -> str:
    host, port = sock.getsockname()[:2]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


async def serve(
    config: LocalnetConfig,
    *,
    on_ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
    log_level: str = "warning",
) -> None:
    """Run the localnet in the current event loop until ``stop`` is set (or uvicorn is told to exit).

    JSON-RPC listens on ``config.port`` and the PubSub WebSocket on the port after it. ``on_ready`` receives
    the RPC URL once both sockets are listening and start-up (mints, funding) is done.
    """
    rpc_sock, ws_sock = _bind_pair(config.host, config.port)
    try:
        localnet = Localnet(config)
        common: dict[str, Any] = {"log_config": None, "log_level": log_level, "access_log": False}
        server = _Server(uvicorn.Config(localnet.app(), ws="none", lifespan="on", **common))
        pubsub = _Server(uvicorn.Config(localnet.pubsub.app(), ws="websockets-sansio", lifespan="off", **common))
        task = asyncio.create_task(server.serve(sockets=[rpc_sock]))
        ws_task = asyncio.create_task(pubsub.serve(sockets=[ws_sock]))
        while not (server.started and pubsub.started):
            for running in (task, ws_task):
                if running.done():
                    await running
                    raise RuntimeError("the localnet stopped during start-up")
            await asyncio.sleep(0.01)
        if on_ready is not None:
            on_ready(_url(rpc_sock, "http"))
        if stop is not None:
            watcher = asyncio.create_task(stop.wait())
            await asyncio.wait({task, ws_task, watcher}, return_when=asyncio.FIRST_COMPLETED)
            watcher.cancel()
        else:
            await asyncio.wait({task, ws_task}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = pubsub.should_exit = True
        await asyncio.gather(task, ws_task)
    finally:
        rpc_sock.close()
        ws_sock.close()


@dataclass
class LocalnetHandle:
    """A localnet running in a background thread: ``url`` is its JSON-RPC endpoint; :meth:`stop` ends it."""

    config: LocalnetConfig
    url: str = ""
    _thread: threading.Thread | None = field(default=None, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _stop: asyncio.Event | None = field(default=None, repr=False)
    _ready: threading.Event = field(default_factory=threading.Event, repr=False)
    _error: BaseException | None = field(default=None, repr=False)

    @property
    def ws_url(self) -> str:
        """The PubSub WebSocket (``accountSubscribe`` and the rest), on the RPC port + 1."""
        return pubsub_url(self.url)

    def start(self, timeout: float = 60.0) -> LocalnetHandle:
        self._thread = threading.Thread(target=self._run, name="oee-localnet", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError("the localnet did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the localnet failed to start: {self._error}") from self._error
        return self

    def stop(self, timeout: float = 15.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start(); a thread has nowhere else to raise it
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()

        def ready(url: str) -> None:
            self.url = url
            self._ready.set()

        await serve(self.config, on_ready=ready, stop=self._stop)


def start_localnet(**options: Any) -> LocalnetHandle:
    """Start a localnet in a background thread (on a free port unless ``port`` is given) and return its handle."""
    options.setdefault("port", 0)
    return LocalnetHandle(build_config(**options)).start()


@contextlib.asynccontextmanager
async def running_localnet(**options: Any) -> AsyncIterator[LocalnetHandle]:
    """Async context manager: a localnet in a background thread for the duration of the block.

    Options are :func:`build_config`'s; ``port`` defaults to a free port.
    """
    options.setdefault("port", 0)
    handle = LocalnetHandle(build_config(**options))
    await asyncio.to_thread(handle.start)
    try:
        yield handle
    finally:
        await asyncio.to_thread(handle.stop)
