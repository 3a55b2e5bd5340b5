"""``ChainRpc``: the Solana JSON-RPC calls the settlement venue makes, each classified and retried here.

Every call runs under tenacity: exponential back-off with jitter, ``rpc_max_attempts`` tries, retrying
only :class:`~kernel.errors.RetryableError` (a faucet's rate limit excepted: retrying it at once cannot
help). What still fails leaves as an :mod:`kernel.errors` type, converted by :mod:`adapters.solana.errors`.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import httpx
from prometheus_client import Counter
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment, Confirmed, Finalized, Processed
from solana.rpc.types import MemcmpOpts, TxOpts
from solders.account import Account
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.rpc.responses import GetTransactionResp
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_status import (
    EncodedConfirmedTransactionWithStatusMeta,
    TransactionConfirmationStatus,
    TransactionErrorType,
)
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from adapters.solana.config import ChainConfig
from adapters.solana.errors import AirdropRateLimited, RpcErrorCode, classify, error_code, is_panic, transaction_error
from adapters.solana.transactions import percentile
from kernel.errors import EngineError, FatalError, RejectedError, RetryableError
from kernel.venues import SlippageCode

log = logging.getLogger("oee.chain.rpc")

RPC_ERRORS = Counter(
    "oee_rpc_errors", "Failed Solana RPC calls (each try), by class (retryable, rejected, fatal) and code.",
    ["class", "code"],
)  # fmt: skip

T = TypeVar("T")
_COMMITMENTS: dict[str, Commitment] = {"processed": Processed, "confirmed": Confirmed, "finalized": Finalized}
# solders' enums compare equal but are not hashable: pairs, not a dict.
_STATUS_NAMES = (
    (TransactionConfirmationStatus.Processed, "processed"),
    (TransactionConfirmationStatus.Confirmed, "confirmed"),
    (TransactionConfirmationStatus.Finalized, "finalized"),
)
PRIORITY_FEE_PERCENTILE = 75


def commitment_of(name: str) -> Commitment:
    return _COMMITMENTS[name]


def _counted(err: EngineError) -> EngineError:
    kind = "retryable" if isinstance(err, RetryableError) else "rejected" if isinstance(err, RejectedError) else "fatal"
    RPC_ERRORS.labels(kind, err.code).inc()
    return err


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, RetryableError) and not isinstance(exc, AirdropRateLimited)


def _checked(reply: T | int, action: str) -> T:
    """solana-py returns a bare ``int`` for JSON-RPC error codes it does not know (429, -32029)."""
    if isinstance(reply, int):
        raise RpcErrorCode(reply, action)
    return reply


class ChainRpc:
    """One Solana RPC endpoint: solana-py's ``AsyncClient``, plus plain JSON-RPC for what it lacks.

    ``client`` and ``http`` may be given (tests, shared pools); those given are still closed by :meth:`aclose`.
    """

    def __init__(
        self, config: ChainConfig, *, client: AsyncClient | None = None, http: httpx.AsyncClient | None = None
    ) -> None:
        self.config = config
        self.commitment = commitment_of(config.commitment)
        self._client = client or AsyncClient(config.rpc_url, commitment=self.commitment, timeout=config.rpc_timeout_s)
        self._http = http or httpx.AsyncClient(timeout=config.rpc_timeout_s)
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        return self.config.rpc_url

    async def _call(self, action: str, call: Callable[[], Awaitable[T]], *, airdrop: bool = False) -> T:
        """Run ``call`` with classification and retries. Cancellation passes through untouched."""

        async def once() -> T:
            try:
                return await call()
            except Exception as exc:
                raise _counted(classify(exc, action, airdrop=airdrop)) from exc
            except BaseException as exc:
                if is_panic(exc):
                    raise _counted(classify(exc, action, airdrop=airdrop)) from exc
                raise

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.config.rpc_max_attempts),
            wait=wait_random_exponential(multiplier=self.config.rpc_backoff_s, max=self.config.rpc_backoff_max_s),
            retry=retry_if_exception(_retryable),
            before_sleep=lambda state: log.debug(
                "%s: attempt %d failed (%s); retrying",
                action,
                state.attempt_number,
                state.outcome and state.outcome.exception(),
            ),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await once()
        raise FatalError(f"{action}: no attempt was made")  # unreachable: tenacity makes at least one

    # --- reads ------------------------------------------------------------------------------------

    async def latest_blockhash(self, commitment: Commitment | None = None) -> tuple[Hash, int]:
        """The newest blockhash at ``commitment`` (default: the configured one) and its last valid block height."""

        async def call() -> tuple[Hash, int]:
            reply = _checked(await self._client.get_latest_blockhash(commitment or self.commitment), "blockhash")
            return reply.value.blockhash, reply.value.last_valid_block_height

        return await self._call("reading the latest blockhash", call)

    async def block_height(self, commitment: Commitment | None = None) -> int:
        async def call() -> int:
            return _checked(await self._client.get_block_height(commitment or self.commitment), "height").value

        return await self._call("reading the block height", call)

    async def slot(self, commitment: Commitment | None = None) -> int:
        """The newest slot at ``commitment`` (default: the configured one)."""

        async def call() -> int:
            return _checked(await self._client.get_slot(commitment or self.commitment), "slot").value

        return await self._call("reading the slot", call)

    async def balance(self, pubkey: Pubkey, commitment: Commitment | None = None) -> int:
        """Lamports held by ``pubkey`` (0 for an account that does not exist)."""

        async def call() -> int:
            return _checked(await self._client.get_balance(pubkey, commitment or self.commitment), "balance").value

        return await self._call("reading a balance", call)

    async def multiple_accounts(self, keys: Sequence[Pubkey], action: str) -> list[Account | None]:
        """``getMultipleAccounts`` (base64) in order, None where no account exists; ``action`` names it in errors."""

        async def call() -> list[Account | None]:
            reply = await self._client.get_multiple_accounts(list(keys), self.commitment, encoding="base64")
            return list(_checked(reply, "accounts").value)

        found = await self._call(action, call)
        if len(found) != len(keys):
            raise FatalError(f"getMultipleAccounts answered {len(found)} accounts for {len(keys)} keys")
        return found

    async def program_accounts(
        self, program: Pubkey, filters: Sequence[int | MemcmpOpts], action: str
    ) -> list[tuple[Pubkey, Account]]:
        """``getProgramAccounts`` (base64) with ``dataSize``/``memcmp`` filters."""

        async def call() -> list[tuple[Pubkey, Account]]:
            reply = await self._client.get_program_accounts(
                program, self.commitment, encoding="base64", filters=list(filters)
            )
            return [(keyed.pubkey, keyed.account) for keyed in _checked(reply, "program accounts").value]

        return await self._call(action, call)

    async def signature_status(
        self, signature: Signature, *, search_history: bool = False
    ) -> tuple[str | None, TransactionErrorType | None]:
        """``(confirmation status, err)``: status is ``processed``, ``confirmed``, ``finalized`` or None (unseen)."""

        async def call() -> tuple[str | None, TransactionErrorType | None]:
            reply = await self._client.get_signature_statuses([signature], search_transaction_history=search_history)
            status = _checked(reply, "status").value[0]
            if status is None:
                return None, None
            level = status.confirmation_status
            if level is None:  # an old node: no confirmations means rooted
                name = (
                    "finalized"
                    if status.confirmations is None
                    else "confirmed"
                    if status.confirmations
                    else "processed"
                )
            else:
                name = next((text for known, text in _STATUS_NAMES if level == known), "processed")
            return name, status.err

        return await self._call("reading a signature status", call)

    async def get_transaction(
        self, signature: Signature, commitment: Commitment | None = None
    ) -> EncodedConfirmedTransactionWithStatusMeta | None:
        """The landed transaction with its meta (json encoding), or None while the node has not got it."""

        async def call() -> EncodedConfirmedTransactionWithStatusMeta | None:
            level = commitment or self.commitment
            level = Confirmed if level == Processed else level  # getTransaction refuses processed
            reply: GetTransactionResp = _checked(
                await self._client.get_transaction(signature, "json", level, max_supported_transaction_version=0),
                "transaction",
            )
            return reply.value

        return await self._call("reading a transaction", call)

    async def prioritization_fee(self, accounts: Sequence[Pubkey] = ()) -> int:
        """The 75th percentile of recent per-slot priority fees touching ``accounts`` (micro-lamports per
        unit), 0 when there are none. solana-py has no helper: plain JSON-RPC."""

        async def call() -> int:
            body = {
                "jsonrpc": "2.0",
                "id": next(self._ids),
                "method": "getRecentPrioritizationFees",
                "params": [[str(a) for a in accounts]] if accounts else [],
            }
            response = await self._http.post(self.config.rpc_url, json=body)
            response.raise_for_status()
            reply: Any = response.json()
            if not isinstance(reply, dict):
                raise FatalError("getRecentPrioritizationFees answered something that is not a JSON-RPC reply")
            error = reply.get("error")
            if isinstance(error, dict):
                code = error.get("code")
                raise error_code(code if isinstance(code, int) else 0, str(error.get("message", "")), "fees")
            fees = [int(e.get("prioritizationFee", 0)) for e in reply.get("result") or [] if isinstance(e, dict)]
            return percentile(fees, PRIORITY_FEE_PERCENTILE)

        return await self._call("reading recent prioritization fees", call)

    # --- transactions -----------------------------------------------------------------------------

    async def simulate(self, tx: VersionedTransaction, slippage: Sequence[SlippageCode] = ()) -> int:
        """Simulate ``tx`` (signatures unchecked); the compute units it used, or the classified error
        (``SlippageExceeded`` for a custom error ``slippage`` names)."""

        async def call() -> int:
            reply = _checked(await self._client.simulate_transaction(tx, sig_verify=False), "simulation")
            result = reply.value
            if result.err is not None:
                raise transaction_error(
                    result.err, "simulating the transaction", _programs(tx), list(result.logs or []), slippage
                )
            return int(result.units_consumed or 0)

        return await self._call("simulating a transaction", call)

    async def send_raw(self, raw: bytes) -> Signature:
        """Broadcast signed bytes once: no preflight, no retries by the node (the caller rebroadcasts)."""
        opts = TxOpts(skip_preflight=True, max_retries=0, skip_confirmation=True)

        async def call() -> Signature:
            return _checked(await self._client.send_raw_transaction(raw, opts), "send").value

        return await self._call("sending a transaction", call)

    async def request_airdrop(self, pubkey: Pubkey, lamports: int) -> Signature:
        """Ask the cluster's faucet for ``lamports``. A rate-limited faucet raises ``AirdropRateLimited``
        at once (no retry here). The signature alone proves nothing: check the balance afterwards."""

        async def call() -> Signature:
            return _checked(await self._client.request_airdrop(pubkey, lamports, self.commitment), "airdrop").value

        return await self._call("requesting an airdrop", call, airdrop=True)

    async def aclose(self) -> None:
        await self._client.close()
        await self._http.aclose()


def _programs(tx: VersionedTransaction) -> list[Pubkey | None]:
    keys = tx.message.account_keys
    return [keys[ix.program_id_index] if ix.program_id_index < len(keys) else None for ix in tx.message.instructions]
