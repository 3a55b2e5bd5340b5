"""``oee keys create|list|revoke``, and the local key ``oee up`` and ``oee demo`` make on first start.

A key's secret is printed once, at creation; the database keeps only its digest. The local key is
also written to ``<data dir>/api-key`` (readable only by its owner) so that local tools, the demo and
a person at the terminal can use it without copying it around.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import asyncpg

from engine.auth.keys import ApiKey, digest_of, generate_key, key_id_of
from engine.db import keys as key_sql
from engine.db.urls import asyncpg_dsn
from kernel.settings import Settings

T = TypeVar("T")
LOCAL_KEY_NAME = "local"
LOCAL_KEY_FILE = "api-key"
KEY_FILE_MODE = 0o600


def _with_connection(settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    assert settings.database_url, "resolve the services first"

    async def run() -> T:
        conn = await asyncpg.connect(asyncpg_dsn(settings.database_url or ""))
        try:
            async with conn.transaction():
                return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def create_key(settings: Settings, *, name: str, rate_per_s: float | None = None, burst: int | None = None) -> str:
    """A new key stored in the settings' database; returns the key itself (shown once)."""
    new = generate_key()

    async def insert(conn: asyncpg.Connection) -> ApiKey:
        return await key_sql.insert_key(conn, new, name=name, rate_per_s=rate_per_s, burst=burst)

    _with_connection(settings, insert)
    return new.secret


def local_key_path(settings: Settings) -> Path:
    return settings.data_dir / LOCAL_KEY_FILE


def ensure_local_key(settings: Settings) -> tuple[str, bool]:
    """The local key (from its file when that key is still valid here, else a new one) and whether
    it was created now."""
    path = local_key_path(settings)
    existing = path.read_text().strip() if path.exists() else ""
    key_id = key_id_of(existing)

    async def valid(conn: asyncpg.Connection) -> bool:
        record = await key_sql.key_by_key_id(conn, key_id) if key_id else None
        return record is not None and record.active and record.digest == digest_of(existing)

    if key_id and _with_connection(settings, valid):
        return existing, False
    secret = create_key(settings, name=LOCAL_KEY_NAME)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, KEY_FILE_MODE)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    path.chmod(KEY_FILE_MODE)
    return secret, True


def how_to_use(settings: Settings, created: bool) -> str:
    path = local_key_path(settings)
    said = "created a local API key" if created else "local API key"
    return f'{said} in {path}: send it as the X-API-Key header, e.g. curl -H "X-API-Key: $(cat {path})" ...'


def _describe(key: ApiKey) -> str:
    rate = "default" if key.rate_per_s is None else f"{key.rate_per_s:g}/s"
    burst = "default" if key.burst is None else str(key.burst)
    state = "active" if key.active else f"revoked {key.revoked_at:%Y-%m-%d %H:%M:%S}"
    return f"{key.key_id}  {key.name:<20}  rate {rate:<10} burst {burst:<8} {key.created_at:%Y-%m-%d %H:%M}  {state}"


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """``oee keys ARGV`` parsed and its values checked: help and usage errors need no database."""
    parser = argparse.ArgumentParser(prog="oee keys", description="Manage the API keys clients send as X-API-Key.")
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="create a key and print it (the only time it is shown)")
    create.add_argument("--name", default="client", help="a label for the key (64 characters at most)")
    create.add_argument("--rate", type=float, help="requests a second (default: RATE_LIMIT_PER_S)")
    create.add_argument("--burst", type=int, help="requests at once (default: RATE_LIMIT_BURST)")
    sub.add_parser("list", help="list keys (never their secrets)")
    revoke = sub.add_parser("revoke", help="revoke a key by its id (the part after oee_)")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    if args.action == "create":
        if len(args.name) > 64:
            parser.error("--name: 64 characters at most")
        if args.rate is not None and not args.rate > 0:
            parser.error("--rate: must be above 0")
        if args.burst is not None and args.burst < 1:
            parser.error("--burst: must be at least 1")
    return args


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out parsed ``oee keys`` arguments against the database of ``settings``."""
    if args.action == "create":
        secret = create_key(settings, name=args.name, rate_per_s=args.rate, burst=args.burst)
        print(secret)
        print(f"id {key_id_of(secret)} ({args.name}); keep the key now: it is not shown again", flush=True)
        return 0
    if args.action == "list":
        keys = _with_connection(settings, key_sql.list_keys)
        for key in keys:
            print(_describe(key))
        if not keys:
            print("no keys yet: oee keys create --name NAME")
        return 0

    async def revoke_one(conn: asyncpg.Connection) -> ApiKey | None:
        return await key_sql.revoke_key(conn, args.key_id)

    revoked = _with_connection(settings, revoke_one)
    if revoked is None:
        print(f"oee keys: no key with id {args.key_id!r}")
        return 2
    print(f"revoked {revoked.key_id} ({revoked.name})")
    return 0
