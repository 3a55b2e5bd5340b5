"""The DAMM v2 quotes against the real cp-amm program, run inside the localnet: to the unit.

Needs a build of cp-amm (v0.2.0, as ``cp_amm.so``) named by ``OEE_DAMM_V2_SO``; skipped without it. It is never
committed. The test builds its pools itself (the Pool account and both vaults, nothing else) and swaps many sizes
each way, exact in and exact out, comparing what the program moved, and the protocol fee it counted in the pool,
with the quote; then through the adapter's own swaps and the engine's settlement. The clock stands still
between explicit moves, so the fee schedules step through their periods as the test moves time and slots on.
With ``-s`` the module prints how many cases matched.

- ``full``: SOL (A) / USDC (B) over the whole price range (a constant product), fees in both tokens, a linear
  time schedule by unix time (10% falling 1% per 120 s period to 2%).
- ``narrow``: RAY (A) / USDC (B) concentrated within about 10% of the price, fees in token B only (on the
  input from B, on the output from A), an exponential time schedule (5% falling 10% per 90 s period, 12 times)
  and the dynamic fee mainnet pools carry.
- ``token_2022``: T22 (A, a Token-2022 mint with a 1% transfer fee) / USDC (B) over the whole range (the
  transfer fee off the input first and the output last, or added back in exact out), with a linear market-cap
  schedule (5% falling 0.2% per 100 bps the square-root price rose).
- ``rate_limited``: USDT (A) / USDC (B) over the whole range, fees in token B only, with a rate limiter by slot
  over the whole test (1% up to 1,000 USDC, 0.1% more per further 1,000, at most 50%), exact in only (exact out
  of B inside its window is refused); its swaps name the Instructions sysvar.
- ``compounding``: JUP (A) / SOL (B), constant product on its tracked reserves compounding half of the LP fee,
  activated at a slot still ahead when the test starts, with a linear schedule by slot (4% falling 0.2% per 40
  slots, 15 times).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_status import TransactionErrorType

from adapters.dexes.meteora_damm_v2 import SLIPPAGE, MeteoraDammV2Adapter
from adapters.dexes.meteora_damm_v2.config import EXCEEDED_SLIPPAGE, POOL_DISABLED
from adapters.dexes.meteora_damm_v2.instructions import swap_pool
from adapters.dexes.meteora_damm_v2.layouts import (
    ActivationType,
    BaseFeeMode,
    CollectFeeMode,
    FeeMarketCapScheduler,
    FeeRateLimiter,
    FeeTimeScheduler,
    Pool,
    decode_pool,
)
from adapters.dexes.meteora_damm_v2.math import quote_exact_in, quote_exact_out
from adapters.dexes.meteora_damm_v2.watch import MeteoraDammV2Watcher
from adapters.settlement import ChainRpc, SolanaSettlement
from adapters.solana.accounts import (
    CLOCK_SYSVAR,
    TransferFee,
    TransferFeeConfig,
    decode_token_account,
    encode_token_account,
    read_clock,
)
from adapters.solana.errors import custom_error, failure_of
from adapters.solana.spl import (
    NATIVE_MINT,
    TOKEN_2022_PROGRAM_ID,
    TOKEN_ACCOUNT_RENT,
    TOKEN_PROGRAM_ID,
    associated_token_address,
)
from kernel.errors import InsufficientLiquidity, PoolNotTradable, RejectedError
from kernel.money import U64_MAX
from kernel.routes import LegMode, RouteLeg, RoutePlan
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from kernel.venues import QuoteRequest, SwapTicket, TxState
from localnet import running_localnet
from tests.adapters.contract.accounts import AccountFiles
from tests.adapters.contract.meteora_damm_v2 import (
    PROGRAM_ID,
    RAY,
    SOL,
    USDC,
    LocalPool,
    book_with,
    build_compounding_pool,
    build_concentrated_pool,
    chain_config,
    is_token_2022,
    placeholder,
    token_account_data,
    write_transfer_fee_mint,
)
from tests.adapters.settlement.helpers import landed
from tests.support import json_rpc

SO = os.environ.get("OEE_DAMM_V2_SO")
pytestmark = pytest.mark.skipif(not SO, reason="OEE_DAMM_V2_SO names no Meteora DAMM v2 build (cp_amm.so)")
T22 = Token("T22", "A Token-2022 token with a 1% transfer fee", 6, str(placeholder(b"t22 mint")),
            program=str(TOKEN_2022_PROGRAM_ID))  # fmt: skip
T22_FEE = TransferFee(0, 10**12, 100)
TOKENS = TokenRegistry.for_network(Network.LOCALNET, extra=[T22])
JUP = TOKENS.by_mint("JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN")
USDT = TOKENS.by_mint("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB")
WRAPPED_SOL = 50_000 * 10**9  # in the wallet's own wSOL account, which every swap here spends and fills
# Fractions of what one direction can take (the reserve, or the range's edge), from dust to over half of it.
FRACTIONS = [10.0 ** (k / 4 - 10) for k in range(39)]
ODD = [1, 2, 3, 7, 10, 399, 400, 401, 123_457]
SIGNATURE_FEE = 5000
AMOUNT_IS_ZERO = 6006  # PoolError::AmountIsZero
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
        write_transfer_fee_mint(files, T22, T22_FEE.basis_points, T22_FEE.maximum_fee)
        market_cap = FeeMarketCapScheduler(50_000_000, BaseFeeMode.FEE_MARKET_CAP_SCHEDULER_LINEAR, 20, 100, 100_000,
                                           2_000_000)  # fmt: skip
        token_2022 = build_concentrated_pool(files, T22, USDC, 2.0, 500_000 * 10**6, activation_point=started,
                                             base_fee=market_cap)  # fmt: skip
        limiter = FeeRateLimiter(10_000_000, fee_increment_bps=10, max_limiter_duration=100_000, max_fee_bps=5000,
                                 reference_amount=1_000 * 10**6)  # fmt: skip
        rate_limited = build_concentrated_pool(
            files, USDT, USDC, 1.0, 1_000_000 * 10**6, collect_fee_mode=CollectFeeMode.ONLY_B,
            activation_type=ActivationType.SLOT, base_fee=limiter,
        )  # fmt: skip
        program, data = token_account_data(T22, wallet.pubkey(), 10**15)
        files.write(associated_token_address(wallet.pubkey(), Pubkey.from_string(T22.mint), program), program, data)
        wsol = associated_token_address(wallet.pubkey(), NATIVE_MINT)
        data = encode_token_account(NATIVE_MINT, wallet.pubkey(), WRAPPED_SOL, native_reserve=TOKEN_ACCOUNT_RENT)
        files.write(wsol, TOKEN_PROGRAM_ID, data, TOKEN_ACCOUNT_RENT + WRAPPED_SOL)
        options = {
            "slot_ms": 0,
            "programs": [(str(PROGRAM_ID), Path(SO))],
            "accounts": files.accounts,
            "fund": [str(wallet.pubkey())],
            "fund_lamports": 1_000 * 10**9,
            "fund_tokens": {"USDC": "100000000", "RAY": "100000000", "JUP": "100000000", "USDT": "100000000"},
        }
        async with running_localnet(**options) as net:
            rpc = ChainRpc(chain_config(net.url))
            pools = {"full": full, "narrow": narrow, "compounding": compounding, "token_2022": token_2022,
                     "rate_limited": rate_limited}  # fmt: skip
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
    program = TOKEN_2022_PROGRAM_ID if is_token_2022(token) else TOKEN_PROGRAM_ID
    return associated_token_address(s.wallet.pubkey(), Pubkey.from_string(token.mint), program)


def _transfer_fees(state: Pool) -> tuple[TransferFeeConfig | None, TransferFeeConfig | None]:
    """The transfer fees of token A and token B (only T22 has one)."""
    t22 = TransferFeeConfig(T22_FEE, T22_FEE)
    return tuple(t22 if str(m) == T22.mint else None for m in (state.token_a_mint, state.token_b_mint))  # type: ignore[return-value]


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
    nothing), ``refused`` (the transfer fee took it all, and the program refused a zero input) or ``range``
    (refused by both as leaving the price range)."""
    seen = await _read(s, pool)
    state = seen.pool
    try:
        fee_a, fee_b = _transfer_fees(state)
        quote = quote_exact_in(state, amount, a_to_b=a_to_b, slot=seen.slot, unix_time=seen.unix_time,
                               transfer_fee_a=fee_a, transfer_fee_b=fee_b)  # fmt: skip
    except InsufficientLiquidity:
        err = await _send(s, [_swap(s, pool, state, a_to_b, amount, 0)])
        assert err is not None, (pool.address, a_to_b, amount)
        return "range"
    except RejectedError as exc:
        assert exc.code == "amount_too_small", exc
        err = await _send(s, [_swap(s, pool, state, a_to_b, amount, 0)])
        if err is not None:  # a transfer fee took it all: the program refuses a zero input
            assert custom_error(err) == (0, AMOUNT_IS_ZERO), err
            return "refused"
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
        fee_a, fee_b = _transfer_fees(state)
        needs = quote_exact_out(state, amount_out, a_to_b=a_to_b, slot=seen.slot, unix_time=seen.unix_time,
                                transfer_fee_a=fee_a, transfer_fee_b=fee_b)  # fmt: skip
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


@pytest.mark.parametrize("name", ["full", "narrow", "compounding", "token_2022", "rate_limited"])
async def test_exact_in_pays_exactly_the_quote(setup: Setup, name: str) -> None:
    await _both_ways(setup, name, _exact_in, "exact in", output_side=False)


@pytest.mark.parametrize("name", ["full", "narrow", "compounding", "token_2022"])
async def test_exact_out_takes_exactly_the_quoted_input(setup: Setup, name: str) -> None:
    await _both_ways(setup, name, _exact_out, "exact out", output_side=True)


async def test_exact_out_inside_the_rate_limiters_window_is_refused_not_guessed(setup: Setup) -> None:
    seen = await _read(setup, setup.pools["rate_limited"])
    with pytest.raises(PoolNotTradable, match="rate limiter"):
        quote_exact_out(seen.pool, 10**6, a_to_b=False, slot=seen.slot, unix_time=seen.unix_time)
    assert quote_exact_out(seen.pool, 10**6, a_to_b=True, slot=seen.slot, unix_time=seen.unix_time).amount_in > 0


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
    """The swaps above paid several base fees on each pool (the time schedules stepped as the clock moved, the
    market-cap schedule as the price rose, the rate limiter with the size) and, on the narrow pool, a dynamic
    fee the earlier swaps' volatility raised."""
    rates = setup.rates
    moved = ("full", "narrow", "compounding", "token_2022", "rate_limited")
    assert all(len({base for base, _ in rates[name]}) >= 3 for name in moved), rates
    assert any(dynamic > 0 for _, dynamic in rates["narrow"])
    assert all(dynamic == 0 for name in ("full", "compounding") for _, dynamic in rates[name])


# --- through the adapter and the engine's settlement ----------------------------------------------------------


@pytest.fixture(scope="module")
async def adapter(setup: Setup) -> AsyncIterator[MeteoraDammV2Adapter]:
    built = MeteoraDammV2Adapter(ChainRpc(chain_config(setup.url)), book_with(list(setup.pools.values())), TOKENS)
    yield built
    await built.aclose()


async def _holding(s: Setup, token: Token) -> int:
    """What an exact-in swap through the adapter pays into: lamports for SOL (its fresh wSOL account closes to
    the wallet), else the wallet's associated token account."""
    if token.native:
        return await s.rpc.balance(s.wallet.pubkey())
    account = await s.rpc.multiple_accounts([_account(s, token)], "reading a token account")
    assert account[0] is not None
    return decode_token_account(bytes(account[0].data)).amount


@pytest.mark.parametrize("name", ["full", "narrow", "compounding", "token_2022", "rate_limited"])
async def test_the_adapter_quotes_what_its_swaps_pay(setup: Setup, adapter: MeteoraDammV2Adapter, name: str) -> None:
    """The engine's own path: ``quote`` then ``swap_instructions`` (SOL wrapped in a fresh account)."""
    pool = setup.pools[name]
    a, b = TOKENS.by_mint(str(pool.state.token_a_mint)), TOKENS.by_mint(str(pool.state.token_b_mint))
    state = (await _read(setup, pool)).pool
    paid = 0
    for token_in, token_out, a_to_b in ((a, b, True), (b, a, False)):
        for fraction in (1e-6, 1e-4, 1e-3, 0.01, 0.05):
            amount = max(1, int(_capacity(state, a_to_b) * fraction))
            quote = await adapter.quote(QuoteRequest(token_in, token_out, amount))
            assert quote.pool == str(pool.address)
            ixs = await adapter.swap_instructions(
                SwapTicket(str(uuid.uuid4()), quote, token_in, token_out, quote.amount_out), setup.wallet.pubkey()
            )
            before = await _holding(setup, token_out)
            assert await _send(setup, ixs) is None, (name, token_in.symbol, amount)
            got = await _holding(setup, token_out) - before + (SIGNATURE_FEE if token_out.native else 0)
            assert got == quote.amount_out, (name, token_in.symbol, amount)
            paid += 1
    setup.checked[f"adapter exact in {name}"] = paid


async def test_a_landed_slippage_failure_reads_as_slippage(setup: Setup, adapter: MeteoraDammV2Adapter) -> None:
    quote = await adapter.quote(QuoteRequest(RAY, USDC, 10**6))
    ixs = await adapter.swap_instructions(SwapTicket("s", quote, RAY, USDC, quote.amount_out), setup.wallet.pubkey())
    index = next(i for i, ix in enumerate(ixs) if ix.program_id == PROGRAM_ID)
    swap = ixs[index]
    ixs[index] = Instruction(swap.program_id, swap.data[:16] + (quote.amount_out + 1).to_bytes(8, "little")
                             + swap.data[24:], swap.accounts)  # fmt: skip
    err = await _send(setup, ixs)
    assert custom_error(err) == (index, EXCEEDED_SLIPPAGE)
    programs: list[Pubkey | None] = [ix.program_id for ix in ixs]
    assert err is not None and failure_of(err, programs, [SLIPPAGE])[0] == "slippage_exceeded"


async def test_the_settlement_lands_a_swap_and_a_hop_each_paid_as_quoted(
    setup: Setup, adapter: MeteoraDammV2Adapter
) -> None:
    """The engine's settlement (compute budget simulated, memo, fresh wSOL account) over DAMM v2: one swap, then
    RAY -> USDC -> SOL with the first leg exact out for exactly what the second spends."""
    config = chain_config(setup.url, compute_unit_price=0, confirm_poll_ms=20)
    venue = SolanaSettlement(config, ChainRpc(config), setup.wallet, swaps={adapter.name: adapter})
    clock = asyncio.create_task(_tick(setup))  # the settlement waits for confirmations: slots must pass
    try:
        quote = await adapter.quote(QuoteRequest(SOL, USDC, 3 * 10**9))
        usdc = await _holding(setup, USDC)
        recorded, _ = await _settled(venue, setup, SwapTicket(str(uuid.uuid4()), quote, SOL, USDC, quote.amount_out))
        assert recorded == quote.amount_out == await _holding(setup, USDC) - usdc

        narrow, middle = setup.pools["narrow"], 777 * 10**6
        needs = await adapter.quote_exact_out(str(narrow.address), RAY, USDC, middle)
        first = RouteLeg(adapter.name, str(narrow.address), RAY, USDC, needs.amount_in, middle, middle,
                         mode=LegMode.EXACT_OUT)  # fmt: skip
        second_quote = await adapter.quote(QuoteRequest(USDC, SOL, middle))
        out = second_quote.amount_out
        second = RouteLeg(adapter.name, second_quote.pool, USDC, SOL, middle, out, out, hop=1)
        plan = RoutePlan((first, second), RAY, SOL, needs.amount_in, out, out)
        ray, usdc = await _holding(setup, RAY), await _holding(setup, USDC)
        recorded, lamports = await _settled(venue, setup, SwapTicket(str(uuid.uuid4()), second_quote, RAY, SOL, out,
                                                                     plan))  # fmt: skip
        assert recorded == out == await setup.rpc.balance(setup.wallet.pubkey()) - lamports + SIGNATURE_FEE
        assert ray - await _holding(setup, RAY) == needs.amount_in
        assert await _holding(setup, USDC) == usdc  # the intermediate USDC all went into leg two
        setup.checked["settlement: a swap and a two-leg hop"] = 3
    finally:
        clock.cancel()
        await venue.aclose()


async def _tick(s: Setup) -> None:
    while True:
        await json_rpc(s.url, "localnet_advanceSlots", {"slots": 1})
        await asyncio.sleep(0.02)


async def _settled(venue: SolanaSettlement, s: Setup, ticket: SwapTicket) -> tuple[int, int]:
    """Prepare, send and wait for ``ticket``: the output the settlement recorded, and the wallet's lamports once
    prepared (a lookup table the plan needs is made, and paid for, while preparing)."""
    tx = await venue.prepare(ticket)
    lamports = await s.rpc.balance(s.wallet.pubkey())
    await venue.send(tx)
    status = await landed(venue, tx)
    assert status.state is TxState.LANDED and status.amount_out is not None, status
    return status.amount_out, lamports


async def test_a_swap_transaction_uses_few_compute_units(setup: Setup, adapter: MeteoraDammV2Adapter) -> None:
    """The engine's swap transactions, simulated, SOL wrapped or unwrapped."""
    units = []
    for token_in, token_out, amount in ((SOL, USDC, 10**9), (USDC, SOL, 10**8), (RAY, USDC, 10**8)):
        quote = await adapter.quote(QuoteRequest(token_in, token_out, amount))
        ixs = await adapter.swap_instructions(
            SwapTicket("cu", quote, token_in, token_out, quote.amount_out), setup.wallet.pubkey()
        )
        blockhash, _ = await setup.rpc.latest_blockhash()
        tx = Transaction([setup.wallet], Message(ixs, setup.wallet.pubkey()), blockhash)
        units.append(await setup.rpc.simulate(VersionedTransaction.from_legacy(tx)))
    print("\nDAMM v2 swap transactions, compute units:", units)
    assert all(0 < u < 100_000 for u in units)


async def test_a_watchers_snapshot_quotes_what_the_program_pays(setup: Setup, adapter: MeteoraDammV2Adapter) -> None:
    """A waiting order's path: the pair watcher's snapshot prices with no I/O, as the adapter does, and a swap of
    its quote is paid that quote."""
    watcher = MeteoraDammV2Watcher(adapter)
    try:
        for name in ("narrow", "rate_limited"):
            pool = setup.pools[name]
            a, b = TOKENS.by_mint(str(pool.state.token_a_mint)), TOKENS.by_mint(str(pool.state.token_b_mint))
            for token_in, token_out in ((a, b), (b, a)):
                snapshot = await watcher.snapshot(token_in, token_out)
                assert snapshot.pool == str(pool.address) and snapshot.opens is None
                amount = 5_000 * 10**6
                quote = snapshot.quote(amount)
                assert quote == dataclasses.replace(await adapter.quote(QuoteRequest(token_in, token_out, amount)),
                                                    latency_ms=0)  # fmt: skip
                ixs = await adapter.swap_instructions(
                    SwapTicket(str(uuid.uuid4()), quote, token_in, token_out, quote.amount_out), setup.wallet.pubkey()
                )
                before = await _holding(setup, token_out)
                assert await _send(setup, ixs) is None
                assert await _holding(setup, token_out) - before == quote.amount_out
                setup.checked[f"watcher snapshot {name}"] = setup.checked.get(f"watcher snapshot {name}", 0) + 1
    finally:
        await watcher.aclose()
