"""The engine's error hierarchy. Adapters convert what they catch into one of these at their boundary.

- :class:`RetryableError`: transient (timeouts, 429, 5xx, a dropped or expired transaction). The order's
  attempt fails and is tried again with back-off, up to the attempt limit.
- :class:`RejectedError`: the order cannot succeed as asked (slippage exceeded, insufficient funds, an
  unknown pair). Never retried; the order fails at once with this reason.
- :class:`FatalError`: a bug or corrupt state. The order fails and the error is logged loudly.
"""

from __future__ import annotations

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
