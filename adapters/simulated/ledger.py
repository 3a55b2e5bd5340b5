"""The simulated chain: signed swap messages land at most once, recorded in Redis.

A transaction is a canonical JSON message signed with the worker's keypair; its signature is its
identity. Sending executes it once: the fill is priced, then recorded with ``SET NX`` under the
signature, and only the send that created the record moves the in-memory pool. Every later send of the
same bytes (a retry, a restarted worker, another process) finds the record and does nothing.

Redis plays the validators: its clock decides expiry. The record is written by a script that refuses a
message past its ``valid_until_ms`` by Redis ``TIME``, and :meth:`SimulatedLedger.expired` reads the same
clock, so once ``expired`` says yes no send of that message can ever land.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

import orjson
import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from adapters.simulated.config import SimulatedConfig
from adapters.simulated.market import SimulatedMarket
from adapters.simulated.plans import fill_legs, message_legs, price_legs
from kernel.errors import EngineError, FatalError, RetryableError, SlippageExceeded, UnsupportedPair
from kernel.tokens import Token
from kernel.venues import PreparedTx, SettlementKind, SwapTicket, TxState, TxStatus

log = logging.getLogger("oee.simulated.ledger")

RECORD_TTL_S = 86_400
# How often ``wait`` looks again for a signature the ledger has not seen (sent elsewhere, or dropped).
_ABSENT_POLL_S = 0.05
_REMEMBERED_MAX = 50_000

# KEYS: tx record, order index. ARGV: record JSON, signature, valid_until_ms, ttl seconds.
# Returns 1 when this call recorded the transaction, 0 when it was already recorded, -1 when expired.
_LAND_SCRIPT = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now_ms > tonumber(ARGV[3]) then
  return -1
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[4]) then
  return 0
end
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""


def _fields(obj: object) -> dict[str, object]:
    """A slotted dataclass as a plain dict (orjson sorts dict keys, not dataclass fields)."""
    return {name: getattr(obj, name) for name in obj.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SwapMessage:
    """What a simulated transaction says. ``order_id`` plays the memo; ``nonce`` makes each build unique."""

    order_id: str
    dex: str
    pool: str
    token_in: str
    token_out: str
    amount_in: int
    min_amount_out: int
    nonce: str
    valid_until_ms: int
    signer: str
    # A plan of several legs (split or hop), all in this one transaction; None for one swap on ``pool``.
    legs: list[dict[str, object]] | None = None

    def to_bytes(self) -> bytes:
        """Canonical bytes: sorted keys, no whitespace. These are what get signed."""
        return orjson.dumps(_fields(self), option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_bytes(cls, raw: bytes) -> SwapMessage:
        try:
            return cls(**orjson.loads(raw))
        except (ValueError, TypeError) as exc:
            raise FatalError(f"not a simulated swap transaction: {exc}") from exc


@dataclass(frozen=True, slots=True)
class SimulatedTxRecord:
    """A transaction the ledger executed. ``status`` is ``ok``, ``slippage`` or ``failed``."""

    signature: str
    order_id: str
    dex: str
    pool: str
    token_in: str
    token_out: str
    amount_in: int
    amount_out: int
    min_amount_out: int
    status: str
    error_code: str | None
    error: str | None
    sent_at_ms: int
    land_at_ms: int
    fills: list[dict[str, object]] | None = None  # each leg's fill, for a plan of several legs

    def to_json(self) -> str:
        return orjson.dumps(_fields(self), option=orjson.OPT_SORT_KEYS).decode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> SimulatedTxRecord:
        try:
            return cls(**orjson.loads(raw))
        except (ValueError, TypeError) as exc:
            raise FatalError(f"corrupt simulated ledger record: {exc}") from exc

    def outcome(self) -> TxStatus:
        """The final status, once landed."""
        extra: dict[str, object] = {"dex": self.dex, "pool": self.pool, "landedAtMs": self.land_at_ms}
        if self.status == "ok":
            return TxStatus(TxState.LANDED, amount_out=self.amount_out, extra=extra)
        return TxStatus(TxState.FAILED, error_code=self.error_code, error=self.error, extra=extra)


def is_dropped(signature: str, drop_rate: float) -> bool:
    """Whether the venue drops this transaction. Decided by its signature, so every rebroadcast agrees."""
    if drop_rate <= 0:
        return False
    digest = hashlib.sha256(f"oee-sim-drop:{signature}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < drop_rate


@contextmanager
def _redis_boundary(action: str) -> Iterator[None]:
    """Redis unreachable is transient for the order: classify it here, once."""
    try:
        yield
    except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
        raise RetryableError(f"simulated ledger unreachable while {action}: {exc}") from exc


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class SimulatedLedger:
    """The simulated settlement venue (``kind = "simulated"``). Implements :class:`kernel.venues.SettlementVenue`.

    ``send`` executes at once and the result becomes visible ``config.execution_latency`` later (its
    ``land_at_ms``). Transactions past ``config.tx_ttl_ms`` never land; a ``config.drop_rate`` share of
    signatures is silently dropped on every send. Records live under ``{key_prefix}:tx:<signature>`` and
    each order's signatures in the set ``{key_prefix}:order:<order_id>``, for a day.
    """

    kind = SettlementKind.SIMULATED
    executes_plans = True  # a ticket's plan of several legs settles as one transaction (adapters.simulated.plans)

    def __init__(
        self,
        market: SimulatedMarket,
        redis: aioredis.Redis,
        config: SimulatedConfig,
        signer: Keypair,
        *,
        key_prefix: str = "oee:simulated",
        rng: random.Random | None = None,
    ) -> None:
        self._market = market
        self._redis = redis
        self._config = config
        self._signer = signer
        self._prefix = key_prefix
        self._rng = rng or random.Random(f"{config.seed}:ledger")
        self._land = redis.register_script(_LAND_SCRIPT)
        # Records this process created. A record never changes once written, so these answer ``wait``
        # without a round trip; anything else is read from Redis.
        self._created: dict[str, SimulatedTxRecord] = {}

    @property
    def market(self) -> SimulatedMarket:
        """The market fills are priced on; share it with the DEXes of the same process."""
        return self._market

    async def prepare(self, ticket: SwapTicket) -> PreparedTx:
        """Build and sign the swap for ``ticket``; valid for ``tx_ttl_ms``. Touches nothing."""
        message = SwapMessage(
            order_id=ticket.order_id,
            dex=ticket.route.dex,
            pool=ticket.route.pool,
            token_in=ticket.token_in.mint,
            token_out=ticket.token_out.mint,
            amount_in=ticket.route.amount_in,
            min_amount_out=ticket.min_amount_out,
            nonce=secrets.token_hex(16),
            valid_until_ms=_now_ms() + self._config.tx_ttl_ms,
            signer=str(self._signer.pubkey()),
            legs=message_legs(ticket.plan) if ticket.plan is not None and len(ticket.plan.legs) > 1 else None,
        )
        raw = message.to_bytes()
        signature = self._signer.sign_message(raw)
        return PreparedTx(signature=str(signature), raw=raw, last_valid=message.valid_until_ms)

    async def send(self, tx: PreparedTx) -> None:
        """Execute ``tx`` unless it is expired, dropped or already executed; the same bytes run at most once."""
        message = _open(tx)
        if _now_ms() > message.valid_until_ms or is_dropped(tx.signature, self._config.drop_rate):
            return
        if tx.signature in self._created:
            return
        # Priced without moving the pool; the script's SET NX decides whether this send is the one that
        # executes (a resend from a restarted worker computes a fill that is then discarded).
        record = self._execute(tx.signature, message)
        with _redis_boundary("recording a transaction"):
            created = await self._land(
                keys=[self._tx_key(tx.signature), self._order_key(message.order_id)],
                args=[record.to_json(), tx.signature, message.valid_until_ms, RECORD_TTL_S],
            )
        if int(created) == 1:
            self._remember(record)
            if record.status == "ok":
                self._move_pools(message, record)

    async def wait(self, tx: PreparedTx, timeout_s: float) -> TxStatus:
        """Wait up to ``timeout_s`` for ``tx`` to land: sleeps until its landing time, never spins."""
        message = _open(tx)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout_s)
        while True:
            record = await self.record(tx.signature)
            now_ms = _now_ms()
            left = deadline - loop.time()
            if record is None:
                # Unseen: it may still be sent until it expires; after that it never appears.
                if left <= 0 or now_ms > message.valid_until_ms:
                    return TxStatus(TxState.UNKNOWN)
                await asyncio.sleep(min(_ABSENT_POLL_S, left))
                continue
            if record.land_at_ms <= now_ms:
                return record.outcome()
            if left <= 0:
                return TxStatus(TxState.PENDING, extra={"landAtMs": record.land_at_ms})
            await asyncio.sleep(min((record.land_at_ms - now_ms) / 1000, left))

    async def expired(self, tx: PreparedTx) -> bool:
        """True once ``tx`` is past its ``valid_until_ms`` by the ledger's (Redis's) clock."""
        message = _open(tx)
        with _redis_boundary("reading the ledger clock"):
            seconds, micros = await self._redis.time()
        return int(seconds) * 1000 + int(micros) // 1000 > message.valid_until_ms

    def explorer_url(self, signature: str) -> str | None:
        """The simulated ledger has no explorer."""
        return None

    async def aclose(self) -> None:
        """Nothing to release: the Redis client belongs to the caller."""

    # --- diagnostics ----------------------------------------------------------------------------

    async def record(self, signature: str) -> SimulatedTxRecord | None:
        """The ledger's record of ``signature``, or None if it never executed."""
        known = self._created.get(signature)
        if known is not None:
            return known
        with _redis_boundary("reading a transaction"):
            raw = await self._redis.get(self._tx_key(signature))
        return None if raw is None else SimulatedTxRecord.from_json(raw)

    async def landed_signatures(self, order_id: str) -> list[str]:
        """Every transaction the ledger executed for ``order_id`` (sorted), including those that landed with
        an error (slippage) and those whose landing time is still ahead: each is final once recorded."""
        with _redis_boundary("reading an order's transactions"):
            # redis-py types the command for both its sync and async clients; this one is async.
            members = await cast("Awaitable[set[bytes | str]]", self._redis.smembers(self._order_key(order_id)))
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    async def records(self, order_id: str) -> list[SimulatedTxRecord]:
        """The records of :meth:`landed_signatures`, in the same order."""
        found = [await self.record(sig) for sig in await self.landed_signatures(order_id)]
        return [r for r in found if r is not None]

    # --- internals ------------------------------------------------------------------------------

    def _remember(self, record: SimulatedTxRecord) -> None:
        if len(self._created) >= _REMEMBERED_MAX:
            self._created.clear()
        self._created[record.signature] = record

    def _tx_key(self, signature: str) -> str:
        return f"{self._prefix}:tx:{signature}"

    def _order_key(self, order_id: str) -> str:
        return f"{self._prefix}:order:{order_id}"

    def _execute(self, signature: str, message: SwapMessage) -> SimulatedTxRecord:
        """Price the swap against the pool as it stands, without moving it (the record decides that)."""
        amount_in, amount_out, status, code, error = message.amount_in, 0, "ok", None, None
        fills: list[dict[str, object]] | None = None
        try:
            token_in, token_out = self._token(message.token_in), self._token(message.token_out)
            if message.legs:
                amount_in, amount_out, legs = price_legs(
                    self._market, self._token, message.legs, message.token_out, message.min_amount_out
                )
                fills = [leg.as_dict() for leg in legs]
            else:
                quote = self._market.quote(message.dex, token_in, token_out, message.amount_in, pool=message.pool)
                amount_out = quote.amount_out
        except SlippageExceeded as exc:
            status, code, error = "slippage", exc.code, str(exc)
        except EngineError as exc:
            status, code, error = "failed", exc.code, str(exc)
        else:
            if amount_out < message.min_amount_out:
                status, code = "slippage", SlippageExceeded.code
                error = f"slippage exceeded: the fill pays {amount_out}, below the minimum {message.min_amount_out}"
        sent_at = _now_ms()
        return SimulatedTxRecord(
            signature=signature,
            order_id=message.order_id,
            dex=message.dex,
            pool=message.pool,
            token_in=message.token_in,
            token_out=message.token_out,
            amount_in=amount_in,
            amount_out=amount_out,
            min_amount_out=message.min_amount_out,
            status=status,
            error_code=code,
            error=error,
            sent_at_ms=sent_at,
            land_at_ms=sent_at + self._config.execution_latency.draw_ms(self._rng),
            fills=fills,
        )

    def _move_pools(self, message: SwapMessage, record: SimulatedTxRecord) -> None:
        """Apply a recorded fill to this process's pools. The record, not this, is the truth: never fail here."""
        try:
            if record.fills:
                fill_legs(self._market, self._token, record.fills)
                return
            token_in, token_out = self._token(message.token_in), self._token(message.token_out)
            self._market.fill(message.dex, token_in, token_out, message.amount_in, pool=message.pool)
        except EngineError:
            log.warning("recorded fill of order %s could not move the simulated pool", message.order_id)

    def _token(self, mint: str) -> Token:
        token = self._market.tokens.resolve(mint)
        if token is None:
            raise UnsupportedPair(f"the simulated ledger does not know the mint {mint}")
        return token


_OPENED: dict[str, tuple[bytes, SwapMessage]] = {}
_OPENED_MAX = 20_000


def _open(tx: PreparedTx) -> SwapMessage:
    """The message of ``tx``, after checking its signature; a bad one is a bug, not a network fault.

    A transaction is opened on every send and wait; its checked message is remembered by signature."""
    known = _OPENED.get(tx.signature)
    if known is not None and known[0] == tx.raw:
        return known[1]
    message = _verify(tx)
    if len(_OPENED) >= _OPENED_MAX:
        _OPENED.clear()
    _OPENED[tx.signature] = (tx.raw, message)
    return message


def _verify(tx: PreparedTx) -> SwapMessage:
    message = SwapMessage.from_bytes(tx.raw)
    try:
        valid = Signature.from_string(tx.signature).verify(Pubkey.from_string(message.signer), tx.raw)
    except ValueError as exc:
        raise FatalError(f"malformed signature or signer: {exc}") from exc
    if not valid:
        raise FatalError(f"signature {tx.signature} does not sign this message")
    return message
