"""The simulated ledger against a real Redis: each signed transaction executes at most once.

Each test works under its own key prefix rather than flushing the database: the session's Redis is
shared with engine processes that other tests keep running.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

import pytest
import redis.asyncio as aioredis
from solders.keypair import Keypair

from adapters.simulated.config import LatencySpan, SimulatedConfig
from adapters.simulated.ledger import SimulatedLedger, SwapMessage, is_dropped
from adapters.simulated.market import SimulatedMarket
from kernel.errors import FatalError, RetryableError
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from kernel.venues import PreparedTx, SettlementVenue, SwapTicket, TxState

T0 = 1_700_000_000.0
TOKENS = TokenRegistry.for_network(Network.SIMULATED)
SOL, USDC = TOKENS.resolve("SOL"), TOKENS.resolve("USDC")
assert SOL is not None and USDC is not None
AMOUNT = 1_500_000_000
INSTANT = LatencySpan(0, 0)


@dataclass
class Env:
    """A Redis client, a key prefix of this test's own, and one signer, as a worker would have."""

    client: aioredis.Redis
    prefix: str
    signer: Keypair

    def ledger(self, **config: object) -> SimulatedLedger:
        """A ledger on a fresh market (a freshly started worker) with a frozen market clock."""
        settings = {"execution_latency": INSTANT, **config}
        cfg = SimulatedConfig(**settings)  # type: ignore[arg-type]
        market = SimulatedMarket(TOKENS, cfg, clock=lambda: T0)
        return SimulatedLedger(market, self.client, cfg, self.signer, key_prefix=self.prefix)


@pytest.fixture
async def env(redis_url: str) -> AsyncIterator[Env]:
    client = aioredis.Redis.from_url(redis_url)
    prefix = f"oee:simtest:{uuid.uuid4().hex[:12]}"
    try:
        yield Env(client, prefix, Keypair())
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def ticket(
    ledger: SimulatedLedger, *, order_id: str | None = None, min_out: Callable[[int], int] | None = None
) -> SwapTicket:
    token_in, token_out = _tokens()
    quote = ledger.market.quote("raydium", token_in, token_out, AMOUNT)
    minimum = min_out(quote.amount_out) if min_out else quote.min_amount_out(50)
    return SwapTicket(order_id or str(uuid.uuid4()), quote, token_in, token_out, minimum)


def _tokens() -> tuple[Token, Token]:
    assert SOL is not None and USDC is not None
    return SOL, USDC


async def eventually(condition: Callable[[], Awaitable[bool]], timeout_s: float = 5.0) -> None:
    """Poll ``condition`` until it holds; never assert on elapsed time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await condition():
        assert loop.time() < deadline, "condition never held"
        await asyncio.sleep(0.01)


def pool_quote(ledger: SimulatedLedger) -> int:
    return ledger.market.quote("raydium", SOL, USDC, AMOUNT).amount_out  # type: ignore[arg-type]


async def test_is_a_settlement_venue(env: Env) -> None:
    ledger = env.ledger()
    assert isinstance(ledger, SettlementVenue)
    assert ledger.kind == "simulated"
    assert ledger.explorer_url("x") is None
    await ledger.aclose()


async def test_prepare_signs_a_canonical_message_and_touches_nothing(env: Env) -> None:
    ledger = env.ledger(tx_ttl_ms=10_000)
    t = ticket(ledger, order_id="order-1")
    tx = await ledger.prepare(t)
    message = json.loads(tx.raw)
    assert list(message) == sorted(message)
    assert tx.raw == json.dumps(message, sort_keys=True, separators=(",", ":")).encode()
    assert message["order_id"] == "order-1"
    assert (message["dex"], message["pool"]) == ("raydium", t.route.pool)
    assert (message["token_in"], message["token_out"]) == (SOL.mint, USDC.mint)  # type: ignore[union-attr]
    assert (message["amount_in"], message["min_amount_out"]) == (AMOUNT, t.min_amount_out)
    assert message["signer"] == str(env.signer.pubkey())
    assert tx.last_valid == message["valid_until_ms"]
    assert str(env.signer.sign_message(tx.raw)) == tx.signature
    # A second build of the same ticket is a different transaction.
    assert (await ledger.prepare(t)).signature != tx.signature
    assert [key async for key in env.client.scan_iter(match=f"{env.prefix}:*")] == []
    assert not await ledger.expired(tx)


async def test_sending_twice_executes_once(env: Env) -> None:
    ledger = env.ledger()
    t = ticket(ledger)
    tx = await ledger.prepare(t)
    await ledger.send(tx)
    after_first = pool_quote(ledger)
    await ledger.send(tx)
    assert pool_quote(ledger) == after_first  # the resend moved nothing
    assert await ledger.landed_signatures(t.order_id) == [tx.signature]
    status = await ledger.wait(tx, 1.0)
    assert status.state is TxState.LANDED
    assert status.amount_out == t.route.amount_out  # nothing traded between quote and fill
    [record] = await ledger.records(t.order_id)
    assert record.amount_out == status.amount_out and record.status == "ok"


async def test_concurrent_sends_from_two_workers_execute_once(env: Env) -> None:
    first, second = env.ledger(), env.ledger()
    t = ticket(first)
    tx = await first.prepare(t)
    await asyncio.gather(*(ledger.send(tx) for _ in range(10) for ledger in (first, second)))
    assert await first.landed_signatures(t.order_id) == [tx.signature]
    # Exactly one of the two processes moved its pool.
    moved = [pool_quote(ledger) < t.route.amount_out for ledger in (first, second)]
    assert sorted(moved) == [False, True]


async def test_a_restarted_worker_resends_harmlessly_and_sees_the_same_fill(env: Env) -> None:
    ledger = env.ledger()
    t = ticket(ledger)
    tx = await ledger.prepare(t)
    await ledger.send(tx)
    landed = await ledger.wait(tx, 1.0)

    restarted = env.ledger()  # new process: fresh pools, same Redis
    untouched = pool_quote(restarted)
    copy = PreparedTx(tx.signature, bytes(tx.raw), tx.last_valid)  # as read back from the database
    await restarted.send(copy)
    assert pool_quote(restarted) == untouched
    assert await restarted.landed_signatures(t.order_id) == [tx.signature]
    status = await restarted.wait(copy, 1.0)
    assert status.state is TxState.LANDED
    assert status.amount_out == landed.amount_out


async def test_a_fill_below_the_minimum_fails_with_slippage_and_moves_nothing(env: Env) -> None:
    ledger = env.ledger()
    t = ticket(ledger, min_out=lambda quoted: quoted + 1)
    before = pool_quote(ledger)
    tx = await ledger.prepare(t)
    await ledger.send(tx)
    status = await ledger.wait(tx, 1.0)
    assert status.state is TxState.FAILED
    assert status.error_code == "slippage_exceeded"
    assert status.amount_out is None
    assert status.error and "slippage" in status.error
    assert pool_quote(ledger) == before
    [record] = await ledger.records(t.order_id)
    assert (record.status, record.amount_out, record.min_amount_out) == ("slippage", before, before + 1)


async def test_a_successful_fill_moves_the_pool(env: Env) -> None:
    ledger = env.ledger()
    before = pool_quote(ledger)
    tx = await ledger.prepare(ticket(ledger))
    await ledger.send(tx)
    assert pool_quote(ledger) < before


async def test_an_expired_transaction_never_lands(env: Env) -> None:
    ledger = env.ledger(tx_ttl_ms=1)
    t = ticket(ledger)
    tx = await ledger.prepare(t)
    await eventually(lambda: ledger.expired(tx))
    before = pool_quote(ledger)
    await ledger.send(tx)
    assert await ledger.expired(tx)
    assert (await ledger.wait(tx, 0.2)).state is TxState.UNKNOWN
    assert await ledger.landed_signatures(t.order_id) == []
    assert pool_quote(ledger) == before


async def test_a_dropped_transaction_is_dropped_on_every_send(env: Env) -> None:
    ledger = env.ledger(drop_rate=1.0)
    t = ticket(ledger)
    tx = await ledger.prepare(t)
    for _ in range(3):
        await ledger.send(tx)
    assert (await ledger.wait(tx, 0.1)).state is TxState.UNKNOWN
    assert await ledger.landed_signatures(t.order_id) == []
    assert not await ledger.expired(tx)


def test_drop_decision_is_a_share_of_signatures() -> None:
    signatures = [str(Keypair().sign_message(b"x")) for _ in range(2000)]
    dropped = [s for s in signatures if is_dropped(s, 0.25)]
    assert 400 < len(dropped) < 600
    assert dropped == [s for s in signatures if is_dropped(s, 0.25)]
    assert not any(is_dropped(s, 0.0) for s in signatures)
    assert all(is_dropped(s, 1.0) for s in signatures)


async def test_wait_reports_pending_until_the_landing_time(env: Env) -> None:
    slow = env.ledger(execution_latency=LatencySpan(60_000, 60_000))
    tx = await slow.prepare(ticket(slow))
    await slow.send(tx)
    pending = await slow.wait(tx, 0.05)
    assert pending.state is TxState.PENDING
    assert (await slow.wait(tx, 0)).state is TxState.PENDING

    quick = env.ledger(execution_latency=LatencySpan(200, 300))
    tx = await quick.prepare(ticket(quick))
    await quick.send(tx)
    # Within the timeout, wait sleeps until the landing time and reports the landing.
    assert (await quick.wait(tx, 10.0)).state is TxState.LANDED


async def test_wait_on_a_signature_never_sent_is_unknown(env: Env) -> None:
    ledger = env.ledger()
    tx = await ledger.prepare(ticket(ledger))
    assert (await ledger.wait(tx, 0)).state is TxState.UNKNOWN
    assert (await ledger.wait(tx, 0.1)).state is TxState.UNKNOWN


async def test_wait_sees_a_send_made_while_it_waits(env: Env) -> None:
    ledger = env.ledger()
    tx = await ledger.prepare(ticket(ledger))
    waiting = asyncio.create_task(ledger.wait(tx, 10.0))
    await asyncio.sleep(0.02)
    await ledger.send(tx)
    assert (await waiting).state is TxState.LANDED


async def test_a_tampered_transaction_is_refused(env: Env) -> None:
    ledger = env.ledger()
    tx = await ledger.prepare(ticket(ledger))
    message = SwapMessage.from_bytes(tx.raw)
    forged = replace(message, min_amount_out=0).to_bytes()
    with pytest.raises(FatalError):
        await ledger.send(PreparedTx(tx.signature, forged, tx.last_valid))
    with pytest.raises(FatalError):
        await ledger.send(PreparedTx("not-a-signature", tx.raw, tx.last_valid))
    with pytest.raises(FatalError):
        await ledger.wait(PreparedTx(tx.signature, b"garbage", tx.last_valid), 0)


async def test_redis_unreachable_is_retryable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: nothing listens there
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1)
    cfg = SimulatedConfig(execution_latency=INSTANT)
    ledger = SimulatedLedger(SimulatedMarket(TOKENS, cfg, clock=lambda: T0), client, cfg, Keypair())
    try:
        tx = await ledger.prepare(ticket(ledger))  # no I/O
        for call in (ledger.send(tx), ledger.wait(tx, 0), ledger.expired(tx), ledger.landed_signatures("o")):
            with pytest.raises(RetryableError) as caught:
                await call
            assert caught.value.__cause__ is not None
    finally:
        await client.aclose()
