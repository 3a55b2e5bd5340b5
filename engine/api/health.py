"""``/health``: what is up, what is degraded and why, answered within a second whatever stalls.

The API checks its own dependencies (PostgreSQL, Redis) and reads what workers published about
themselves (:mod:`engine.status`): the heartbeat says a worker runs; its status record says on which
network and settlement, whether its RPC answers and how fast, the wallet's balance against the fee
floor, and whether orders are falling back to the simulated ledger right now. Each check runs under
:data:`CHECK_BUDGET_S`, at the same time as the others, so a stalled dependency is reported as such
instead of holding the answer. Nothing secret is shown: no URL, no key; the wallet's address only.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from engine import __version__
from engine.api.services import ApiServices
from engine.status import WorkerStatus, read_statuses
from engine.worker import health_check_key

# Each check's deadline: well inside the one second /health promises, with room for the answer itself.
CHECK_BUDGET_S = 0.8
OK = "ok"


def _failed(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {CHECK_BUDGET_S:g} s"
    return f"error: {exc.__class__.__name__}"


async def _database(api: ApiServices) -> str:
    async with api.pool.acquire(timeout=CHECK_BUDGET_S) as conn:
        await conn.fetchval("SELECT 1", timeout=CHECK_BUDGET_S)
    return OK


async def _redis(api: ApiServices) -> tuple[bool, list[WorkerStatus]]:
    """Redis answers (else this raises); whether a worker's heartbeat is there; the live workers' records."""
    beat = await api.redis.exists(health_check_key(api.settings))
    return bool(beat), await read_statuses(api.redis, api.settings)


async def health_report(api: ApiServices) -> tuple[bool, dict[str, Any]]:
    """Whether everything is ok, and the answer's body."""
    database, redis = await asyncio.gather(
        asyncio.wait_for(_database(api), CHECK_BUDGET_S),
        asyncio.wait_for(_redis(api), CHECK_BUDGET_S),
        return_exceptions=True,
    )
    checks: dict[str, str] = {"database": _failed(database) if isinstance(database, BaseException) else OK}
    degraded: list[str] = []
    workers: list[WorkerStatus] = []
    if isinstance(redis, BaseException):
        checks.update(redis=_failed(redis), worker="unknown: Redis did not answer", settlement="unknown")
    else:
        beat, workers = redis
        checks["redis"] = OK
        checks["worker"] = OK if beat else "no worker heartbeat"
        checks["settlement"] = _settlement(workers)
    for name, value in checks.items():
        if value != OK:
            degraded.append(f"{name}: {value}")
    degraded.extend(f"worker {w.worker}: {problem}" for w in workers for problem in w.problems())
    body = {
        "status": "degraded" if degraded else "ok",
        "checks": checks,
        "degraded": degraded,
        "workers": [worker_view(w) for w in workers],
        "version": __version__,
        "time": datetime.now(UTC).isoformat(),
    }
    return not degraded, body


def _settlement(workers: list[WorkerStatus]) -> str:
    if not workers:
        return "no worker has reported its status"
    troubled = sum(1 for w in workers if w.problems())
    return OK if not troubled else f"{troubled} of {len(workers)} workers report problems"


def worker_view(status: WorkerStatus) -> dict[str, Any]:
    """One worker's record as ``/health`` shows it."""
    v = status.venue
    rpc = None if v.rpc_reachable is None else {"reachable": v.rpc_reachable, "latencyMs": v.rpc_latency_ms,
                                                  "error": v.rpc_error}  # fmt: skip
    wallet = None if v.wallet is None else {"address": v.wallet, "balanceLamports": v.balance_lamports,
                                             "minFeeBalanceLamports": v.min_fee_balance_lamports}  # fmt: skip
    return {
        "worker": status.worker,
        "reportedAt": datetime.fromtimestamp(status.at, UTC).isoformat(),
        "network": v.network,
        "settlement": v.settlement.value,
        "routing": status.routing,
        "rpc": rpc,
        "wallet": wallet,
        "fallback": v.fallback,
        "problems": status.problems(),
    }
