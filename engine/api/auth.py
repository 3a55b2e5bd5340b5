"""Who is calling: the API key on a request or a socket, its rate limit, and its share of sockets.

Every route and socket that submits, reads or streams orders needs a key; ``/health`` and the docs do
not. HTTP clients send the key in the ``X-API-Key`` header. Browsers cannot set headers on a WebSocket,
and a key in the URL would end up in logs, so a socket may instead offer the subprotocols
``oee, oee.key.<key>``: the server picks ``oee`` and reads the key from the second. A request without
a valid key is 401; over its key's rate (a token bucket shared by every API process) it is 429 with
``Retry-After``; a socket past its key's or the process's cap is closed with a documented code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from fastapi.security import APIKeyHeader

from engine.auth.keys import ApiKey, KeyVerifier
from engine.auth.ratelimit import Limit, RateLimiter
from engine.metrics import RATE_LIMITED
from kernel.errors import RateLimited, Unauthenticated
from kernel.settings import Settings

KEY_HEADER = "X-API-Key"
SUBPROTOCOL = "oee"
KEY_SUBPROTOCOL_PREFIX = "oee.key."
# WebSocket close codes (4000-4999 are the application's own).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_RATE_LIMITED = 4429  # this key is over its rate, or holds its most sockets
CLOSE_PROCESS_FULL = 1013  # RFC 6455 "try again later": this API process holds its most sockets

# Declared for the OpenAPI document (its "Authorize" button); the check itself is :meth:`Gate.caller`.
api_key_scheme = APIKeyHeader(name=KEY_HEADER, auto_error=False, description="An API key: oee keys create")


def key_from_subprotocols(offered: Sequence[str]) -> str | None:
    for protocol in offered:
        if protocol.startswith(KEY_SUBPROTOCOL_PREFIX):
            return protocol[len(KEY_SUBPROTOCOL_PREFIX) :]
    return None


class Gate:
    """Checks keys and rate limits, and counts the sockets each key holds in this process."""

    def __init__(self, verifier: KeyVerifier, limiter: RateLimiter, settings: Settings) -> None:
        self._verifier = verifier
        self._limiter = limiter
        self._default = Limit(settings.rate_limit_per_s, settings.rate_limit_burst)
        self._max_per_key = settings.ws_max_per_key
        self._max_per_process = settings.ws_max_per_process
        self._sockets: Counter[str] = Counter()

    async def caller(self, presented: str | None) -> ApiKey:
        """The key ``presented`` proves, with one token taken from its bucket; raises 401 or 429."""
        key = await self._verifier.verify(presented)
        if key is None:
            message = "send a valid API key in the X-API-Key header" if presented else "an API key is required"
            raise Unauthenticated(message)
        limit = Limit(key.rate_per_s or self._default.rate, key.burst or self._default.burst)
        verdict = await self._limiter.take(key.key_id, limit)
        if not verdict.allowed:
            RATE_LIMITED.labels(key.key_id).inc()
            raise RateLimited(f"over {limit.rate:g} requests a second", retry_after_s=verdict.retry_after_s)
        return key

    def open_socket(self, key: ApiKey) -> int | None:
        """Count a socket for ``key``; the close code to refuse it with when a cap is reached."""
        if sum(self._sockets.values()) >= self._max_per_process:
            return CLOSE_PROCESS_FULL
        if self._sockets[key.key_id] >= self._max_per_key:
            return CLOSE_RATE_LIMITED
        self._sockets[key.key_id] += 1
        return None

    def close_socket(self, key: ApiKey) -> None:
        self._sockets[key.key_id] -= 1
        if self._sockets[key.key_id] <= 0:
            del self._sockets[key.key_id]

    @property
    def sockets(self) -> int:
        return sum(self._sockets.values())
