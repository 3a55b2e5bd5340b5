"""The order queue on Redis: batched enqueue and leased claims, over arq's job format. All of our arq coupling.

Enqueue writes the keys arq's worker reads, for a whole batch in one Lua call, instead of arq's WATCH/MULTI
transaction per job, and keeps arq's rule that a job ID already queued, running or finished is not queued
again. The job ID is the order ID, so an order can never be queued twice at once.

Claims move jobs out of the ready set. arq leaves a running job in its queue's sorted set until it ends,
so every worker with a free slot reads the other workers' running jobs at the head of the queue, fails to
claim them and polls again: more processes add no throughput. Here one Lua call per poll moves up to
"free slots" due jobs from the ready set into a lease set (scored by lease deadline) and names the owner;
a worker renews its leases while it lives, and any claim first returns expired leases to the ready set at
their original score, so a killed worker's orders run again within a lease, at the head of the queue.
A worker that finds a lease of its own taken over stops that job (the new holder resumes the order).
The scripts are in ``engine.lease_scripts``.

Redis going away (restarted, killed, stalled past ``REDIS_TIMEOUT_S``) never stops a worker: a poll that
fails backs off and polls again, running jobs carry on (their steps go to PostgreSQL), a job that cannot
be read or settled is left to its lease, and the first renewal that gets through takes back every lease of
its running jobs that lapsed meanwhile, unless another worker holds it by then (that run is fenced, see
``engine.recorder.Superseded``).

What of arq this relies on (``arq_contract_problems`` checks all of it; the worker refuses to start and
a test fails, naming the internal, if an arq release changes any of it):

- ``arq.constants``: ``job_key_prefix`` (the serialized job), ``result_key_prefix``, ``in_progress_key_prefix``
  (set with each lease, so arq's ``Job.status()`` still says in progress), ``retry_key_prefix`` and
  ``abort_jobs_ss`` (cleared when a job ends, as arq does);
- ``arq.jobs.serialize_job(function_name, args, kwargs, job_try, enqueue_time_ms)``: the job payload, read back
  by arq's ``Worker.run_job``; ``arq.utils.timestamp_ms``;
- ``arq.worker.Worker`` private methods: ``_poll_iteration()`` (replaced: claim, aborts, reaping, heartbeat),
  ``run_job(job_id, score)`` (called per claimed job), ``finish_job(job_id, finish, result_data,
  result_timeout_s, keep_result_forever, incr_score, keep_in_progress)`` and ``finish_failed_job(job_id,
  result_data)`` (replaced: the same keys plus the lease, in one call), ``_cancel_aborted_jobs()``,
  ``heart_beat()``, ``_release_sem_dec_counter_on_complete()``, ``_jobs_started()``;
- ``Worker`` attributes: ``tasks``, ``job_tasks``, ``sem``, ``job_counter``, ``max_jobs``, ``allow_pick_jobs``,
  ``allow_abort_jobs``, ``burst``, ``max_burst_jobs``, ``queue_name``, ``pool``, ``loop``.

Per-job keys keep arq's global prefixes (``arq:job:<order id>``...): order IDs are UUIDs, so deployments
sharing a Redis never collide there; the queue, leases, heartbeat and events carry the deployment's namespace.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from arq import Worker, constants
from arq.constants import abort_jobs_ss, in_progress_key_prefix, job_key_prefix, result_key_prefix, retry_key_prefix
from arq.jobs import deserialize_job_raw, serialize_job
from arq.utils import timestamp_ms

from engine.lease_scripts import CLAIM_LUA, FINISH_LUA, RENEW_LUA
from engine.runtime import backoff_s, dependency_down

log = logging.getLogger("oee.queue")

EXECUTE_ORDER = "execute_order"
JOB_EXPIRES_MS = 24 * 3600 * 1000

# KEYS = queue, job prefix, result prefix; ARGV = expires_ms, then (job_id, score, payload) triples.
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


class OrderQueue:
    """Puts order jobs on the queue."""

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


def lease_keys(queue_name: str) -> tuple[str, str]:
    """The lease set (job ID -> lease deadline, ms) and the owners hash (job ID -> "<host>:<pid>:<id> <score>")."""
    return f"{queue_name}:leases", f"{queue_name}:lease-owners"


_WORKER_ATTRIBUTES = ("tasks", "job_tasks", "sem", "job_counter", "max_jobs", "allow_pick_jobs", "allow_abort_jobs",
                      "burst", "max_burst_jobs", "queue_name", "loop")  # fmt: skip
_WORKER_METHODS = {
    "_poll_iteration": ["self"],
    "run_job": ["self", "job_id", "score"],
    "finish_job": ["self", "job_id", "finish", "result_data", "result_timeout_s", "keep_result_forever",
                   "incr_score", "keep_in_progress"],
    "finish_failed_job": ["self", "job_id", "result_data"],
    "_cancel_aborted_jobs": ["self"],
    "heart_beat": ["self"],
    "_release_sem_dec_counter_on_complete": ["self"],
    "_jobs_started": ["self"],
}  # fmt: skip
_CONSTANTS = ("job_key_prefix", "result_key_prefix", "in_progress_key_prefix", "retry_key_prefix", "abort_jobs_ss")


def arq_contract_problems(worker: Worker | None = None) -> list[str]:
    """What this module relies on that the installed arq no longer provides; empty when all holds."""
    problems = [f"arq.constants.{name} is gone" for name in _CONSTANTS if not hasattr(constants, name)]
    for name, params in _WORKER_METHODS.items():
        method = getattr(Worker, name, None)
        if method is None:
            problems.append(f"arq.worker.Worker.{name} is gone")
        elif list(inspect.signature(method).parameters) != params:
            problems.append(
                f"arq.worker.Worker.{name} now takes {inspect.signature(method)}, not ({', '.join(params)})"
            )
    if worker is not None:
        problems += [f"arq.worker.Worker.{a} is gone" for a in _WORKER_ATTRIBUTES if not hasattr(worker, a)]
    try:
        payload = serialize_job(EXECUTE_ORDER, ("id",), {}, None, 1)
        if deserialize_job_raw(payload)[:2] != (EXECUTE_ORDER, ("id",)):
            problems.append("arq.jobs.serialize_job no longer round-trips through arq.jobs.deserialize_job_raw")
    except Exception as exc:
        problems.append(f"arq.jobs.serialize_job(function, args, kwargs, job_try, enqueue_time_ms) fails: {exc!r}")
    return problems


class LeasedWorker(Worker):
    """An arq ``Worker`` that claims due jobs in batches under renewed leases (see the module docstring)."""

    def __init__(self, *args: Any, lease_s: float, lease_renew_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        problems = arq_contract_problems(self)
        if problems:
            raise RuntimeError("the installed arq changed what the order queue relies on: " + "; ".join(problems))
        # Names the holder in the owners hash: host and process, so an operator (or a test) can tell who holds what.
        self._token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease_ms = int(lease_s * 1000)
        self._renew_s = lease_renew_s
        self._keys = (self.queue_name, *lease_keys(self.queue_name))
        self._leased: dict[str, int] = {}  # jobs this worker runs under a lease -> their queue score
        self._scripts: dict[str, Any] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._poll_failures = 0  # consecutive polls that found Redis unreachable

    def _script(self, name: str, source: str) -> Any:
        if name not in self._scripts:
            self._scripts[name] = self.pool.register_script(source)
        return self._scripts[name]

    async def _poll_iteration(self) -> None:
        if self._renewer is None:
            self._renewer = self.loop.create_task(self._renew_leases(), name="lease-renewal")
        try:
            await self._poll_once()
        except Exception as exc:
            if not dependency_down(exc):
                raise
            # Redis down, restarting or stalled: keep the jobs running here (their steps go to PostgreSQL) and
            # keep polling; once Redis answers, the renewal takes back the leases that lapsed meanwhile.
            self._poll_failures += 1
            log.warning("polling the queue failed (%r); retry %d in %.1f s", exc, self._poll_failures,
                        backoff_s(self._poll_failures))  # fmt: skip
            await asyncio.sleep(backoff_s(self._poll_failures))
            return
        if self._poll_failures:
            log.warning("the queue answers again after %d failed polls", self._poll_failures)
            self._poll_failures = 0

    async def _poll_once(self) -> None:
        free = self.max_jobs - self.job_counter
        if self.burst and self.max_burst_jobs >= 0:
            free = min(free, self.max_burst_jobs - self._jobs_started())
        if self.allow_pick_jobs and free > 0:
            await self._claim(free)
        if self.allow_abort_jobs:
            await self._cancel_aborted_jobs()
        for job_id, task in list(self.tasks.items()):
            if task.done():
                del self.tasks[job_id]
                task.result()  # as arq does: an error in run_job itself stops the worker
        await self.heart_beat()

    async def _claim(self, slots: int) -> None:
        for _ in range(slots):
            await self.sem.acquire()
            self.job_counter += 1
        try:
            reply = await self._script("claim", CLAIM_LUA)(
                keys=self._keys, args=[timestamp_ms(), self._lease_ms, self._token, slots, in_progress_key_prefix]
            )
        except BaseException:
            for _ in range(slots):
                self._release_sem_dec_counter_on_complete()
            raise
        started = 0
        for i in range(0, len(reply), 2):
            job_id, score = reply[i].decode(), int(float(reply[i + 1]))
            if job_id in self._leased:
                continue  # our own lapsed lease, claimed back: the job still runs here, and the lease is ours again
            self._leased[job_id] = score
            task = self.loop.create_task(self.run_job(job_id, score))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task
            started += 1
        for _ in range(slots - started):
            self._release_sem_dec_counter_on_complete()

    async def run_job(self, job_id: str, score: int) -> None:
        try:
            await super().run_job(job_id, score)
        except Exception as exc:
            if not dependency_down(exc):
                raise
            # Redis went away while the job was being read or settled. Whatever the order reached is in
            # PostgreSQL; the lease lapses and the job runs again, resuming from there.
            log.warning("job %s: the queue is unreachable (%r); it runs again once its lease lapses", job_id, exc)
            self._leased.pop(job_id, None)

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self._renew_s)
            if not self._leased:
                continue
            held = [part for job_id, score in self._leased.items() for part in (job_id, score)]
            try:
                lost = await self._script("renew", RENEW_LUA)(
                    keys=self._keys,
                    args=[timestamp_ms() + self._lease_ms, self._lease_ms, self._token, in_progress_key_prefix, *held],
                )
            except Exception as exc:
                log.warning("renewing %d leases failed (%r); retrying", len(self._leased), exc)
                continue
            for raw in lost:
                job_id = raw.decode()
                running = self.job_tasks.get(job_id)
                # Still ours locally, yet another worker holds it: this one stalled past its lease. Stop it here;
                # the new holder resumes the order from what is recorded.
                if job_id in self._leased and running is not None:
                    log.warning("lease on job %s passed to another worker; stopping it here", job_id)
                    del self._leased[job_id]
                    running.cancel()

    async def _settle(self, job_id: str, finished: bool, result: bytes | None, ttl_ms: int, incr: int | None) -> None:
        score = self._leased.pop(job_id, timestamp_ms())
        await self._script("finish", FINISH_LUA)(
            keys=[*self._keys, abort_jobs_ss],
            args=[job_id, self._token, "1" if finished else "0", score + (incr or 0), result or b"", ttl_ms,
                  job_key_prefix, in_progress_key_prefix, retry_key_prefix, result_key_prefix],
        )  # fmt: skip

    async def finish_job(
        self,
        job_id: str,
        finish: bool,
        result_data: bytes | None,
        result_timeout_s: float | None,
        keep_result_forever: bool,
        incr_score: int | None,
        keep_in_progress: float | None,
    ) -> None:
        ttl_ms = 0 if keep_result_forever or result_timeout_s is None else int(result_timeout_s * 1000)
        await self._settle(job_id, finish, result_data, ttl_ms, incr_score)

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        keep = self.keep_result_forever or self.keep_result_s > 0
        ttl_ms = 0 if self.keep_result_forever else int(self.keep_result_s * 1000)
        await self._settle(job_id, True, result_data if keep else None, ttl_ms, None)

    async def close(self) -> None:
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        # All done now. A job cancelled before it began never settled its lease: hand it back as well. (arq's
        # close would also re-raise that cancellation from its own gather over these tasks.)
        self.tasks.clear()
        for job_id in list(self._leased):
            try:
                await self._settle(job_id, False, None, 0, None)
            except Exception as exc:
                if not dependency_down(exc):
                    raise
                log.warning("handing job %s back failed (%r); it runs again once its lease lapses", job_id, exc)
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
        await super().close()
