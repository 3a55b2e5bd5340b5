"""The one place that reads solana-py and RPC errors and turns them into :mod:`kernel.errors` types.

What solana-py 0.36 raises, and what it becomes here:

- a non-2xx reply: ``SolanaRpcException`` with the ``httpx.HTTPStatusError`` on ``__cause__``. 429 is a
  rate limit (the faucet's own, when its body says so), 5xx an unavailable node: both retryable.
- no reply (timeout, refused connection): ``SolanaRpcException`` over an ``httpx`` transport error: retryable.
- a JSON-RPC error in a 200 reply: ``RPCException`` whose ``args[0]`` is a solders error object. Node
  behind (-32005) and internal errors are retryable; preflight failures are read like transaction errors.
- a non-standard error code (429, -32029): no exception at all, the call returns a bare ``int``. Callers
  turn it into :class:`RpcErrorCode` and classify that.
- a JSON-RPC error solders cannot parse: a pyo3 ``PanicException`` (a ``BaseException``).

Callers always ``raise classify(exc, action) from exc``.

A DEX's slippage failure is read with the :class:`~kernel.venues.SlippageCode` it declares: each DEX module
declares its code here (:func:`declare_slippage`), so a simulation or landed failure is classified as
``SlippageExceeded`` wherever it is met, even by a caller that names no DEX.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
from solana.exceptions import SolanaRpcException
from solana.rpc.core import RPCException, RPCNoResultException
from solders.pubkey import Pubkey
from solders.rpc.errors import (
    BlockNotAvailableMessage,
    BlockStatusNotAvailableYetMessage,
    InternalErrorMessage,
    InvalidParamsMessage,
    MinContextSlotNotReachedMessage,
    NodeUnhealthyMessage,
    SendTransactionPreflightFailureMessage,
    SlotSkippedMessage,
)
from solders.transaction_status import (
    InstructionErrorCustom,
    TransactionErrorFieldless,
    TransactionErrorInstructionError,
    TransactionErrorType,
)

from kernel.errors import EngineError, FatalError, RejectedError, RetryableError, SlippageExceeded
from kernel.venues import SlippageCode

# Every DEX's declared slippage code: the boundary reads failures with all of them.
_DECLARED_SLIPPAGE: list[SlippageCode] = []


def declare_slippage(code: SlippageCode) -> SlippageCode:
    """Make ``code`` known to every classification here (a DEX's config declares its own); returns it."""
    if code not in _DECLARED_SLIPPAGE:
        _DECLARED_SLIPPAGE.append(code)
    return code


def _with_declared(slippage: Iterable[SlippageCode]) -> list[SlippageCode]:
    given = list(slippage)
    return given + [code for code in _DECLARED_SLIPPAGE if code not in given]


# --- the error types this adapter raises ------------------------------------------------------------


class RpcUnavailable(RetryableError):
    """The RPC node did not answer usefully: timeout, refused connection, 5xx, an internal error."""

    code = "rpc_unavailable"


class RpcRateLimited(RetryableError):
    """The RPC node answered HTTP 429 (or code 429 / -32029): too many requests for now."""

    code = "rpc_rate_limited"


class NodeBehind(RetryableError):
    """The node is behind the cluster (-32005) or has not reached the slot asked for."""

    code = "rpc_node_behind"


class BlockhashNotFound(RetryableError):
    """The transaction's blockhash is unknown to the node (too new for it, or expired): build again."""

    code = "blockhash_not_found"


class AirdropRateLimited(RetryableError):
    """The faucet refuses for now (devnet's daily limit, a validator's per-time cap). Later may work."""

    code = "airdrop_rate_limited"


class AirdropRefused(RejectedError):
    """The faucet refuses this request as asked (for example more SOL than one request may take)."""

    code = "airdrop_refused"


class WalletUnfunded(RejectedError):
    """The fee payer cannot pay: its account does not exist or holds less than the fee."""

    code = "wallet_unfunded"


class SimulationFailed(RejectedError):
    """Simulating the transaction failed with a program error: sending it would fail the same way."""

    code = "simulation_failed"


class MalformedAccount(FatalError):
    """An account's bytes are not what its address promised (wrong owner, size, discriminator or contents)."""

    code = "malformed_account"


class DiscoveryRefused(Exception):
    """The node will not run ``getProgramAccounts`` for a program (many public RPCs refuse it)."""


class RpcErrorCode(Exception):
    """A JSON-RPC error solana-py returned as a bare ``int`` instead of raising (codes it does not know)."""

    def __init__(self, code: int, action: str) -> None:
        super().__init__(f"JSON-RPC error {code} while {action}")
        self.code = code


# solders' fieldless errors compare equal but are not hashable: a list of pairs, not a dict.
_FEE_PAYER_ERRORS = (
    (TransactionErrorFieldless.AccountNotFound, "the fee payer's account does not exist"),
    (TransactionErrorFieldless.InsufficientFundsForFee, "the fee payer holds less SOL than the fee"),
    (TransactionErrorFieldless.InvalidAccountForFee, "the fee payer's account cannot pay fees"),
)
_FAUCET_WORDS = ("airdrop", "faucet")
_TRANSIENT_REPLIES = (
    BlockNotAvailableMessage,
    BlockStatusNotAvailableYetMessage,
    SlotSkippedMessage,
)


def custom_error(err: TransactionErrorType | None) -> tuple[int, int] | None:
    """``(instruction index, custom code)`` of a program's custom error, else None."""
    if isinstance(err, TransactionErrorInstructionError) and isinstance(err.err, InstructionErrorCustom):
        return err.index, err.err.code
    return None


def describe(err: TransactionErrorType) -> str:
    """A short readable form of a transaction error."""
    custom = custom_error(err)
    if custom is not None:
        return f"instruction {custom[0]} failed with custom program error {custom[1]} ({custom[1]:#x})"
    return str(err)


def failure_of(
    err: TransactionErrorType, programs: list[Pubkey | None], slippage: Iterable[SlippageCode] = ()
) -> tuple[str, str]:
    """The ``(error_code, message)`` of a transaction that landed with ``err``; ``programs`` are the
    programs of its top-level instructions, in order, and ``slippage`` the slippage codes of the DEXes
    that may have built it (besides every declared one). Slippage is ``slippage_exceeded``, else ``tx_failed``."""
    custom = custom_error(err)
    if custom is not None:
        index, code = custom
        program = programs[index] if 0 <= index < len(programs) else None
        if any(known.matches(program, code) for known in _with_declared(slippage)):
            return SlippageExceeded.code, f"slippage exceeded: the DEX program refused the fill ({describe(err)})"
    return "tx_failed", f"the transaction landed with an error: {describe(err)}"


def transaction_error(
    err: TransactionErrorType,
    action: str,
    programs: list[Pubkey | None] | None = None,
    logs: list[str] | None = None,
    slippage: Iterable[SlippageCode] = (),
) -> EngineError:
    """A transaction error met before landing (simulation, preflight) as an engine error; ``slippage`` as
    for :func:`failure_of`."""
    if err == TransactionErrorFieldless.BlockhashNotFound:
        return BlockhashNotFound(f"blockhash not found while {action}")
    reason = next((text for known, text in _FEE_PAYER_ERRORS if err == known), None)
    if reason is not None:
        return WalletUnfunded(reason)
    if err == TransactionErrorFieldless.AlreadyProcessed:
        return FatalError(f"the transaction was already processed while {action}")
    custom = custom_error(err)
    if custom is not None:
        code, message = failure_of(err, programs or [], slippage)
        if code == SlippageExceeded.code:
            return SlippageExceeded(message)
    tail = f"; last log: {logs[-1]}" if logs else ""
    return SimulationFailed(f"{action} failed: {describe(err)}{tail}", context={"logs": list(logs or [])[-20:]})


# --- classifying what a call raised ----------------------------------------------------------------


def is_panic(exc: BaseException) -> bool:
    """A pyo3 panic: solders met a JSON-RPC reply it cannot parse."""
    return type(exc).__name__ == "PanicException"


def _faucet_text(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _FAUCET_WORDS)


def _http_body(response: httpx.Response) -> tuple[int | None, str]:
    """The JSON-RPC error code and message in an HTTP error body, when it has one."""
    try:
        body: Any = response.json()
    except ValueError:
        return None, response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        return (code if isinstance(code, int) else None), str(error.get("message", ""))
    return None, response.text[:200]


def _http_status(error: httpx.HTTPStatusError, action: str, airdrop: bool) -> EngineError:
    status = error.response.status_code
    code, message = _http_body(error.response)
    detail = f"{status}{f' ({message})' if message else ''}"
    if status == 429 or code in (429, -32029):
        if airdrop or _faucet_text(message):
            return AirdropRateLimited(f"the faucet is rate-limited: {message or status}")
        return RpcRateLimited(f"the RPC node is rate-limiting requests while {action}: HTTP {detail}")
    if status >= 500:
        return RpcUnavailable(f"the RPC node failed while {action}: HTTP {detail}")
    return FatalError(f"the RPC endpoint refused {action}: HTTP {detail}")


def _transport(error: httpx.HTTPError, action: str, airdrop: bool) -> EngineError:
    if isinstance(error, httpx.HTTPStatusError):
        return _http_status(error, action, airdrop)
    if isinstance(error, httpx.TimeoutException):
        return RpcUnavailable(f"the RPC node timed out while {action} ({type(error).__name__})")
    if isinstance(error, httpx.TransportError):
        return RpcUnavailable(f"the RPC node is unreachable while {action}: {error or type(error).__name__}")
    return FatalError(f"HTTP error while {action}: {error!r}")


def error_code(code: int, message: str, action: str, *, airdrop: bool = False) -> EngineError:
    """A JSON-RPC error known only by its code (and maybe a message)."""
    if code in (429, -32029):
        if airdrop or _faucet_text(message):
            return AirdropRateLimited(f"the faucet is rate-limited: {message or f'JSON-RPC error {code}'}")
        return RpcRateLimited(f"the RPC node is rate-limiting requests while {action} (JSON-RPC error {code})")
    if code == -32005 or code == -32016:
        return NodeBehind(f"the RPC node is behind while {action}: {message or code}")
    if code == -32603 and airdrop:
        return AirdropRateLimited(f"the faucet refused the airdrop: {message or 'internal error'}")
    if code == -32603 or 500 <= code < 600 or code in (-32004, -32007, -32014):
        return RpcUnavailable(f"the RPC node failed while {action}: JSON-RPC error {code} {message}".rstrip())
    if "blockhash not found" in message.lower():
        return BlockhashNotFound(f"blockhash not found while {action}")
    return FatalError(f"unexpected JSON-RPC error {code} while {action}: {message}".rstrip())


def _rpc_reply(reply: object, action: str, airdrop: bool) -> EngineError:
    message = str(getattr(reply, "message", "") or reply)
    if isinstance(reply, NodeUnhealthyMessage | MinContextSlotNotReachedMessage):
        return NodeBehind(f"the RPC node is behind while {action}: {message}")
    if isinstance(reply, SendTransactionPreflightFailureMessage):
        sim = reply.data
        if sim.err is not None:
            return transaction_error(sim.err, action, logs=list(sim.logs or []))
        return FatalError(f"preflight failed while {action}: {message}")
    if isinstance(reply, InternalErrorMessage):
        if airdrop:
            return AirdropRateLimited(f"the faucet refused the airdrop: {message}")
        return RpcUnavailable(f"the RPC node failed while {action}: {message}")
    if isinstance(reply, _TRANSIENT_REPLIES):
        return RpcUnavailable(f"the RPC node cannot answer yet while {action}: {message}")
    if isinstance(reply, InvalidParamsMessage) and airdrop:
        if _faucet_text(message) and ("limit" in message.lower() or "dry" in message.lower()):
            return AirdropRateLimited(f"the faucet is rate-limited: {message}")
        return AirdropRefused(f"the faucet refused the request: {message}")
    if isinstance(reply, int):
        return error_code(reply, "", action, airdrop=airdrop)
    if "blockhash not found" in message.lower():
        return BlockhashNotFound(f"blockhash not found while {action}")
    if _faucet_text(message) and ("limit" in message.lower() or "dry" in message.lower()):
        return AirdropRateLimited(f"the faucet is rate-limited: {message}")
    return FatalError(f"unexpected RPC error while {action}: {message}")


def classify(exc: BaseException, action: str, *, airdrop: bool = False) -> EngineError:
    """What ``exc``, raised while doing ``action`` (e.g. ``"sending a transaction"``), means for the engine.

    ``airdrop`` says the call was a faucet request, where an internal error (-32603) means the validator's
    faucet is past its cap. Anything not recognised is a :class:`FatalError`.
    """
    if isinstance(exc, EngineError):
        return exc
    if isinstance(exc, RpcErrorCode):
        return error_code(exc.code, "", action, airdrop=airdrop)
    if isinstance(exc, SolanaRpcException):
        cause = exc.__cause__
        if isinstance(cause, httpx.HTTPError):
            return _transport(cause, action, airdrop)
        return FatalError(f"solana-py failed while {action}: {exc.error_msg}")
    if isinstance(exc, httpx.HTTPError):
        return _transport(exc, action, airdrop)
    if isinstance(exc, RPCException):
        return _rpc_reply(exc.args[0] if exc.args else None, action, airdrop)
    if isinstance(exc, RPCNoResultException):
        return RpcUnavailable(f"the RPC node returned no result while {action}: {exc}")
    if isinstance(exc, TimeoutError):
        return RpcUnavailable(f"timed out while {action}")
    if is_panic(exc):
        return FatalError(f"the RPC node's reply could not be parsed while {action}")
    return FatalError(f"unexpected error while {action}: {exc!r}")
