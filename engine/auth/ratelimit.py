"""Per-key rate limits: a token bucket per key in Redis, shared by every API process.

A bucket holds at most ``burst`` tokens and refills at ``rate`` tokens a second; a request takes one.
The bucket's state is two fields of a Redis hash, updated by one script that reads Redis' own clock,
so processes on several machines agree without synchronised clocks. Requests arriving together are
checked together: one script call decides a whole batch (see :class:`engine.batching.GroupCommitter`),
so the limit costs one Redis round trip per batch, not per request.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from engine.batching import GroupCommitter

# KEYS: one bucket per request. ARGV: rate, burst for each request, in the same order.
# Returns, per request, 0 when allowed, else the milliseconds until one token is available.
_TAKE = """
pcall(redis.replicate_commands)
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local out = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 't', 'at')
  local tokens = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now_ms
  tokens = math.min(burst, tokens + math.max(0, now_ms - at) * rate / 1000)
  if tokens >= 1 then
    tokens = tokens - 1
    out[i] = 0
  else
    out[i] = math.ceil((1 - tokens) * 1000 / rate)
  end
  redis.call('HSET', key, 't', tostring(tokens), 'at', now_ms)
  redis.call('PEXPIRE', key, math.ceil(burst * 1000 / rate) + 1000)
end
return out
"""


@dataclass(frozen=True, slots=True)
class Limit:
    """``rate`` requests a second, with bursts of up to ``burst``."""

    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0


@dataclass(frozen=True, slots=True)
class _Take:
    bucket: str
    limit: Limit


class RateLimiter:
    """Takes one token from a key's bucket; concurrent takes share one Redis call."""

    def __init__(self, redis: aioredis.Redis, *, prefix: str, max_batch: int = 512) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_TAKE)
        self._batcher: GroupCommitter[_Take, Verdict] = GroupCommitter(
            self._take_many, max_batch=max_batch, flushers=2, name="rate-limit"
        )

    def start(self) -> None:
        self._batcher.start()

    async def stop(self) -> None:
        await self._batcher.stop()

    async def take(self, key_id: str, limit: Limit) -> Verdict:
        return await self._batcher(_Take(f"{self._prefix}{key_id}", limit))

    async def _take_many(self, batch: Sequence[_Take]) -> list[Verdict]:
        args: list[float | int] = []
        for take in batch:
            args += [take.limit.rate, take.limit.burst]
        waits = await self._script(keys=[t.bucket for t in batch], args=args)
        return [Verdict(True) if int(w) == 0 else Verdict(False, max(1, math.ceil(int(w) / 1000))) for w in waits]
