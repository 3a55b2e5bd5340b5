"""``GET /metrics``: the deployment's metrics in Prometheus's text format, and the API's access log.

The scrape adds up every process's samples (see :mod:`engine.metrics`) and reads what only the stores
know at this moment: unfinished orders by type and status from PostgreSQL, and the queue's depth from
Redis. It needs no API key and shows no order ID, key or address. A store that does not answer leaves
its gauges out of that scrape instead of failing it: the counters are still worth having.
"""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import APIRouter, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.api.routes import Services
from engine.db import repository
from engine.metrics import drop_dead_processes
from engine.queue import lease_keys

log = logging.getLogger("oee.metrics")
access = logging.getLogger("oee.access")

router = APIRouter()

# A scrape waits this long for a store before leaving its gauges out.
STORE_TIMEOUT_S = 2.0


@router.get("/metrics", include_in_schema=False)
async def metrics(api: Services) -> Response:
    directory = api.settings.prometheus_multiproc_dir
    samples: CollectorRegistry = REGISTRY  # one process alone (run without ``oee``)
    if directory is not None and directory.is_dir():
        drop_dead_processes(str(directory))
        samples = CollectorRegistry()
        MultiProcessCollector(samples, path=str(directory))  # type: ignore[no-untyped-call]
    live = CollectorRegistry()
    live.register(_Now(await _store_gauges(api)))
    return Response(generate_latest(samples) + generate_latest(live), media_type=CONTENT_TYPE_LATEST)


async def _store_gauges(api: Services) -> list[GaugeMetricFamily]:
    families: list[GaugeMetricFamily] = []
    try:
        async with asyncio.timeout(STORE_TIMEOUT_S), api.pool.acquire() as conn:
            counts = await repository.unfinished_counts(conn)
        orders = GaugeMetricFamily("oee_orders_unfinished", "Orders not yet confirmed or failed, now.",
                                   labels=["type", "status"])  # fmt: skip
        for order_type, status, n in counts:
            orders.add_metric([order_type, status], n)
        families.append(orders)
    except Exception as exc:
        log.warning("metrics: unfinished orders unavailable: %r", exc)
    try:
        queue = api.settings.order_queue_key
        async with asyncio.timeout(STORE_TIMEOUT_S):
            ready, leased = await asyncio.gather(api.redis.zcard(queue), api.redis.zcard(lease_keys(queue)[0]))
        depth = GaugeMetricFamily("oee_queue_depth", "Orders queued: ready to run, or leased by a worker.",
                                  labels=["state"])  # fmt: skip
        depth.add_metric(["ready"], ready)
        depth.add_metric(["leased"], leased)
        families.append(depth)
    except Exception as exc:
        log.warning("metrics: queue depth unavailable: %r", exc)
    return families


class _Now(Collector):
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self._families = families

    def collect(self) -> list[GaugeMetricFamily]:
        return self._families


class AccessLog:
    """One log line per HTTP request (method, path, status, duration), in front of everything else.

    Off (one level check per request) unless ``oee.access`` logs at INFO, so the submission fast path
    pays for a line only when someone reads them. Paths only: query strings and headers never appear.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not access.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def answered(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, answered)
        finally:
            ms = round((time.perf_counter() - started) * 1000, 2)
            method, path = scope["method"], scope["path"]
            access.info("%s %s %d %.2f ms", method, path, status, ms,
                        extra={"method": method, "path": path, "status": status, "durationMs": ms})  # fmt: skip
