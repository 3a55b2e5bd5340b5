"""What the localnet was asked, by whom: requests per client and method, account reads, notifications sent.

A client is its socket's ``host:port`` as the localnet sees it, so a caller that knows which local ports a
process holds can tell that process's requests from everyone else's. ``localnet_requests [{reset}]``
returns the tally (and, with ``reset: true``, starts a fresh one)::

    {"requests": [{"transport": "http", "peer": "127.0.0.1:50412", "method": "getMultipleAccounts",
                   "count": 12}, ...],
     "reads": [{"peer": "127.0.0.1:50412", "account": "<address>", "count": 12}, ...],
     "notifications": [{"peer": "127.0.0.1:50418", "count": 3}, ...]}

``reads`` counts every account an account read or subscription named (``getAccountInfo``,
``getMultipleAccounts``, ``accountSubscribe``), once per request that named it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

_NAMING_ACCOUNTS = {"getAccountInfo", "getMultipleAccounts", "accountSubscribe"}


class RequestTally:
    """Counters of what each client asked; the localnet's own event loop is its only writer."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.reads: Counter[tuple[str, str]] = Counter()
        self.notifications: Counter[str] = Counter()

    def request(self, transport: str, peer: str, call: Any) -> None:
        """Count one JSON-RPC call object received over ``transport`` (``http`` or ``pubsub``) from ``peer``."""
        method = call.get("method") if isinstance(call, dict) else None
        if not isinstance(method, str):
            return
        self.requests[(transport, peer, method)] += 1
        if method not in _NAMING_ACCOUNTS:
            return
        params = call.get("params")
        first = params[0] if isinstance(params, list) and params else None
        for key in first if isinstance(first, list) else [first]:
            if isinstance(key, str):
                self.reads[(peer, key)] += 1

    def notified(self, peer: str) -> None:
        """Count one notification pushed to ``peer``."""
        self.notifications[peer] += 1

    def as_json(self) -> dict[str, list[dict[str, Any]]]:
        """The tally in the shape ``localnet_requests`` answers."""
        return {
            "requests": [
                {"transport": t, "peer": p, "method": m, "count": n} for (t, p, m), n in self.requests.items()
            ],
            "reads": [{"peer": p, "account": a, "count": n} for (p, a), n in self.reads.items()],
            "notifications": [{"peer": p, "count": n} for p, n in self.notifications.items()],
        }

    def reset(self) -> None:
        """Start counting afresh."""
        self.requests.clear()
        self.reads.clear()
        self.notifications.clear()


def peer_of(client: Any) -> str:
    """``host:port`` of a Starlette connection's client (``?`` when the server does not know it)."""
    return f"{client.host}:{client.port}" if client is not None else "?"
