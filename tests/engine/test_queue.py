from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq import Worker
from arq.connections import RedisSettings
from arq.constants import job_key_prefix
from arq.worker import func

from engine.batching import GroupCommitter
from engine.queue import LeasedWorker, OrderQueue, arq_contract_problems, lease_keys
from tests.support import eventually


async def test_batch_enqueue_writes_arq_jobs_once(redis: aioredis.Redis) -> None:
    name = f"oee:test:{uuid.uuid4().hex[:8]}"
    queue = OrderQueue(redis, name)
    ids = [str(uuid.uuid4()) for _ in range(50)]
    assert await queue.enqueue(ids) == 50
    # The same job IDs are not queued again while they exist.
    assert await queue.enqueue([*ids[:10], str(uuid.uuid4())]) == 1
    assert await redis.zcard(name) == 51
    assert await redis.exists(job_key_prefix + ids[0]) == 1
    assert await queue.known([*ids[:3], "absent"]) == set(ids[:3])


async def test_arq_worker_runs_batch_enqueued_jobs(redis: aioredis.Redis, redis_url: str) -> None:
    from arq import Worker
    from arq.connections import RedisSettings
    from arq.worker import func

    name = f"oee:test:{uuid.uuid4().hex[:8]}"
    seen: list[str] = []

    async def execute_order(ctx: dict[str, object], order_id: str) -> None:
        seen.append(order_id)

    ids = [str(uuid.uuid4()) for _ in range(20)]
    await OrderQueue(redis, name).enqueue(ids)
    worker = Worker(
        functions=[func(execute_order, name="execute_order", keep_result=0)],
        redis_settings=RedisSettings.from_dsn(redis_url),
        queue_name=name,
        burst=True,
        poll_delay=0.01,
        handle_signals=False,
    )
    await worker.async_run()
    await worker.close()
    assert sorted(seen) == sorted(ids)
    assert await redis.zcard(name) == 0


async def test_group_commit_batches_concurrent_items() -> None:
    batches: list[int] = []

    async def write(items: list[int]) -> list[int]:
        batches.append(len(items))
        await asyncio.sleep(0.01)
        return [i * 2 for i in items]

    committer: GroupCommitter[int, int] = GroupCommitter(write, max_batch=100, flushers=1)  # type: ignore[arg-type]
    committer.start()
    results = await asyncio.gather(*(committer(i) for i in range(300)))
    await committer.stop()
    assert results == [i * 2 for i in range(300)]
    assert sum(batches) == 300
    assert max(batches) > 1  # concurrent callers shared writes
    assert max(batches) <= 100


async def test_group_commit_failure_reaches_every_caller_of_the_batch() -> None:
    async def write(items: list[int]) -> list[int]:
        raise RuntimeError("database down")

    committer: GroupCommitter[int, int] = GroupCommitter(write, flushers=1)  # type: ignore[arg-type]
    committer.start()
    results = await asyncio.gather(*(committer(i) for i in range(5)), return_exceptions=True)
    await committer.stop()
    assert all(isinstance(r, RuntimeError) for r in results)


def leased_worker(
    redis_url: str,
    name: str,
    job: Callable[..., Awaitable[None]],
    *,
    slots: int = 10,
    burst: bool = False,
    lease_s: float = 3.0,
    lease_renew_s: float = 1.0,
) -> LeasedWorker:
    return LeasedWorker(
        functions=[func(job, name="execute_order", keep_result=0, max_tries=1000)],
        redis_settings=RedisSettings.from_dsn(redis_url), queue_name=name, burst=burst, poll_delay=0.005,
        max_jobs=slots, handle_signals=False, lease_s=lease_s, lease_renew_s=lease_renew_s,
    )  # fmt: skip


async def test_leased_workers_run_each_job_once_across_two_workers(redis: aioredis.Redis, redis_url: str) -> None:
    name = f"oee:test:{uuid.uuid4().hex[:8]}"
    runs: list[str] = []

    async def execute_order(ctx: dict[str, object], order_id: str) -> None:
        runs.append(order_id)
        await asyncio.sleep(0.005)

    ids = [str(uuid.uuid4()) for _ in range(300)]
    await OrderQueue(redis, name).enqueue(ids)
    workers = [leased_worker(redis_url, name, execute_order, slots=20, burst=True) for _ in range(2)]
    await asyncio.gather(*(w.async_run() for w in workers))
    for w in workers:
        await w.close()
    assert sorted(runs) == sorted(ids)  # every job ran, none twice
    assert sum(w.jobs_complete for w in workers) == 300
    assert all(w.jobs_complete > 0 for w in workers)
    leases, owners = lease_keys(name)
    assert await redis.zcard(name) == 0
    assert await redis.zcard(leases) == 0
    assert await redis.hlen(owners) == 0
    assert await redis.exists(*(job_key_prefix + i for i in ids)) == 0


async def test_a_second_worker_takes_new_jobs_while_the_first_runs_its_own(
    redis: aioredis.Redis, redis_url: str
) -> None:
    # Each job holds its slot until 20 jobs run at once: only two workers of 10 that never spend their
    # slots on the other's running jobs get there.
    name = f"oee:test:{uuid.uuid4().hex[:8]}"
    running: set[str] = set()
    release = asyncio.Event()

    async def execute_order(ctx: dict[str, object], order_id: str) -> None:
        running.add(order_id)
        await release.wait()

    await OrderQueue(redis, name).enqueue([str(uuid.uuid4()) for _ in range(30)])
    first = leased_worker(redis_url, name, execute_order)
    first_run = asyncio.create_task(first.async_run())
    await eventually(lambda: asyncio.sleep(0, len(running)), lambda n: n == 10)
    leases, _ = lease_keys(name)
    assert (await redis.zcard(name), await redis.zcard(leases)) == (20, 10)  # claimed jobs left the ready set
    second = leased_worker(redis_url, name, execute_order)
    second_run = asyncio.create_task(second.async_run())
    await eventually(lambda: asyncio.sleep(0, len(running)), lambda n: n == 20)
    assert (first.job_counter, second.job_counter) == (10, 10)
    release.set()
    await eventually(lambda: asyncio.sleep(0, len(running)), lambda n: n == 30)
    await eventually(lambda: redis.zcard(leases), lambda n: n == 0)
    for worker, task in ((first, first_run), (second, second_run)):
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()


async def test_a_dead_workers_jobs_go_to_a_live_worker_once_its_leases_lapse(
    redis: aioredis.Redis, redis_url: str
) -> None:
    name = f"oee:test:{uuid.uuid4().hex[:8]}"
    started: list[tuple[str, str]] = []
    done: list[str] = []

    async def execute_order(ctx: dict[str, Any], order_id: str) -> None:
        started.append((ctx["worker"], order_id))
        if ctx["worker"] == "doomed":
            await asyncio.Event().wait()
        done.append(order_id)

    ids = [str(uuid.uuid4()) for _ in range(5)]
    await OrderQueue(redis, name).enqueue(ids)
    doomed = leased_worker(redis_url, name, execute_order, lease_s=0.5, lease_renew_s=0.1)
    doomed.ctx["worker"] = "doomed"
    doomed_run = asyncio.create_task(doomed.async_run())
    await eventually(lambda: asyncio.sleep(0, len(started)), lambda n: n == 5)
    # Stop polling and renewing without finishing anything, as a killed process would.
    doomed_run.cancel()
    assert doomed._renewer is not None
    doomed._renewer.cancel()
    survivor = leased_worker(redis_url, name, execute_order, lease_s=0.5, lease_renew_s=0.1)
    survivor.ctx["worker"] = "survivor"
    survivor_run = asyncio.create_task(survivor.async_run())
    await eventually(lambda: asyncio.sleep(0, sorted(done)), lambda d: d == sorted(ids))
    assert sorted(o for w, o in started if w == "survivor") == sorted(ids)
    survivor_run.cancel()
    await asyncio.gather(survivor_run, doomed_run, return_exceptions=True)
    await survivor.close()
    for task in list(doomed.job_tasks.values()):
        task.cancel()


async def nothing(ctx: dict[str, object], order_id: str) -> None:
    pass


async def test_the_arq_internals_the_queue_relies_on_are_there(redis_url: str) -> None:
    assert arq_contract_problems(leased_worker(redis_url, "oee:test:contract", nothing)) == []


async def test_an_arq_release_changing_an_internal_is_named(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    async def finish_job(self: Worker, job_id: str, finish: bool) -> None:  # a changed signature
        pass

    monkeypatch.setattr(Worker, "finish_job", finish_job)
    monkeypatch.delattr(Worker, "_jobs_started")
    problems = arq_contract_problems()
    assert any(p.startswith("arq.worker.Worker.finish_job now takes") for p in problems), problems
    assert "arq.worker.Worker._jobs_started is gone" in problems
    with pytest.raises(RuntimeError, match=r"arq\.worker\.Worker\.finish_job"):
        leased_worker(redis_url, "oee:test:contract", nothing)
    assert inspect.signature(Worker.finish_job) != inspect.signature(LeasedWorker.finish_job)
