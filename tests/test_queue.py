from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis
from arq.constants import job_key_prefix

from engine.batching import GroupCommitter
from engine.queue import OrderQueue


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


async def test_batch_claiming_worker_runs_each_job_once_across_two_workers(
    redis: aioredis.Redis, redis_url: str
) -> None:
    from arq.connections import RedisSettings
    from arq.worker import func

    from engine.queue_worker import BatchClaimWorker

    name = f"oee:test:{uuid.uuid4().hex[:8]}"
    runs: list[str] = []

    async def execute_order(ctx: dict[str, object], order_id: str) -> None:
        runs.append(order_id)
        await asyncio.sleep(0.005)

    ids = [str(uuid.uuid4()) for _ in range(300)]
    await OrderQueue(redis, name).enqueue(ids)

    def worker() -> BatchClaimWorker:
        return BatchClaimWorker(
            functions=[func(execute_order, name="execute_order", keep_result=0)],
            redis_settings=RedisSettings.from_dsn(redis_url),
            queue_name=name, burst=True, poll_delay=0.005, max_jobs=20, handle_signals=False,
        )  # fmt: skip

    workers = [worker(), worker()]
    await asyncio.gather(*(w.async_run() for w in workers))
    for w in workers:
        await w.close()
    assert sorted(runs) == sorted(ids)  # every job ran, none twice
    assert sum(w.jobs_complete for w in workers) == 300
    assert all(w.jobs_complete > 0 for w in workers)
    assert await redis.zcard(name) == 0
