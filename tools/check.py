"""``oee check``: every setting checked before anything starts, one line per problem naming the setting.

What pydantic validates when the settings load (names, ranges, network names) is told by
:func:`tools.cli.settings_or_exit`; this adds what needs a look at the world: URLs parsed by the driver's own
parser and refused when of the wrong kind, the servers they name reachable, the wallet key readable, the
API's port free, the data folder writable. ``oee up``, ``api``, ``worker``, ``watcher`` and ``migrate`` run
the same checks first and exit 2 on a problem, so a setting that can never work stops the start at once
instead of a child restarting forever.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import redis.asyncio as aioredis
from redis.connection import parse_url as parse_redis_url

from engine.db.urls import DatabaseUrlError, asyncpg_dsn, display_url
from kernel.settings import Network, Settings
from wallets.keys import InvalidKey, load_keypair

REACH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Problem:
    setting: str
    reason: str

    def line(self) -> str:
        return f"oee: {self.setting}: {self.reason}"


@dataclass(frozen=True)
class Needs:
    """What a command is about to use: a wallet it signs with, a port it listens on, servers it reaches."""

    signs: bool = False
    serves: bool = False
    reaches: bool = True
    asks_the_cluster: bool = False  # the Solana RPC endpoint is asked for its health (oee check only: a cluster
    # out of reach for a moment must not stop a start, whose workers retry it)


# What each command is checked for before it starts; commands not named here are not checked.
COMMAND_NEEDS: dict[str, Needs] = {
    "check": Needs(signs=True, serves=True, asks_the_cluster=True),
    "up": Needs(signs=True, serves=True),
    "api": Needs(serves=True),
    "worker": Needs(signs=True),
    "watcher": Needs(),
    "migrate": Needs(),
    "demo": Needs(serves=True),
}


def problems(settings: Settings, needs: Needs) -> list[Problem]:
    """Every problem of ``settings`` for a command that ``needs`` what it says, in the order of the settings."""
    found: list[Problem] = []
    reach: list[Callable[[], Awaitable[Problem | None]]] = []
    if settings.database_url:
        url = settings.database_url
        try:
            dsn = asyncpg_dsn(url)
        except DatabaseUrlError as exc:
            found.append(Problem("DATABASE_URL", str(exc)))
        else:
            if needs.reaches:
                reach.append(lambda: _postgres(dsn, display_url(url)))
    if settings.redis_url:
        try:
            _redis_parts(settings.redis_url)
        except ValueError as exc:
            found.append(Problem("REDIS_URL", f"{exc}".rstrip(".")))
        else:
            if needs.reaches:
                redis_url = settings.redis_url
                reach.append(lambda: _redis(redis_url))
    if not (settings.database_url and settings.redis_url):
        found += _data_dir(settings.data_dir)
    rpc_url = settings.rpc_url
    if settings.solana_network is not Network.SIMULATED and rpc_url:
        setting = "SOLANA_RPC_URL" if settings.solana_rpc_url else "SOLANA_NETWORK"
        parts = urlsplit(rpc_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            found.append(Problem(setting, f"{rpc_url!r} is not an http:// or https:// URL of a Solana JSON-RPC node"))
        elif needs.asks_the_cluster:
            reach.append(lambda: _cluster(setting, rpc_url))
    if needs.signs:
        found += _key(settings)
    if needs.serves:
        found += _port(settings.api_host, settings.api_port)
    if reach:
        found += [p for p in asyncio.run(_all(reach)) if p is not None]
    return found


async def _all(checks: list[Callable[[], Awaitable[Problem | None]]]) -> list[Problem | None]:
    return list(await asyncio.gather(*(check() for check in checks)))


async def _postgres(dsn: str, shown: str) -> Problem | None:
    try:
        conn = await asyncpg.connect(dsn, timeout=REACH_TIMEOUT_S)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return Problem("DATABASE_URL", f"{shown} cannot be reached: {_reason(exc)}")
    await conn.close()
    return None


async def _redis(url: str) -> Problem | None:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=REACH_TIMEOUT_S, socket_timeout=REACH_TIMEOUT_S)
    try:
        await client.ping()
    except (TimeoutError, OSError, aioredis.RedisError) as exc:
        return Problem("REDIS_URL", f"{_redis_shown(url)} cannot be reached: {_reason(exc)}")
    finally:
        await client.aclose()
    return None


async def _cluster(setting: str, url: str) -> Problem | None:
    """The node answers ``getHealth`` (any JSON-RPC answer says it is there; "behind" is said as it is)."""
    shown = urlsplit(url)._replace(query="", fragment="").geturl()  # an API key in the query is not printed
    try:
        async with httpx.AsyncClient(timeout=REACH_TIMEOUT_S) as client:
            reply = await client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"})
            body = reply.json()
    except (httpx.HTTPError, ValueError) as exc:
        return Problem(setting, f"{shown} cannot be reached: {_reason(exc)}")
    if not isinstance(body, dict) or ("result" not in body and "error" not in body):
        return Problem(setting, f"{shown} answered {reply.status_code} but not as Solana JSON-RPC")
    if "error" in body:
        return Problem(setting, f"{shown} is not healthy: {body['error'].get('message', body['error'])}")
    return None


def _redis_parts(url: str) -> dict[str, Any]:
    """redis-py's own reading of a URL (what ``Redis.from_url`` connects to); ValueError when it is not one."""
    return dict(parse_redis_url(url))  # type: ignore[no-untyped-call]


def _redis_shown(url: str) -> str:
    parts = _redis_parts(url)
    if "path" in parts:
        return f"unix://{parts['path']}"
    return f"redis://{parts.get('host', 'localhost')}:{parts.get('port', 6379)}"


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    refused = ("Connect call failed", "Connection refused", "All connection attempts failed")
    if isinstance(exc, ConnectionRefusedError) or any(words in text for words in refused):
        return "connection refused (nothing listens there)"
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        return f"no answer within {REACH_TIMEOUT_S:g} s"
    return text[:200]


def _key(settings: Settings) -> list[Problem]:
    setting = "SOLANA_PRIVATE_KEY" if settings.solana_private_key is not None else "SOLANA_KEYPAIR_PATH"
    try:
        keypair = load_keypair(settings)
    except InvalidKey as exc:
        return [Problem(setting, str(exc))]
    if keypair is None and settings.solana_network is not Network.SIMULATED:
        return [Problem("SOLANA_PRIVATE_KEY", f"SOLANA_NETWORK={settings.solana_network.value} signs with a wallet: "
                                              "set SOLANA_PRIVATE_KEY or SOLANA_KEYPAIR_PATH (oee wallet setup "
                                              "makes one)")]  # fmt: skip
    return []


def _port(host: str, port: int) -> list[Problem]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return [Problem("API_HOST", f"{host} is not an address of this machine ({exc.strerror})")]
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a closed port is free
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return [Problem("API_PORT", f"port {port} on {host} is in use by another program; stop it or "
                                            "set API_PORT to a free port")]  # fmt: skip
            if exc.errno == errno.EADDRNOTAVAIL:
                return [Problem("API_HOST", f"{host} is not an address of this machine")]
            return [Problem("API_PORT", f"port {port} on {host} cannot be bound: {exc.strerror}")]
    return []


def _data_dir(folder: Path) -> list[Problem]:
    """Embedded servers keep their data here: it must exist or be creatable, and be writable."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return [Problem("OEE_DATA_DIR", f"{existing} is not a folder")]
    if not os.access(existing, os.W_OK | os.X_OK):
        return [Problem("OEE_DATA_DIR", f"{existing} is not writable (embedded PostgreSQL and Redis keep data here)")]
    return []


def summary(settings: Settings) -> list[str]:
    """What ``oee check`` found good, one line each."""
    lines = [f"network: {settings.solana_network}"]
    lines.append(f"database: {display_url(settings.database_url)}" if settings.database_url
                 else f"database: embedded PostgreSQL under {settings.data_dir}")  # fmt: skip
    lines.append(f"redis: {_redis_shown(settings.redis_url)}" if settings.redis_url
                 else f"redis: embedded Redis under {settings.data_dir}")  # fmt: skip
    keypair = load_keypair(settings)
    lines.append(f"wallet: {keypair.pubkey()}" if keypair else "wallet: none (simulated settlement signs nothing)")
    lines.append(f"API: {settings.api_host}:{settings.api_port} is free")
    return lines
