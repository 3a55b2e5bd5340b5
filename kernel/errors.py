"""The engine's error hierarchy. Adapters convert what they catch into one of these at their boundary.

- :class:`RetryableError`: transient (timeouts, 429, 5xx, a dropped or expired transaction). The order's
  attempt fails and is tried again with back-off, up to the attempt limit.
- :class:`RejectedError`: the order cannot succeed as asked (slippage exceeded, insufficient funds, an
  unknown pair). Never retried; the order fails at once with this reason.
- :class:`FatalError`: a bug or corrupt state. The order fails and the error is logged loudly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class EngineError(Exception):
    """Base of every error the engine classifies. ``code`` is a stable machine-readable name."""

    code: str = "engine_error"

    def __init__(self, message: str, *, code: str | None = None, context: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.context: dict[str, Any] = context or {}
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class RetryableError(EngineError):
    """A transient failure: the same request may succeed later."""

    code = "retryable"


class RejectedError(EngineError):
    """The venue or the engine refuses the order as asked; retrying cannot help."""

    code = "rejected"


class FatalError(EngineError):
    """A bug or corrupt state: stop and say so."""

    code = "fatal"


class QuoteUnavailable(RetryableError):
    """A DEX could not quote right now (timeout, RPC error)."""

    code = "quote_unavailable"


class NoRoute(RetryableError):
    """No enabled DEX returned a usable quote on this attempt."""

    code = "no_route"


class TransactionExpired(RetryableError):
    """The transaction's blockhash expired while its signature was still unknown: it never landed."""

    code = "transaction_expired"


class SlippageExceeded(RejectedError):
    """The fill would pay less than the order's minimum amount out."""

    code = "slippage_exceeded"


class UnsupportedPair(RejectedError):
    """No enabled DEX trades this pair."""

    code = "unsupported_pair"


class InsufficientLiquidity(RejectedError):
    """The pool cannot fill this size."""

    code = "insufficient_liquidity"


class PoolNotTradable(RejectedError):
    """The pool takes no swap now: swaps disabled, not open or activated yet, or a mint whose transfers
    cannot be priced."""

    code = "pool_not_tradable"


# --- refused requests ---------------------------------------------------------------------------
# What a client sent that the service refuses as sent. Nothing was accepted or changed; the API maps
# each class to one HTTP status (``engine.api.errors``), so a client can tell them apart by ``code``.


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One problem with one field of a request: which field, and why."""

    field: str
    reason: str


class RequestRefused(RejectedError):
    """A request refused as sent. ``fields`` names each field at fault, where there is one."""

    code = "request_refused"

    def __init__(self, message: str, *, fields: tuple[FieldIssue, ...] = (), code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.fields = fields


class MalformedRequest(RequestRefused):
    """The body is not JSON, or not JSON this service reads (nested too deep, NaN)."""

    code = "malformed_request"


class InvalidRequest(RequestRefused):
    """The body is JSON but some fields are missing, unknown or out of range; ``fields`` lists each."""

    code = "invalid_request"

    def __init__(self, fields: tuple[FieldIssue, ...] | list[FieldIssue], *, code: str | None = None) -> None:
        issues = tuple(fields)
        super().__init__("; ".join(f"{f.field}: {f.reason}" for f in issues), fields=issues, code=code)


class NotFound(RequestRefused):
    """No such resource (an unknown order, or no route at that path)."""

    code = "not_found"


class MethodNotAllowed(RequestRefused):
    """The path exists but does not answer this method; ``allow`` lists the methods it answers."""

    code = "method_not_allowed"

    def __init__(self, message: str, *, allow: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allow = allow


class IdempotencyConflict(RequestRefused):
    """The idempotency key was already used for a request with different parameters."""

    code = "idempotency_conflict"


class NotCancellable(RequestRefused):
    """The order cannot be cancelled any more: it fired and is executing, or it has finished."""

    code = "not_cancellable"


class PoolExists(RequestRefused):
    """A pool for the pair is already launched: a launch would re-price it under the orders waiting on it."""

    code = "pool_exists"


class PayloadTooLarge(RequestRefused):
    """The body is longer than the service reads."""

    code = "payload_too_large"


class UnsupportedMediaType(RequestRefused):
    """The body is not declared as ``application/json``."""

    code = "unsupported_media_type"


class Unauthenticated(RequestRefused):
    """No credentials, or credentials the service does not know."""

    code = "unauthenticated"


class Forbidden(RequestRefused):
    """Known credentials that may not do this."""

    code = "forbidden"


class RateLimited(RequestRefused):
    """Too many requests; ``retry_after_s`` says when to try again."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ServiceUnavailable(RetryableError):
    """A dependency the request needs is down: nothing was accepted, and the same request may be retried."""

    code = "unavailable"
