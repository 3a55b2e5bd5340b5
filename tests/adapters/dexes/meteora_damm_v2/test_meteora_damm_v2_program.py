"""The DAMM v2 quotes against the real cp-amm program, run inside the localnet: to the unit.

Needs a build of cp-amm (v0.2.0, as ``cp_amm.so``) named by ``OEE_DAMM_V2_SO``; skipped without it. It is never
committed. The test builds its pools itself (the Pool account and both vaults, nothing else) and swaps many sizes
each way, exact in and exact out, comparing what the program moved, and the protocol fee it counted in the pool,
with the quote. The clock stands still between explicit moves, so the fee schedules step through their periods
as the test moves time and slots on. With ``-s`` the module prints how many cases matched.

- ``full``: SOL (A) / USDC (B) over the whole price range (a constant product), fees in both tokens, a linear
  time schedule by unix time (10% falling 1% per 120 s period to 2%).
- ``narrow``: RAY (A) / USDC (B) concentrated within about 10% of the price, fees in token B only (on the
  input from B, on the output from A), an exponential time schedule (5% falling 10% per 90 s period, 12 times) and the
  dynamic fee mainnet pools carry.
- ``compounding``: JUP (A) / SOL (B), constant product on its tracked reserves compounding half of the LP fee,
  activated at a slot still ahead when the test starts, with a linear schedule by slot (4% falling 0.2% per 40
  slots, 15 times).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from solders.transaction_status import TransactionErrorType

from adapters.dexes.meteora_damm_v2.config import EXCEEDED_SLIPPAGE, POOL_DISABLED
from adapters.dexes.meteora_damm_v2.instructions import swap_pool
from adapters.dexes.meteora_damm_v2.layouts import (
    ActivationType,
    BaseFeeMode,
    CollectFeeMode,
    FeeTimeScheduler,
    Pool,
    decode_pool,
)
from adapters.dexes.meteora_damm_v2.math import quote_exact_in, quote_exact_out
from adapters.settlement import ChainRpc
from adapters.solana.accounts import CLOCK_SYSVAR, decode_token_account, encode_token_account, read_clock
from adapters.solana.errors import custom_error
from adapters.solana.spl import NATIVE_MINT, TOKEN_ACCOUNT_RENT, TOKEN_PROGRAM_ID, associated_token_address
from kernel.errors import InsufficientLiquidity, PoolNotTradable, RejectedError
from kernel.money import U64_MAX
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from localnet import running_localnet
from tests.adapters.contract.accounts import AccountFiles
from tests.adapters.contract.meteora_damm_v2 import (
    PROGRAM_ID,
    RAY,
    SOL,
    USDC,
    LocalPool,
    build_compounding_pool,
    build_concentrated_pool,
    chain_config,
)
from tests.support import json_rpc

SO = os.environ.get("OEE_DAMM_V2_SO")
pytestmark = pytest.mark.skipif(not SO, reason="OEE_DAMM_V2_SO names no Meteora DAMM v2 build (cp_amm.so)")
TOKENS = TokenRegistry.for_network(Network.LOCALNET)
JUP = TOKENS.by_mint("JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN")
WRAPPED_SOL = 50_000 * 10**9  # in the wallet's own wSOL account, which every swap here spends and fills
# Fractions of what one direction can take (the reserve, or the range's edge), from dust to over half of it.
FRACTIONS = [10.0 ** (k / 4 - 10) for k in range(39)]
ODD = [1, 2, 3, 7, 10, 399, 400, 401, 123_457]
SWAPS_PER_MOVE = 5  # the clock moves on after every few swaps: 17 s and a slot (the compounding pool: 2 slots)


@dataclass
class Setup:
    url: str
    rpc: ChainRpc
    wallet: Keypair
    pools: dict[str, LocalPool]
    compounding_opens: int
    checked: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    rates: dict[str, set[tuple[int, int]]] = field(default_factory=dict)  # (base, dynamic) numerators paid
    sent: int = 0


@pytest.fixture(scope="module")
async def setup() -> AsyncIterator[Setup]:
    assert SO
    wallet = Keypair()
    with tempfile.TemporaryDirectory(prefix="oee-damm-v2-program-") as folder:
        files = AccountFiles(Path(folder))
        started = int(time.time()) - 1  # the localnet's clock starts at the wall clock's time
        full = build_concentrated_pool(
            files, SOL, USDC, 150.0, 2_000 * 10**9, activation_point=started,
            base_fee=FeeTimeScheduler(100_000_000, BaseFeeMode.FEE_TIME_SCHEDULER_LINEAR, 8, 120, 10_000_000),
        )  # fmt: skip
        narrow = build_concentrated_pool(
            files, RAY, USDC, 2.5, 300_000 * 10**6, width=1.05, collect_fee_mode=CollectFeeMode.ONLY_B,
            base_fee=FeeTimeScheduler(50_000_000, BaseFeeMode.FEE_TIME_SCHEDULER_EXPONENTIAL, 12, 90, 1_000),
            dynamic_fee=True, activation_point=started,
        )  # fmt: skip
        opens = 40
        compounding = build_compounding_pool(
            files, JUP, 800_000 * 10**6, SOL, 2_500 * 10**9, activation_type=ActivationType.SLOT,
            activation_point=opens,
            base_fee=FeeTimeScheduler(40_000_000, BaseFeeMode.FEE_TIME_SCHEDULER_LINEAR, 15, 40, 2_000_000),
        )  # fmt: skip
        wsol = associated_token_address(wallet.pubkey(), NATIVE_MINT)
        data = encode_token_account(NATIVE_MINT, wallet.pubkey(), WRAPPED_SOL, native_reserve=TOKEN_ACCOUNT_RENT)
        files.write(wsol, TOKEN_PROGRAM_ID, data, TOKEN_ACCOUNT_RENT + WRAPPED_SOL)
        options = {
            "slot_ms": 0,
            "programs": [(str(PROGRAM_ID), Path(SO))],
            "accounts": files.accounts,
            "fund": [str(wallet.pubkey())],
            "fund_lamports": 1_000 * 10**9,
            "fund_tokens": {"USDC": "100000000", "RAY": "100000000", "JUP": "100000000"},
        }
        async with running_localnet(**options) as net:
            rpc = ChainRpc(chain_config(net.url))
            pools = {"full": full, "narrow": narrow, "compounding": compounding}
            found = Setup(net.url, rpc, wallet, pools, opens)
            yield found
            print(f"\nDAMM v2 quote = payout: {sum(found.checked.values())} cases {found.checked}")
            print(f"refused or paying nothing, by both: {found.refused}")
            print(f"fee numerators paid (base, dynamic): { {k: sorted(v) for k, v in found.rates.items()} }")
            await rpc.aclose()


async def _send(s: Setup, ixs: list[Instruction]) -> TransactionErrorType | None:
    """Send once (no preflight) and wait until processed; the transaction's error, if it failed."""
    blockhash, _ = await s.rpc.latest_blockhash()
    tx = Transaction([s.wallet], Message(ixs, s.wallet.pubkey()), blockhash)
    signature = await s.rpc.send_raw(bytes(tx))
    for _ in range(3000):
        level, err = await s.rpc.signature_status(signature)
        if level is not None:
            s.sent += 1
            if s.sent % SWAPS_PER_MOVE == 0:
                await _move_clock(s)
            return err
        await asyncio.sleep(0.005)
    raise AssertionError("the swap did not land")


async def _move_clock(s: Setup, seconds: int = 17) -> None:
    info = await json_rpc(s.url, "localnet_advanceSlots", {"slots": 2})
    await json_rpc(s.url, "localnet_advanceSlots", {"slots": 1, "unixTimestamp": info["unixTimestamp"] + seconds})


@dataclass(frozen=True)
class Seen:
    """The pool, the clock and the wallet's two token accounts, read together."""

    pool: Pool
    slot: int
    unix_time: int
    balance_a: int
    balance_b: int


def _account(s: Setup, token: Token) -> Pubkey:
    return associated_token_address(s.wallet.pubkey(), Pubkey.from_string(token.mint))


async def _read(s: Setup, pool: LocalPool) -> Seen:
    a, b = TOKENS.by_mint(str(pool.state.token_a_mint)), TOKENS.by_mint(str(pool.state.token_b_mint))
    keys = [pool.address, CLOCK_SYSVAR, _account(s, a), _account(s, b)]
    found = await s.rpc.multiple_accounts(keys, "reading a DAMM v2 pool")
    assert all(x is not None for x in found)
    clock = read_clock(found[1])
    amounts = [decode_token_account(bytes(x.data)).amount for x in found[2:] if x is not None]
    return Seen(decode_pool(bytes(found[0].data)), clock.slot, clock.unix_timestamp, *amounts)  # type: ignore[union-attr]


def _swap(s: Setup, pool: LocalPool, state: Pool, a_to_b: bool, amount_in: int, amount_out: int,
          exact_out: bool = False) -> Instruction:  # fmt: skip
    a, b = TOKENS.by_mint(str(state.token_a_mint)), TOKENS.by_mint(str(state.token_b_mint))
    source, destination = (_account(s, a), _account(s, b)) if a_to_b else (_account(s, b), _account(s, a))
    return swap_pool(
        PROGRAM_ID, pool.address, state, payer=s.wallet.pubkey(), input_token_account=source,
        output_token_account=destination, amount_in=amount_in, minimum_amount_out=amount_out, exact_out=exact_out,
    )  # fmt: skip


def _capacity(state: Pool, a_to_b: bool) -> int:
    """What one direction can take: the input reserve of a compounding pool, else the input that reaches the
    price range's edge (capped at the input reserve)."""
    reserve = state.token_a_amount if a_to_b else state.token_b_amount
    if state.collect_fee_mode == CollectFeeMode.COMPOUNDING:
        return reserve
    p, lower, upper, liquidity = state.sqrt_price, state.sqrt_min_price, state.sqrt_max_price, state.liquidity
    edge = liquidity * (p - lower) // (p * lower) if a_to_b else liquidity * (upper - p) >> 128
    return min(edge, reserve)


def _sizes(capacity: int) -> list[int]:
    return sorted({max(1, int(capacity * f)) for f in FRACTIONS} | set(ODD) | {capacity * 6 // 5})


def _protocol_fee(state: Pool, on_token_a: bool) -> int:
    return state.protocol_a_fee if on_token_a else state.protocol_b_fee


async def _exact_in(s: Setup, pool: LocalPool, a_to_b: bool, amount: int) -> str:
    """One exact-in swap: ``paid`` as quoted, ``nothing`` (quoted as buying nothing, and the program paid
    nothing) or ``range`` (refused by both as leaving the price range)."""
    seen = await _read(s, pool)
    state = seen.pool
    try:
        quote = quote_exact_in(state, amount, a_to_b=a_to_b, slot=seen.slot, unix_time=seen.unix_time)
    except InsufficientLiquidity:
        err = await _send(s, [_swap(s, pool, state, a_to_b, amount, 0)])
        assert err is not None, (pool.address, a_to_b, amount)
        return "range"
    except RejectedError as exc:
        assert exc.code == "amount_too_small", exc
        assert await _send(s, [_swap(s, pool, state, a_to_b, amount, 0)]) is None
        after = await _read(s, pool)
        assert (after.balance_b - seen.balance_b if a_to_b else after.balance_a - seen.balance_a) == 0
        return "nothing"
    assert await _send(s, [_swap(s, pool, state, a_to_b, amount, quote.amount_out)]) is None, (a_to_b, amount)
    after = await _read(s, pool)
    spent = seen.balance_a - after.balance_a if a_to_b else seen.balance_b - after.balance_b
    got = after.balance_b - seen.balance_b if a_to_b else after.balance_a - seen.balance_a
    assert (spent, got) == (amount, quote.amount_out), (pool.address, a_to_b, amount, quote)
    on_token_a = a_to_b == quote.fee_on_input
    accrued = _protocol_fee(after.pool, on_token_a) - _protocol_fee(state, on_token_a)
    assert accrued == quote.split.protocol, (pool.address, a_to_b, amount)
    name = next(k for k, v in s.pools.items() if v is pool)
    s.rates.setdefault(name, set()).add((quote.rate.base, quote.rate.dynamic))
    return "paid"


async def _exact_out(s: Setup, pool: LocalPool, a_to_b: bool, amount_out: int) -> str:
    """One exact-out swap with the quoted input as the maximum: the program takes exactly that."""
    seen = await _read(s, pool)
    state = seen.pool
    try:
        needs = quote_exact_out(state, amount_out, a_to_b=a_to_b, slot=seen.slot, unix_time=seen.unix_time)
    except InsufficientLiquidity:
        assert await _send(s, [_swap(s, pool, state, a_to_b, U64_MAX, amount_out, exact_out=True)]) is not None
        return "range"
    assert await _send(s, [_swap(s, pool, state, a_to_b, needs.amount_in, amount_out, exact_out=True)]) is None
    after = await _read(s, pool)
    spent = seen.balance_a - after.balance_a if a_to_b else seen.balance_b - after.balance_b
    got = after.balance_b - seen.balance_b if a_to_b else after.balance_a - seen.balance_a
    assert (spent, got) == (needs.amount_in, amount_out), (pool.address, a_to_b, amount_out, needs)
    return "paid"


async def _both_ways(s: Setup, name: str, run: Callable[..., object], kind: str, output_side: bool) -> None:
    """Every size each way, alternating directions so the price returns near where it began."""
    pool = s.pools[name]
    state = (await _read(s, pool)).pool
    by_direction: dict[bool, list[int]] = {}
    for a_to_b in (True, False):
        capacity = _capacity(state, a_to_b)
        if output_side:  # exact out: sizes of the output, up to its reserve
            capacity = state.token_b_amount if a_to_b else state.token_a_amount
        by_direction[a_to_b] = _sizes(capacity)
    outcomes: dict[str, int] = {}
    for forward, backward in itertools.zip_longest(by_direction[True], by_direction[False]):
        for a_to_b, amount in ((True, forward), (False, backward)):
            if amount is None:
                continue
            result = await run(s, pool, a_to_b, amount)  # type: ignore[misc]
            label = f"{kind} {name} {'A->B' if a_to_b else 'B->A'} {result}"
            outcomes[label] = outcomes.get(label, 0) + 1
    for label, count in outcomes.items():
        if label.endswith("paid"):
            s.checked[label.removesuffix(" paid")] = count
            assert count >= 40, (label, count)
        else:
            s.refused[label] = count


async def test_a_pool_not_yet_activated_refuses_swaps_until_its_slot(setup: Setup) -> None:
    pool = setup.pools["compounding"]
    seen = await _read(setup, pool)
    assert seen.slot < setup.compounding_opens
    with pytest.raises(PoolNotTradable, match=f"slot {setup.compounding_opens}"):
        quote_exact_in(seen.pool, 10**9, a_to_b=True, slot=seen.slot, unix_time=seen.unix_time)
    err = await _send(setup, [_swap(setup, pool, seen.pool, True, 10**9, 0)])
    assert custom_error(err) == (0, POOL_DISABLED)
    await json_rpc(setup.url, "localnet_advanceSlots", {"slots": setup.compounding_opens - seen.slot})
    seen = await _read(setup, pool)
    assert seen.slot >= setup.compounding_opens
    quote = quote_exact_in(seen.pool, 10**9, a_to_b=True, slot=seen.slot, unix_time=seen.unix_time)
    assert await _send(setup, [_swap(setup, pool, seen.pool, True, 10**9, quote.amount_out)]) is None


@pytest.mark.parametrize("name", ["full", "narrow", "compounding"])
async def test_exact_in_pays_exactly_the_quote(setup: Setup, name: str) -> None:
    await _both_ways(setup, name, _exact_in, "exact in", output_side=False)


@pytest.mark.parametrize("name", ["full", "narrow", "compounding"])
async def test_exact_out_takes_exactly_the_quoted_input(setup: Setup, name: str) -> None:
    await _both_ways(setup, name, _exact_out, "exact out", output_side=True)


async def test_one_unit_beyond_the_quote_fails_with_6002(setup: Setup) -> None:
    pool = setup.pools["narrow"]
    seen = await _read(setup, pool)
    quote = quote_exact_in(seen.pool, 10**9, a_to_b=False, slot=seen.slot, unix_time=seen.unix_time)
    err = await _send(setup, [_swap(setup, pool, seen.pool, False, 10**9, quote.amount_out + 1)])
    assert custom_error(err) == (0, EXCEEDED_SLIPPAGE)
    needs = quote_exact_out(seen.pool, 10**8, a_to_b=True, slot=seen.slot, unix_time=seen.unix_time)
    err = await _send(setup, [_swap(setup, pool, seen.pool, True, needs.amount_in - 1, 10**8, exact_out=True)])
    assert custom_error(err) == (0, EXCEEDED_SLIPPAGE)


async def test_the_fee_schedules_moved_while_the_quotes_held(setup: Setup) -> None:
    """The swaps above paid several base fees on each pool (the schedules stepped as the clock moved) and, on
    the narrow pool, a dynamic fee the earlier swaps' volatility raised."""
    rates = setup.rates
    assert all(len({base for base, _ in rates[name]}) >= 3 for name in ("full", "narrow", "compounding")), rates
    assert any(dynamic > 0 for _, dynamic in rates["narrow"])
    assert all(dynamic == 0 for name in ("full", "compounding") for _, dynamic in rates[name])
