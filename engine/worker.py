"""The worker process: an arq worker whose one job executes an order. Composition root of the worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from arq.worker import Retry, func
from solders.keypair import Keypair

from adapters.registry import build_worker_adapters
from engine import status as worker_status
from engine.db import repository
from engine.execution import SUPERSEDED, OrderExecutor, RetryPolicy
from engine.heartbeat import Heartbeat
from engine.queue import EXECUTE_ORDER, LeasedWorker, OrderQueue
from engine.recorder import StepStore
from engine.routing import RoutePolicy, Router
from engine.runtime import backoff_s, create_arq_redis, create_db_pool, create_redis, dependency_down
from kernel.routes import executes_plans
from kernel.settings import Settings

log = logging.getLogger("oee.worker")

RECOVERY_GRACE_S = 5.0
HEALTH_CHECK_INTERVAL_S = 5


async def execute_order(ctx: dict[str, Any], order_id: str) -> None:
    executor: OrderExecutor = ctx["executor"]
    settings: Settings = ctx["settings"]
    try:
        status = await executor.execute(order_id)
    except Exception as exc:
        if not dependency_down(exc):
            raise
        # PostgreSQL (or Redis) is down: run the job again after a back-off; it resumes from what is recorded.
        delay = backoff_s(ctx.get("job_try", 1), first_s=0.5, most_s=5.0)
        log.warning("order %s: a dependency is unreachable (%r); running it again in %.1f s", order_id, exc, delay)
        raise Retry(defer=delay) from exc
    if status == SUPERSEDED:
        # Another run of the order wrote first. Look again once a lease has passed: by then that run has
        # finished the order, or it died and this job resumes it.
        raise Retry(defer=settings.job_lease_s)


async def recover_lost_orders(ctx: dict[str, Any]) -> int:
    """Re-enqueue unfinished orders that have no job (lost between commit and enqueue, or timed out)."""
    settings: Settings = ctx["settings"]
    queue: OrderQueue = ctx["order_queue"]
    async with ctx["db"].acquire() as conn:
        stale = await repository.stale_unfinished(conn, RECOVERY_GRACE_S, 1000)
    if not stale:
        return 0
    ids = [str(i) for i in stale]
    known = await queue.known(ids)
    missing = [i for i in ids if i not in known]
    queued = await queue.enqueue(missing) if missing else 0
    if queued:
        log.warning("re-enqueued %d unfinished orders whose job was lost (queue %s)", queued, settings.order_queue_key)
    return queued


async def _recovery_loop(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    while True:
        try:
            await recover_lost_orders(ctx)
        except Exception as exc:
            # A dependency that is down is expected now and then: one line; anything else with its traceback.
            log.warning("recovery sweep failed: %r", exc, exc_info=not dependency_down(exc))
        await asyncio.sleep(settings.recovery_interval_s)


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    pool = await create_db_pool(settings, size=max(4, min(settings.db_pool_size, 20)), timeout_s=settings.db_timeout_s)
    redis = create_redis(settings, timeout_s=settings.redis_timeout_s)
    store = StepStore(pool, redis, settings.events_channel, retry_for_s=settings.job_timeout_s)
    store.start()
    adapters = build_worker_adapters(settings, redis, ctx.get("signer"))
    policy = RoutePolicy.from_settings(settings, adapters.tokens, plans=executes_plans(adapters.settlement))
    router = Router(adapters.dexes, settings.quote_timeout_ms / 1000, policy)
    ctx.update(
        db=pool,
        app_redis=redis,
        store=store,
        adapters=adapters,
        order_queue=OrderQueue(redis, settings.order_queue_key),
        executor=OrderExecutor(
            pool=pool,
            store=store,
            router=router,
            venue=adapters.settlement,
            tokens=adapters.tokens,
            retry=RetryPolicy.from_settings(settings),
            confirm_poll_s=settings.rebroadcast_ms / 1000,
        ),
    )
    ctx["recovery_task"] = asyncio.create_task(_recovery_loop(ctx), name="order-recovery")
    ctx["status_reporter"] = worker_status.start_reporter(settings, redis, adapters.settlement)
    ctx["heartbeat"] = Heartbeat(settings.data_dir, "worker").start()  # the container's liveness check reads it
    dexes = [d.name for d in adapters.dexes]
    log.info(
        "worker ready: concurrency=%d dexes=%s settlement=%s (%s)",
        settings.worker_concurrency, dexes, adapters.settlement.kind, adapters.note,
        extra={"concurrency": settings.worker_concurrency, "dexes": dexes, "settlement": str(adapters.settlement.kind)},
    )  # fmt: skip


async def shutdown(ctx: dict[str, Any]) -> None:
    if "heartbeat" in ctx:
        await ctx["heartbeat"].stop()
    await worker_status.stop_reporter(ctx.get("status_reporter"))
    task = ctx.get("recovery_task")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if "store" in ctx:
        await ctx["store"].stop()
    if "adapters" in ctx:
        await ctx["adapters"].aclose()
    if "app_redis" in ctx:
        await ctx["app_redis"].aclose()
    if "db" in ctx:
        await ctx["db"].close()


def build_worker(settings: Settings, *, burst: bool = False, signer: Keypair | None = None) -> LeasedWorker:
    """An arq worker tuned so the queue is not the bottleneck. ``signer`` is the wallet, if configured.

    SIGTERM or SIGINT stops it taking orders and lets running ones finish for ``WORKER_SHUTDOWN_GRACE_S``;
    what still runs then is cancelled and handed back to the queue, where another worker takes it at once.
    """
    return LeasedWorker(
        functions=[
            func(execute_order, name=EXECUTE_ORDER, keep_result=0, max_tries=1000, timeout=settings.job_timeout_s)
        ],
        redis_pool=create_arq_redis(settings, timeout_s=settings.redis_timeout_s),
        queue_name=settings.order_queue_key,
        health_check_key=health_check_key(settings),
        lease_s=settings.job_lease_s,
        lease_renew_s=settings.job_lease_renew_s,
        max_jobs=settings.worker_concurrency,
        job_timeout=settings.job_timeout_s,
        keep_result=0,
        poll_delay=settings.queue_poll_delay_ms / 1000,
        queue_read_limit=max(settings.worker_concurrency * 5, 100),
        health_check_interval=HEALTH_CHECK_INTERVAL_S,
        on_startup=startup,
        on_shutdown=shutdown,
        ctx={"settings": settings, "signer": signer},
        handle_signals=True,
        job_completion_wait=settings.worker_shutdown_grace_s,
        burst=burst,
        max_burst_jobs=-1,
    )


def health_check_key(settings: Settings) -> str:
    return f"{settings.order_queue_key}:health-check"
