"""API keys as stored and checked, per-key token buckets in Redis, and ``oee keys`` from the command line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import asyncpg
import pytest
import redis.asyncio as aioredis

from engine.auth.keys import ApiKey, KeyVerifier, generate_key, key_id_of
from engine.auth.ratelimit import Limit, RateLimiter
from engine.db import keys as key_sql
from tests.support import ROOT, base_env


def test_a_key_has_a_public_id_and_a_secret_and_nothing_else_parses() -> None:
    new = generate_key()
    assert key_id_of(new.secret) == new.key_id
    assert new.secret.startswith(f"oee_{new.key_id}_")
    assert generate_key().secret != new.secret
    for bad in ["", "oee_", new.secret + "x", new.secret[:-1], new.secret.upper(), "Bearer " + new.secret, "x" * 5000]:
        assert key_id_of(bad) is None, bad


async def _store(db: asyncpg.Pool, *, name: str = "t") -> tuple[str, ApiKey]:
    new = generate_key()
    async with db.acquire() as conn:
        return new.secret, await key_sql.insert_key(conn, new, name=name, rate_per_s=None, burst=None)


async def test_only_the_exact_key_of_an_active_row_verifies(db: asyncpg.Pool) -> None:
    secret, stored = await _store(db)
    lookups: list[str] = []

    async def lookup(key_id: str) -> ApiKey | None:
        lookups.append(key_id)
        async with db.acquire() as conn:
            return await key_sql.key_by_key_id(conn, key_id)

    verifier = KeyVerifier(lookup, ttl_s=60)
    assert (await verifier.verify(secret)) == stored
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    assert key_id_of(forged) == stored.key_id
    assert await verifier.verify(forged) is None
    assert await verifier.verify(None) is None
    assert await verifier.verify(generate_key().secret) is None
    assert lookups.count(stored.key_id) == 1, "a cached key costs no second lookup"

    async with db.acquire() as conn:
        revoked = await key_sql.revoke_key(conn, stored.key_id)
    assert revoked is not None and not revoked.active
    assert (await verifier.verify(secret)) == stored, "cached until the time to live runs out"
    verifier.forget(stored.key_id)
    assert await verifier.verify(secret) is None


async def test_a_bucket_allows_its_burst_then_says_when_to_retry(redis: aioredis.Redis) -> None:
    limiter = RateLimiter(redis, prefix=f"oee:test:rl:{uuid.uuid4().hex[:6]}:")
    limiter.start()
    try:
        limit = Limit(rate=0.5, burst=3)
        verdicts = await asyncio.gather(*(limiter.take("k1", limit) for _ in range(5)))
        assert sum(v.allowed for v in verdicts) == 3
        assert all(v.retry_after_s == 2 for v in verdicts if not v.allowed)
        other = await limiter.take("k2", limit)
        assert other.allowed, "each key has its own bucket"
    finally:
        await limiter.stop()


def oee_keys(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.cli", "keys", *argv],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_keys_are_created_listed_without_secrets_and_revoked(database_url: str, redis_url: str) -> None:
    env = base_env(database_url, redis_url)
    created = oee_keys("create", "--name", "desk-1", "--rate", "5", "--burst", "10", env=env)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.splitlines()[0]
    key_id = key_id_of(secret)
    assert key_id is not None

    listed = oee_keys("list", env=env)
    assert listed.returncode == 0
    line = next(line for line in listed.stdout.splitlines() if line.startswith(key_id))
    assert "desk-1" in line and "5/s" in line and "active" in line
    body = secret.removeprefix(f"oee_{key_id}_")  # the secret part (url-safe base64 may hold "_" itself)
    assert len(body) == 43 and secret not in listed.stdout and body not in listed.stdout

    assert oee_keys("revoke", key_id, env=env).returncode == 0
    after = oee_keys("list", env=env).stdout
    assert "revoked" in next(line for line in after.splitlines() if line.startswith(key_id))
    assert oee_keys("revoke", "nosuchkey", env=env).returncode == 2


@pytest.mark.parametrize(
    "argv", [["create", "--rate", "0"], ["create", "--burst", "0"], ["create", "--name", "x" * 65]]
)
def test_bad_key_options_are_refused(database_url: str, redis_url: str, argv: list[str]) -> None:
    result = oee_keys(*argv, env=base_env(database_url, redis_url))
    assert result.returncode == 2 and "oee_" not in result.stdout
