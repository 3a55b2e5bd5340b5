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


async def serve(
    config: LocalnetConfig,
    *,
    on_ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
    log_level: str = "warning",
) -> None:
    """Run the localnet in the current event loop until ``stop`` is set (or uvicorn is told to exit).

    ``on_ready`` receives the RPC URL once the socket is listening and start-up (mints, funding) is done.
    """
    sock = _bind(config.host, config.port)
    try:
        localnet = Localnet(config)
        uv_config = uvicorn.Config(
            localnet.app(),
            log_config=None,
            log_level=log_level,
            access_log=False,
            ws="none",
            lifespan="on",
        )
        server = _Server(uv_config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                await task
                raise RuntimeError("the localnet RPC server stopped during start-up")
            await asyncio.sleep(0.01)
        host, port = sock.getsockname()[:2]
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        if on_ready is not None:
            on_ready(url)
        if stop is not None:
            watcher = asyncio.create_task(stop.wait())
            await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
            server.should_exit = True
            watcher.cancel()
        await task
    finally:
        sock.close()


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
