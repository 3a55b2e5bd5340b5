"""``GET /metrics``: the deployment's metrics in Prometheus's text format; the HTTP metrics and access log.

The scrape adds up every process's samples (see :mod:`engine.metrics`), those in the metrics directory and
in its sub-folders (one per container, when containers share the directory as a volume), and reads what
only the stores know at this moment: unfinished orders by type and status from PostgreSQL, and the queue's
depth from Redis. ``oee_build_info`` says which build answers (version, Python, git commit). It needs no API
key and shows no order ID, key secret or address. A store that does not answer leaves its gauges out of that
scrape instead of failing it: the counters are still worth having.
"""

from __future__ import annotations

import asyncio
import functools
import glob
import logging
import os
import platform
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from fastapi import APIRouter, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine import __version__
from engine.api.fastpath import PATH as FAST_PATH
from engine.api.routes import Services
from engine.db import repository
from engine.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS, UNMATCHED_ROUTE, drop_dead_processes
from engine.queue import lease_keys
from engine.runtime import PROJECT_ROOT

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
        drop_dead_processes(str(directory))  # this host's processes only: a sub-folder is another container's
        samples = CollectorRegistry()
        samples.register(_DeploymentFiles(directory))
    live = CollectorRegistry()
    live.register(_Now([*await _store_gauges(api), build_info()]))
    return Response(generate_latest(samples) + generate_latest(live), media_type=CONTENT_TYPE_LATEST)


class _DeploymentFiles(Collector):
    """Every process's samples: the files in ``directory`` and in its sub-folders, added up."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def collect(self) -> Iterable[Metric]:
        files = glob.glob(os.path.join(self._directory, "**", "*.db"), recursive=True)
        return MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-any-return, no-untyped-call]


def build_info() -> GaugeMetricFamily:
    """``oee_build_info{version,python,commit} 1``: which build answers."""
    info = GaugeMetricFamily("oee_build_info", "The build answering: version, Python version and git commit.",
                             labels=["version", "python", "commit"])  # fmt: skip
    info.add_metric([__version__, platform.python_version(), build_commit()], 1)
    return info


# Written into the image at build time (the Dockerfile's GIT_COMMIT argument); a checkout asks git instead.
COMMIT_FILE = "BUILD_COMMIT"


@functools.cache
def build_commit() -> str:
    """The git commit this code was built from: the image's ``BUILD_COMMIT`` file, else the checkout's HEAD,
    else ``unknown``. Looked up once per process."""
    try:
        written = (PROJECT_ROOT / COMMIT_FILE).read_text().strip()
    except OSError:
        written = ""
    if written and written != "unknown":
        return written
    try:
        found = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=2, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("metrics: no git commit: %r", exc)
        return "unknown"
    commit = found.stdout.strip()
    return commit if found.returncode == 0 and commit else "unknown"


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


class HttpMetrics:
    """Counts and times every HTTP request by method, route template and status code (``oee_http_requests_total``,
    ``oee_http_request_seconds``), in front of everything else.

    The template is the route the app matched (it leaves it in the request's scope), so an order's ID never
    becomes a label; the submission fast path answers before any routing and is labelled with its own path;
    a path no route matches is ``unmatched``. WebSockets are not requests here: ``oee_ws_subscribers`` counts them.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
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
            labels = (scope["method"], route_template(scope), str(status))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_REQUEST_SECONDS.labels(*labels).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The template of the route that served ``scope`` (after the app ran), or ``unmatched``."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str) and template:
        return template
    if scope["path"] == FAST_PATH and scope["method"] == "POST":
        return FAST_PATH
    return UNMATCHED_ROUTE
