"""Executing one order: route, build, record, send, confirm; retry transient failures; exactly once.

The job that runs this may run more than once (a worker killed mid-order is re-run by the queue). The
order executes once all the same: a signed transaction is recorded before its first send, and a re-run
confirms that recorded signature (re-sending the same bytes, which can never execute twice) instead of
building another. A new transaction is built only after the recorded one has provably expired unseen.

Two runs of one order at once (a worker stalled past its lease while another took the order over) are
fenced in PostgreSQL: each step is a compare-and-set on the order's event sequence, so only one run can
record a signed transaction, and a run sends only what it recorded (see ``engine.recorder.Superseded``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import asyncpg

from engine import presenter
from engine.db import repository
from engine.db.records import (
    AttemptEnd,
    Failure,
    Fill,
    OrderChange,
    OrderState,
    QuoteRecord,
    RouteRecord,
    SubmittedTx,
)
from engine.recorder import OrderRecorder, StepStore, Superseded
from engine.routing import QuoteFailure, Router, RoutingDecision
from engine.routing.wire import decision_record
from engine.runtime import dependency_down
from kernel.domain import TERMINAL_STATUSES, AttemptOutcome, EventKind, OrderStatus, OrderType
from kernel.errors import EngineError, RejectedError, RetryableError, SlippageExceeded, TransactionExpired
from kernel.logs import bind, bound
from kernel.money import format_amount, price
from kernel.routes import with_floor
from kernel.settings import Settings
from kernel.tokens import TokenRegistry
from kernel.venues import PreparedTx, QuoteRequest, SettlementVenue, SwapTicket, TxState

log = logging.getLogger("oee.execution")

Sleep = Callable[[float], Awaitable[None]]

# What :meth:`OrderExecutor.execute` returns when another run of the order wrote first (see ``Superseded``).
SUPERSEDED = "superseded"

# Waiting out a transient venue error while a transaction is in flight.
_TRANSIENT_PAUSE_S = 0.25
_TRANSIENT_PAUSE_MAX_S = 4.0


# Order types that go back to waiting when the price fell back below their floor between firing and routing;
# every other fired order (a stop, a sniper) fails on slippage instead.
WAITS_AGAIN = frozenset({OrderType.LIMIT, OrderType.TAKE_PROFIT, OrderType.OCO})


class PriceMovedBack(EngineError):
    """A fired limit order's price fell back below its limit before its transaction was built: it waits again
    (its watcher finds it at its next read of PostgreSQL) rather than fill worse than its limit or fail."""

    code = "price_moved_back"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """At most ``max_attempts`` tries; the n-th retry waits ``base_ms * 2**(n-1)``, capped at ``max_ms``."""

    max_attempts: int
    base_ms: int
    max_ms: int

    def delay_ms(self, failed_attempt: int) -> int:
        return int(min(self.base_ms * 2 ** (failed_attempt - 1), self.max_ms))

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.order_max_attempts, settings.order_retry_base_ms, settings.order_retry_max_ms)


class OrderExecutor:
    """Runs orders through routing, building, submission and confirmation."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        store: StepStore,
        router: Router,
        venue: SettlementVenue,
        tokens: TokenRegistry,
        retry: RetryPolicy,
        confirm_poll_s: float = 1.5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._pool = pool
        self._store = store
        self._router = router
        self._venue = venue
        self._tokens = tokens
        self._retry = retry
        self._confirm_poll_s = confirm_poll_s
        self._sleep = sleep

    async def execute(self, order_id: str) -> str:
        """Drive the order to a terminal status; returns that status. Safe to call again for the same order."""
        with bound(orderId=order_id):  # on every log line of this run
            return await self._execute(order_id)

    async def _execute(self, order_id: str) -> str:
        async with self._pool.acquire() as conn:
            stored = await repository.order_for_execution(conn, uuid.UUID(order_id))
        if stored is None:
            log.error("order %s not found; dropping its job", order_id)
            return "missing"
        if stored.status in TERMINAL_STATUSES:
            return stored.status
        # Tokens as the registry knows them; the stored ones for a mint it does not list.
        tokens, spec = self._tokens, stored.spec
        order = replace(
            stored,
            spec=replace(
                spec,
                token_in=tokens.resolve(spec.token_in.mint) or spec.token_in,
                token_out=tokens.resolve(spec.token_out.mint) or spec.token_out,
            ),
        )
        rec = OrderRecorder(self._store, order.id, order.last_seq, order.status,
                            order_type=order.spec.order_type.value,
                            queued_at=order.triggered_at or order.created_at)  # fmt: skip
        try:
            try:
                await self._drive(order, rec)
            except EngineError as exc:
                self._fail(rec, order.attempts, exc)
            except Superseded:
                raise
            except Exception as exc:
                if dependency_down(exc):
                    raise  # not the order's fault: the job runs again and resumes from what is recorded
                log.exception("order %s hit an unexpected error", order_id)
                self._fail(rec, order.attempts, EngineError(f"internal error: {exc!r}", code="internal_error"))
            await rec.flush()
        except Superseded:
            # Another run (a worker that took this order over while this one stalled) wrote first; nothing of
            # this run was written after that, and nothing it built was sent.
            log.warning("order %s: another run wrote first; this run stops", order_id)
            return SUPERSEDED
        return rec.status

    async def _drive(self, order: OrderState, rec: OrderRecorder) -> None:
        # A re-run after a crash first settles the transaction already recorded, never a second one.
        resuming = order.tx is not None
        if order.tx is not None:
            rec.step(kind=EventKind.SETTLEMENT, data=presenter.resumed(order.tx), event=True)
        last_error: EngineError | None = None
        while True:
            if not resuming:
                if order.attempts >= self._retry.max_attempts:
                    self._fail(rec, order.attempts, last_error or RetryableError("attempts exhausted"))
                    return
                order.attempts += 1
            try:
                if resuming and order.tx is not None:
                    with bound(attempt=order.attempts, signature=order.tx.signature):
                        await self._land(order, rec, order.tx, order.attempts, resend=True)
                else:
                    with bound(attempt=order.attempts):  # and the dex and signature bound inside: this attempt's
                        await self._attempt(order, rec)
                return
            except RejectedError as exc:
                self._fail(rec, order.attempts, exc)
                return
            except PriceMovedBack as exc:
                self._wait_again(rec, order.attempts, exc)
                return
            except RetryableError as exc:
                last_error = self._retry_or_fail(rec, order.attempts, exc)
                if last_error is None:
                    return
                await self._sleep(self._retry.delay_ms(order.attempts) / 1000)
            resuming = False

    def _retry_or_fail(self, rec: OrderRecorder, attempt: int, exc: RetryableError) -> EngineError | None:
        """Record a failed attempt; fail the order when it was the last. Returns the error to retry on."""
        if attempt >= self._retry.max_attempts:
            self._fail(rec, attempt, exc, exhausted=True)
            return None
        delay = self._retry.delay_ms(attempt)
        log.info("order %s attempt %d failed (%s: %s); retrying in %d ms", rec.order_id, attempt, exc.code, exc, delay)
        rec.step(
            kind=EventKind.RETRYING,
            data=presenter.retrying(attempt, delay, exc),
            change=OrderChange(attempt_end=AttemptEnd(attempt, AttemptOutcome.RETRY, exc.code, str(exc), delay)),
        )  # fmt: skip
        return exc

    async def _attempt(self, order: OrderState, rec: OrderRecorder) -> None:
        attempt = order.attempts
        rec.step(
            status=OrderStatus.ROUTING,
            data=presenter.routing(attempt, list(self._router.dexes)),
            change=OrderChange(attempts=attempt, attempt_start=attempt),
        )
        spec = order.spec
        request = QuoteRequest(spec.token_in, spec.token_out, spec.amount_in)
        try:
            decision = await self._router.route(request, spec.slippage_bps)
        except EngineError as exc:
            failures = exc.context.get("failures", ())
            if failures:
                rec.step(change=OrderChange(quotes=[_failure_record(attempt, f) for f in failures]), event=False)
            raise
        best, plan = decision.best, decision.plan
        bind(dex=decision.dex_label)
        if order.execute_min_out is not None:
            # A fired waiting order keeps the floor it fired at: a limit's fill is never worse than its limit.
            if plan.amount_out < order.execute_min_out:
                message = (f"the best route pays {plan.amount_out} raw {spec.token_out.symbol}, below the floor "
                           f"{order.execute_min_out}")  # fmt: skip
                rec.step(change=OrderChange(quotes=_quote_records(attempt, decision)), event=False)
                if spec.order_type in WAITS_AGAIN and order.execute_min_out == spec.trigger_min_out:
                    raise PriceMovedBack(message)  # a limit (or take-profit) fired on a rise waits for it again
                raise SlippageExceeded(message)
            plan = with_floor(plan, order.execute_min_out)
            decision = replace(decision, plan=plan)
        min_out = plan.min_amount_out
        self._log_decision(order, decision, min_out)
        rec.step(
            status=OrderStatus.BUILDING,
            data=presenter.building(attempt, spec, decision),
            change=OrderChange(
                quotes=_quote_records(attempt, decision),
                route=RouteRecord(attempt, decision.dex_label, plan.legs[0].pool, plan.amount_out, min_out,
                                  decision.reason, decision_record(decision)),
            ),
        )  # fmt: skip
        # A plan of several legs (split, hop) executes instead of the best single pool, all legs in one transaction.
        several = plan if len(plan.legs) > 1 else None
        ticket = SwapTicket(str(order.id), best, spec.token_in, spec.token_out, min_out, plan=several,
                            priority_fee=spec.priority_fee)  # fmt: skip
        tx = await self._venue.prepare(ticket)
        bind(signature=tx.signature)
        explorer = self._explorer_url(tx)
        rec.step(
            status=OrderStatus.SUBMITTED,
            data=presenter.submitted(attempt, tx, explorer),
            change=OrderChange(tx=SubmittedTx(tx, explorer)),
        )
        # The signed bytes are durable before the first send: a re-run confirms them instead of re-building.
        await rec.flush()
        order.tx = tx
        await self._land(order, rec, tx, attempt, resend=True)

    async def _land(self, order: OrderState, rec: OrderRecorder, tx: PreparedTx, attempt: int, *, resend: bool) -> None:
        """Send (and re-send) ``tx`` until it lands or provably expires.

        Only a provable expiry lets the order build another transaction: a transient error here (the RPC
        down, rate-limited, timing out) is waited out on the same transaction, since it may have landed.
        """
        pause = _TRANSIENT_PAUSE_S
        while True:
            try:
                if resend:
                    await self._venue.send(tx)
                status = await self._venue.wait(tx, self._confirm_poll_s)
                if status.state is TxState.UNKNOWN and await self._venue.expired(tx):
                    status = await self._venue.wait(tx, 0)
                    if status.state is TxState.UNKNOWN:
                        rec.step(
                            kind=EventKind.SETTLEMENT,
                            data=presenter.tx_expired(tx),
                            change=OrderChange(tx_expired=True),
                        )
                        order.tx = None
                        raise TransactionExpired(f"transaction {tx.signature} expired before it landed")
            except TransactionExpired:
                raise
            except RetryableError as exc:
                log.warning("order %s: %s while landing %s; retrying in %.2f s", order.id, exc, tx.signature, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, _TRANSIENT_PAUSE_MAX_S)
                resend = True
                continue
            pause = _TRANSIENT_PAUSE_S
            if status.state is TxState.LANDED:
                self._confirm(order, rec, tx, attempt, int(status.amount_out or 0))
                return
            if status.state is TxState.FAILED:
                # A landed failure is final whatever its cause; the venue's code (slippage_exceeded, ...) says which.
                raise RejectedError(status.error or "transaction failed", code=status.error_code or "tx_failed")
            resend = status.state is TxState.UNKNOWN

    def _confirm(self, order: OrderState, rec: OrderRecorder, tx: PreparedTx, attempt: int, amount_out: int) -> None:
        spec = order.spec
        executed = price(spec.amount_in, spec.token_in.decimals, amount_out, spec.token_out.decimals)
        rec.step(
            status=OrderStatus.CONFIRMED,
            data=presenter.confirmed(spec, tx, amount_out, executed, self._explorer_url(tx)),
            change=OrderChange(fill=Fill(amount_out, executed, datetime.now(UTC)),
                               attempt_end=AttemptEnd(attempt, AttemptOutcome.CONFIRMED)),
        )  # fmt: skip

    def _explorer_url(self, tx: PreparedTx) -> str | None:
        # A chain venue may have settled this one on the simulated ledger, which no explorer shows.
        return self._venue.explorer_url(tx.signature) if tx.kind.on_chain else None

    def _wait_again(self, rec: OrderRecorder, attempt: int, exc: PriceMovedBack) -> None:
        """A fired limit order whose price fell back before it could be built waits again, sent nothing."""
        log.info("order %s waits again: %s", rec.order_id, exc)
        rec.step(
            status=OrderStatus.WAITING,
            data=presenter.waiting_again(attempt, exc),
            change=OrderChange(attempt_end=AttemptEnd(attempt, AttemptOutcome.RETRY, exc.code, str(exc))),
        )

    def _fail(self, rec: OrderRecorder, attempt: int, exc: EngineError, *, exhausted: bool = False) -> None:
        reason = str(exc)
        if exhausted:
            reason = f"{reason} (gave up after {attempt} attempts)"
        log.info("order %s failed: %s: %s", rec.order_id, exc.code, reason)
        rec.step(
            status=OrderStatus.FAILED,
            data=presenter.failed(attempt, exc.code, reason),
            change=OrderChange(
                failure=Failure(exc.code, reason, datetime.now(UTC)),
                attempt_end=AttemptEnd(attempt, AttemptOutcome.FAILED, exc.code, str(exc)) if attempt else None,
            ),
        )

    def _log_decision(self, order: OrderState, decision: RoutingDecision, min_out: int) -> None:
        spec, plan = order.spec, decision.plan
        route = {
            "routeKind": plan.kind, "dex": decision.dex_label, "pool": plan.legs[0].pool, "legs": len(plan.legs),
            "gainBps": decision.gain_bps, "amountOutRaw": plan.amount_out, "minAmountOutRaw": min_out,
            "reason": decision.reason,
        }  # fmt: skip
        log.info(
            "route order=%s pair=%s/%s amount_in=%s kind=%s chosen=%s pool=%s legs=%d gain_bps=%d min_out=%s "
            "reason=%r",
            order.id, spec.token_in.symbol, spec.token_out.symbol,
            format_amount(spec.amount_in, spec.token_in.decimals), decision.plan.kind, decision.dex_label,
            decision.plan.legs[0].pool, len(decision.plan.legs), decision.gain_bps,
            format_amount(min_out, spec.token_out.decimals), decision.reason, extra=route,
        )  # fmt: skip


def _quote_records(attempt: int, decision: RoutingDecision) -> list[QuoteRecord]:
    return [QuoteRecord.of(attempt, q) for q in decision.quotes] + [
        _failure_record(attempt, f) for f in decision.failures
    ]


def _failure_record(attempt: int, f: QuoteFailure) -> QuoteRecord:
    return QuoteRecord.failed(attempt, f.dex, f.latency_ms, f"{f.code}: {f.error}")
