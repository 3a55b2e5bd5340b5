"""Enqueueing order jobs onto arq's queue, many per round trip.

arq's own ``enqueue_job`` costs a WATCH/MULTI transaction per job. This writes the same keys arq reads
(``arq:job:<id>`` holding the serialized job, and the queue's sorted set) for a whole batch in one Lua
call, keeping arq's rule that a job ID already queued, running or finished is not queued again.
The job ID is the order ID, so an order can never be queued twice at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms

EXECUTE_ORDER = "execute_order"

# KEYS[1] = queue; ARGV = expires_ms, then (job_id, score, payload) triples.
_ENQUEUE_LUA = """
local queued = 0
local expires = tonumber(ARGV[1])
for i = 2, #ARGV, 3 do
    local id = ARGV[i]
    local job_key = KEYS[2] .. id
    if redis.call('EXISTS', job_key, KEYS[3] .. id) == 0 then
        redis.call('PSETEX', job_key, expires, ARGV[i + 2])
        redis.call('ZADD', KEYS[1], ARGV[i + 1], id)
        queued = queued + 1
    end
end
return queued
"""

JOB_EXPIRES_MS = 24 * 3600 * 1000


class OrderQueue:
    """Puts order jobs on the arq queue."""

    def __init__(self, redis: aioredis.Redis, queue_name: str) -> None:
        self._redis = redis
        self._queue_name = queue_name
        self._script = redis.register_script(_ENQUEUE_LUA)

    async def enqueue(self, order_ids: Sequence[str], *, defer_ms: int = 0) -> int:
        """Queue ``execute_order(order_id)`` for each ID; returns how many were newly queued."""
        if not order_ids:
            return 0
        now = timestamp_ms()
        argv: list[str | int | bytes] = [JOB_EXPIRES_MS + defer_ms]
        for order_id in order_ids:
            payload = serialize_job(EXECUTE_ORDER, (order_id,), {}, None, now)
            argv.extend((order_id, now + defer_ms, payload))
        keys = [self._queue_name, job_key_prefix, result_key_prefix]
        return int(await self._script(keys=keys, args=argv))

    async def known(self, order_ids: Sequence[str]) -> set[str]:
        """Order IDs whose job is still queued or running."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for order_id in order_ids:
                pipe.exists(job_key_prefix + order_id)
            found = await pipe.execute()
        return {oid for oid, n in zip(order_ids, found, strict=True) if n}
