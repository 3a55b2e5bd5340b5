"""The watcher process (``oee watcher``): composition root of the watcher of waiting orders."""

from __future__ import annotations

import asyncio
import logging
import signal

from adapters.registry import build_watchers, tokens_for
from engine.heartbeat import Heartbeat
from engine.runtime import create_db_pool, create_redis
from engine.watcher.service import WaitingWatcher
from kernel.settings import Settings

log = logging.getLogger("oee.watcher")


async def run_watcher(settings: Settings) -> None:
    """Watch until SIGTERM or SIGINT, then hand the pairs back (their leases released) and return."""
    pool = await create_db_pool(settings, size=4, timeout_s=settings.db_timeout_s)
    redis = create_redis(settings, timeout_s=settings.redis_timeout_s)
    dexes = build_watchers(settings, redis)
    watcher = WaitingWatcher(settings, pool, redis, dexes, tokens_for(settings))
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    heartbeat: Heartbeat | None = None
    try:
        await watcher.start()
        heartbeat = Heartbeat(settings.data_dir, "watcher").start()  # the container's liveness check reads it
        names = [v.name for v in dexes]
        log.info("watcher %s ready: DEXes %s", watcher.owner, names, extra={"owner": watcher.owner, "dexes": names})
        await stopping.wait()
    finally:
        if heartbeat is not None:
            await heartbeat.stop()
        await watcher.stop()
        for dex in dexes:
            close = getattr(dex, "aclose", None)
            if close is not None:
                await close()
        await redis.aclose()
        await pool.close()
