"""Which watcher process watches a pair: a lease in Redis per pair, renewed while its holder lives.

A pair is watched by one process at a time, so its DEXes are read once per update however many watchers
run; standby processes try for every pair's lease on each renewal round and take over a pair within a
lease of its holder's death. The lease is an optimisation, not the guard: a pair watched twice at once (a
holder stalled past its lease) still fires each order once, because firing is a compare-and-set in
PostgreSQL (``engine.db.waiting``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import cast

import redis.asyncio as aioredis

# KEYS = lease; ARGV = owner, lease ms. Renew the lease if this owner holds it; 1 if it does.
_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
return 0
"""
# KEYS = lease; ARGV = owner. Drop the lease if this owner holds it.
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class PairLeases:
    """Leases of one watcher process (``owner``) on pairs, each ``lease_s`` long."""

    def __init__(self, redis: aioredis.Redis, prefix: str, owner: str, lease_s: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self.owner = owner
        self._lease_ms = max(1, int(lease_s * 1000))
        self._renew = redis.register_script(_RENEW_LUA)
        self._release = redis.register_script(_RELEASE_LUA)

    def key(self, pair: tuple[str, str]) -> str:
        """The Redis key of ``pair``'s lease."""
        return f"{self._prefix}{pair[0]}:{pair[1]}"

    async def take(self, pair: tuple[str, str]) -> bool:
        """Hold ``pair``: renew this owner's lease, or take a lease nobody holds. False while another holds it."""
        key = self.key(pair)
        if await cast("Awaitable[int]", self._renew(keys=[key], args=[self.owner, self._lease_ms])):
            return True
        return bool(await self._redis.set(key, self.owner, nx=True, px=self._lease_ms))

    async def release(self, pair: tuple[str, str]) -> None:
        """Give ``pair`` up at once (a clean stop), if this owner holds it."""
        await cast("Awaitable[int]", self._release(keys=[self.key(pair)], args=[self.owner]))
