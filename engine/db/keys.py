"""The SQL of API keys. Functions take a connection and never commit: their callers own transactions."""

from __future__ import annotations

import uuid
from decimal import Decimal

import asyncpg

from engine.auth.keys import ApiKey, NewKey

_COLUMNS = "id, key_id, name, digest, rate_per_s, burst, created_at, revoked_at"


def _key(row: asyncpg.Record) -> ApiKey:
    rate = row["rate_per_s"]
    return ApiKey(
        id=row["id"], key_id=row["key_id"], name=row["name"], digest=bytes(row["digest"]),
        rate_per_s=None if rate is None else float(rate), burst=row["burst"],
        created_at=row["created_at"], revoked_at=row["revoked_at"],
    )  # fmt: skip


async def insert_key(
    conn: asyncpg.Connection, new: NewKey, *, name: str, rate_per_s: float | None, burst: int | None
) -> ApiKey:
    row = await conn.fetchrow(
        f"INSERT INTO api_keys (id, key_id, name, digest, rate_per_s, burst) VALUES ($1, $2, $3, $4, $5, $6) "
        f"RETURNING {_COLUMNS}",
        uuid.uuid4(), new.key_id, name, new.digest, None if rate_per_s is None else Decimal(str(rate_per_s)), burst,
    )  # fmt: skip
    assert row is not None
    return _key(row)


async def key_by_key_id(conn: asyncpg.Connection, key_id: str) -> ApiKey | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = $1", key_id)
    return None if row is None else _key(row)


async def list_keys(conn: asyncpg.Connection) -> list[ApiKey]:
    return [_key(r) for r in await conn.fetch(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, key_id")]


async def revoke_key(conn: asyncpg.Connection, key_id: str) -> ApiKey | None:
    """Revokes the key (once: a second revoke keeps the first time). None when no such key exists."""
    row = await conn.fetchrow(
        f"UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE key_id = $1 RETURNING {_COLUMNS}",
        key_id,
    )
    return None if row is None else _key(row)
