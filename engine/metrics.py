"""The engine's Prometheus metrics, added up across every API and worker process of a deployment.

How several processes make one ``/metrics``: prometheus-client's multiprocess mode. Each process writes its
samples to memory-mapped files in one directory per deployment (``PROMETHEUS_MULTIPROC_DIR``), and the API
process that serves a scrape adds up every process's files. ``oee`` puts the directory in the environment
before anything imports prometheus-client (which picks its value store at import): by default
``<OEE_DATA_DIR>/metrics/<namespace>``, emptied by ``oee up`` and ``oee demo`` at start, inherited by their
children. Chosen over workers pushing to Redis: a sample costs a memory write, not a round trip, on the
paths that execute orders; histograms need no hand-rolled buckets in hashes; and metrics keep counting
while Redis is down. It needs the processes on one host, as ``oee up`` runs them; on several hosts each
host's API is scraped and Prometheus adds them up.

Counters of a process that died stay in its files, so totals never step back when a worker restarts.
Live gauges (WebSocket subscribers) of a dead process are dropped at the next scrape.

What is counted where, once each: every status change and retry in ``engine.recorder`` as its step
commits (a run fenced off by another counts nothing), acceptance in ``engine.api.intake``, quotes in
``engine.routing``, RPC errors where the Solana toolkit classifies them, fallbacks to the simulated
ledger where the chain venue decides them, HTTP requests in ``engine.api.metrics`` and rate-limit refusals
in ``engine.api.auth``. Labels are enums (type, status, stage, dex, error code, route template, status code)
and an API key's public ID: never an order ID, a key's secret or an address, so ``/metrics`` needs no API key.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.multiprocess import mark_process_dead

# From a quick simulated fill (milliseconds) to a slow cluster's confirmation (a minute).
_STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_QUOTE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

ORDER_TRANSITIONS = Counter(
    "oee_order_transitions", "Orders that entered a status (pending when accepted), by order type.", ["type", "status"]
)
ORDER_STAGE_SECONDS = Histogram(
    "oee_order_stage_seconds",
    "Time an order spent between two statuses, observed once per order as it first reaches the later one.",
    ["stage"],
    buckets=_STAGE_BUCKETS,
)
# A waiting order waits from seconds (a sniper on a pool about to open) to the longest WAITING_MAX_S (30 days).
_WAIT_BUCKETS = (1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0)
ORDER_WAIT_SECONDS = Histogram(
    "oee_order_wait_seconds",
    "Time a waiting order (limit, sniper, stop...) waited, from acceptance until it fired, expired or was "
    "cancelled (the outcome). Queue time after it fired is the accepted_to_routing stage.",
    ["type", "outcome"],
    buckets=_WAIT_BUCKETS,
)
ORDER_RETRIES = Counter("oee_order_retries", "Failed attempts followed by another attempt, by error code.", ["code"])
QUOTE_SECONDS = Histogram(
    "oee_quote_seconds", "Time a DEX took to quote or fail to, per DEX.", ["dex"], buckets=_QUOTE_BUCKETS
)
QUOTE_ERRORS = Counter("oee_quote_errors", "Quotes a DEX did not give, by DEX and error code.", ["dex", "code"])
WS_SUBSCRIBERS = Gauge(
    "oee_ws_subscribers", "Order streams listening for events, over every API process.", multiprocess_mode="livesum"
)
# A process starts with no streams. Its file may be a dead predecessor's of the same process ID (a container
# restarted: its process is ID 1 again), whose last count would otherwise carry on.
WS_SUBSCRIBERS.set(0)

# HTTP: labels are the route's template ("/api/orders/{orderId}", never the raw path: "unmatched" for a path no
# route declares), the method and the status code, so the series stay as few as the routes and their answers.
UNMATCHED_ROUTE = "unmatched"
_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HTTP_REQUESTS = Counter(
    "oee_http_requests", "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)  # fmt: skip
HTTP_REQUEST_SECONDS = Histogram(
    "oee_http_request_seconds", "Time from a request's arrival to the end of its answer, by method, route template "
    "and status code.", ["method", "route", "status"], buckets=_HTTP_BUCKETS,
)  # fmt: skip
# The key's public ID (the part of the key shown by `oee keys list`), never the secret: as many series as keys.
RATE_LIMITED = Counter(
    "oee_rate_limited", "Requests and sockets refused (429) because their API key was over its rate, by key ID.",
    ["key_id"],
)  # fmt: skip

# Stage name -> (from status, to status). Together they add up to acceptance-to-confirmation.
STAGES = {
    "accepted_to_routing": ("pending", "routing"),
    "routing_to_submitted": ("routing", "submitted"),
    "submitted_to_confirmed": ("submitted", "confirmed"),
}
_STAGE_ENDING = {to: (name, start) for name, (start, to) in STAGES.items()}


def waited(order_type: str, outcome: str, seconds: float) -> None:
    """A waiting order left ``waiting`` for ``outcome`` (pending when it fired) after ``seconds``."""
    ORDER_WAIT_SECONDS.labels(order_type, outcome).observe(max(0.0, seconds))


def orders_accepted(types: Iterable[str | tuple[str, str]]) -> None:
    """Count orders the API committed (one type per order, or a type and the status it entered: a limit or
    sniper order is accepted ``waiting``). The watchers and cancels count their moves out of ``waiting`` here too."""
    counts: dict[tuple[str, str], int] = {}
    for entry in types:
        key = (entry, "pending") if isinstance(entry, str) else entry
        counts[key] = counts.get(key, 0) + 1
    for (order_type, status), n in counts.items():
        ORDER_TRANSITIONS.labels(order_type, status).inc(n)


class OrderTimeline:
    """When one run of one order saw it enter each status; counts each status change and times each stage.

    A stage is timed from the first time this run saw its order enter the earlier status (for ``pending``,
    the order's acceptance) to the first time it enters the later one. A run that resumes an order part-way
    does not time the stage it resumed in: it never saw it begin.
    """

    def __init__(self, order_type: str, status: str, accepted_at: float | None) -> None:
        self.order_type = order_type
        self._entered: dict[str, float] = {}
        if status == "pending" and accepted_at is not None:
            self._entered["pending"] = accepted_at

    def entered(self, status: str, at: float) -> None:
        ORDER_TRANSITIONS.labels(self.order_type, status).inc()
        if status in self._entered:
            return
        self._entered[status] = at
        stage = _STAGE_ENDING.get(status)
        if stage is not None and (started := self._entered.get(stage[1])) is not None:
            # Acceptance is PostgreSQL's clock, the rest this host's: never a negative duration.
            ORDER_STAGE_SECONDS.labels(stage[0]).observe(max(0.0, at - started))

    @staticmethod
    def retried(code: str) -> None:
        ORDER_RETRIES.labels(code).inc()


def drop_dead_processes(path: str) -> None:
    """Forget the live gauges of processes that have exited (their counters stay)."""
    for file in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        pid = Path(file).stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            mark_process_dead(int(pid), path)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # the ID is in use (by another user's process): keep its files
    return True
