"""The CLMM quotes against the real Raydium CLMM program, run inside the localnet: to the unit.

Needs a build of the program (``raydium_clmm.so``) named by ``OEE_CLMM_SO``; skipped without it. It is never
committed. The test builds its pools itself (AmmConfig, PoolState, ObservationState, the bitmap extension, the
vaults and tick arrays holding positions over many arrays) and swaps many sizes each way, exact in and exact
out, from dust to beyond what the pool holds. Each swap must move exactly the quoted amounts, and leave the
pool at the quoted price, tick and liquidity with the quoted protocol fee counted. Sizes the quote refuses
are sent too: the program refuses them as well, with the matching error. Then the adapter's own quotes and
swaps (SOL wrapped in a fresh account), naming the tick arrays it chooses. With ``-s`` the module prints how
many cases matched.

- ``ray_usdc``: RAY (token 0) / USDC, tick spacing 10 (600 ticks per array), 0.25% fee, six positions over
  about 17 arrays, with a stretch of no liquidity between two of them.
- ``sol_usdc``: SOL (token 0) / USDC, tick spacing 1 (60 ticks per array), 0.01% fee, five positions over
  about 14 arrays.
- ``ray_usdc_extension`` and ``sol_usdc_extension``: tick spacing 1 about tick 30,700 and -32,189, positions
  across the edge of the pool's own bitmap (±30,720), so swaps walk tick arrays only the bitmap extension marks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from solders.compute_budget import set_compute_unit_limit
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_status import TransactionErrorType

from adapters.dexes.raydium_clmm import RaydiumClmmAdapter
from adapters.dexes.raydium_clmm.config import (
    LIQUIDITY_INSUFFICIENT,
    TOO_LITTLE_OUTPUT_RECEIVED,
    TOO_MUCH_INPUT_PAID,
    TOO_SMALL_INPUT_OR_OUTPUT_AMOUNT,
)
from adapters.dexes.raydium_clmm.instructions import swap_pool
from adapters.dexes.raydium_clmm.layouts import PoolState, decode_pool
from adapters.dexes.raydium_clmm.math import (
    ClmmQuote,
    delta_amount_0,
    delta_amount_1,
    get_sqrt_price_at_tick,
    initialized_tick_arrays,
    swap,
    tick_array_start_index,
)
from adapters.dexes.raydium_clmm.watch import RaydiumClmmWatcher
from adapters.settlement import ChainConfig, ChainRpc, SolanaSettlement
from adapters.solana.accounts import decode_token_account, encode_token_account
from adapters.solana.errors import custom_error
from adapters.solana.spl import NATIVE_MINT, TOKEN_ACCOUNT_RENT, TOKEN_PROGRAM_ID, associated_token_address
from kernel.errors import InsufficientLiquidity, RejectedError
from kernel.money import U64_MAX
from kernel.routes import LegMode, RouteLeg, RoutePlan
from kernel.settings import Network
from kernel.tokens import Token
from kernel.venues import QuoteRequest, SwapTicket, TxState
from localnet import running_localnet
from tests.adapters.contract.accounts import AccountFiles
from tests.adapters.contract.raydium_clmm import (
    PROGRAM_ID,
    RAY,
    SOL,
    TOKENS,
    USDC,
    LocalClmmPool,
    Position,
    book_with,
    build_pool,
    sqrt_price_of,
)
from tests.adapters.settlement.helpers import landed
from tests.support import json_rpc

SO = os.environ.get("OEE_CLMM_SO")
pytestmark = pytest.mark.skipif(not SO, reason="OEE_CLMM_SO names no Raydium CLMM build (raydium_clmm.so)")
WRAPPED_SOL = 100_000 * 10**9  # in the wallet's own wSOL account, which every swap here spends and fills
# Fractions of what one direction can take, from dust to beyond it.
FRACTIONS = [10.0 ** (k / 4 - 10) for k in range(40)] + [0.5, 0.7, 0.85, 0.95, 1.2]
ODD = [1, 2, 3, 7, 10, 399, 400, 401, 123_457]
CU_LIMIT = 1_400_000
OWN_BITMAP_TICKS = 512 * 60  # the pool's own bitmap covers tick arrays within this many ticks at spacing 1
POOLS = ["ray_usdc", "sol_usdc", "ray_usdc_extension", "sol_usdc_extension"]
SIGNATURE_FEE = 5000


@dataclass
class Setup:
    url: str
    rpc: ChainRpc
    wallet: Keypair
    pools: dict[str, LocalClmmPool]
    checked: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    crossed: dict[str, int] = field(default_factory=dict)  # the most tick arrays one swap walked, by pool
    beyond: set[str] = field(default_factory=set)  # pools whose swaps walked arrays only the extension marks


def _around(center: int, spacing: int, spans: list[tuple[int, int, int]]) -> list[Position]:
    """Positions at ``center`` plus the given offsets (rounded to the spacing)."""
    base = center // spacing * spacing
    return [Position(base + lo * spacing, base + hi * spacing, liquidity) for lo, hi, liquidity in spans]


def _build(files: AccountFiles) -> dict[str, LocalClmmPool]:
    ray_price = sqrt_price_of(2.5, RAY.decimals, USDC.decimals)
    ray_tick = 9163  # about where 2.5 USDC per RAY sits
    ray = build_pool(
        files, RAY, USDC, tick_spacing=10, sqrt_price_x64=ray_price, trade_fee_rate=2500, config_index=7,
        positions=_around(ray_tick, 10, [(-300, 300, 4 * 10**10), (-120, 60, 9 * 10**10), (-40, 200, 3 * 10**10),
                                         (-5, 5, 5 * 10**11), (150, 420, 2 * 10**10), (-600, -400, 6 * 10**10)]),
    )  # fmt: skip
    sol_price = sqrt_price_of(150.0, SOL.decimals, USDC.decimals)
    sol_tick = -18_971
    sol = build_pool(
        files, SOL, USDC, tick_spacing=1, sqrt_price_x64=sol_price, trade_fee_rate=100, protocol_fee_rate=130_000,
        fund_fee_rate=30_000, config_index=8,
        positions=_around(sol_tick, 1, [(-300, 300, 2 * 10**11), (-100, 40, 5 * 10**11), (-20, 20, 10**12),
                                        (5, 250, 3 * 10**11), (-500, -350, 4 * 10**11)]),
    )  # fmt: skip
    # Both beyond the pool's own bitmap (tick spacing 1: tick arrays from -30720 to 30719), so their walks cross
    # into the bitmap extension's arrays.
    high = build_pool(
        files, RAY, USDC, tick_spacing=1, sqrt_price_x64=get_sqrt_price_at_tick(30_700) + 777, trade_fee_rate=500,
        config_index=9,
        positions=_around(30_700, 1, [(-400, 400, 3 * 10**11), (-100, 150, 8 * 10**11), (10, 300, 2 * 10**11)]),
    )  # fmt: skip
    low_price = sqrt_price_of(40.0, SOL.decimals, USDC.decimals)
    low = build_pool(
        files, SOL, USDC, tick_spacing=1, sqrt_price_x64=low_price, trade_fee_rate=300, config_index=10,
        positions=_around(-32_189, 1, [(-300, 1500, 10**11), (-50, 60, 6 * 10**11), (400, 1200, 2 * 10**11)]),
    )  # fmt: skip
    return {"ray_usdc": ray, "sol_usdc": sol, "ray_usdc_extension": high, "sol_usdc_extension": low}


@pytest.fixture(scope="module")
async def setup() -> AsyncIterator[Setup]:
    assert SO
    wallet = Keypair()
    with tempfile.TemporaryDirectory(prefix="oee-clmm-program-") as folder:
        files = AccountFiles(Path(folder))
        pools = _build(files)
        wsol = associated_token_address(wallet.pubkey(), NATIVE_MINT)
        data = encode_token_account(NATIVE_MINT, wallet.pubkey(), WRAPPED_SOL, native_reserve=TOKEN_ACCOUNT_RENT)
        files.write(wsol, TOKEN_PROGRAM_ID, data, TOKEN_ACCOUNT_RENT + WRAPPED_SOL)
        options = {
            "slot_ms": 0,
            "programs": [(str(PROGRAM_ID), Path(SO))],
            "accounts": files.accounts,
            "fund": [str(wallet.pubkey())],
            "fund_lamports": 1_000 * 10**9,
            "fund_tokens": {"USDC": "100000000", "RAY": "100000000"},
        }
        async with running_localnet(**options) as net:
            rpc = ChainRpc(ChainConfig(Network.LOCALNET, net.url, rpc_backoff_s=0.01, rpc_backoff_max_s=0.05))
            found = Setup(net.url, rpc, wallet, pools)
            yield found
            print(f"\nCLMM quote = payout: {sum(found.checked.values())} cases {found.checked}")
            print(f"refused by both: {sum(found.refused.values())} cases {found.refused}")
            print(f"most tick arrays one swap walked: {found.crossed}")
            await rpc.aclose()


async def _send(s: Setup, ixs: list[Instruction]) -> TransactionErrorType | None:
    """Send once (no preflight) and wait until processed, then move to a new slot; the error, if it failed."""
    blockhash, _ = await s.rpc.latest_blockhash()
    tx = Transaction([s.wallet], Message([set_compute_unit_limit(CU_LIMIT), *ixs], s.wallet.pubkey()), blockhash)
    signature = await s.rpc.send_raw(bytes(tx))
    for _ in range(3000):
        level, err = await s.rpc.signature_status(signature)
        if level is not None:
            await json_rpc(s.url, "localnet_advanceSlots", {"slots": 1})
            return err
        await asyncio.sleep(0.005)
    raise AssertionError("the swap did not land")


def _account(s: Setup, token: Token) -> Pubkey:
    return associated_token_address(s.wallet.pubkey(), Pubkey.from_string(token.mint))


@dataclass(frozen=True)
class Seen:
    pool: PoolState
    balance_0: int
    balance_1: int


async def _read(s: Setup, pool: LocalClmmPool) -> Seen:
    keys = [pool.address, _account(s, pool.tokens[0]), _account(s, pool.tokens[1])]
    found = await s.rpc.multiple_accounts(keys, "reading a CLMM pool")
    assert all(x is not None for x in found)
    amounts = [decode_token_account(bytes(x.data)).amount for x in found[1:] if x is not None]
    return Seen(decode_pool(bytes(found[0].data)), *amounts)  # type: ignore[union-attr]


def _quote(pool: LocalClmmPool, state: PoolState, amount: int, zero_for_one: bool, exact_in: bool) -> ClmmQuote:
    return swap(state, pool.config, pool.tick_arrays, amount, zero_for_one=zero_for_one, is_base_input=exact_in,
                extension=pool.extension)  # fmt: skip


def _every_array(pool: LocalClmmPool, state: PoolState, zero_for_one: bool) -> list[int]:
    """Every initialized array from the current one on, in the direction's order (for swaps the quote refuses)."""
    starts = initialized_tick_arrays(state, pool.extension)
    here = tick_array_start_index(state.tick_current, state.tick_spacing)
    if zero_for_one:
        return [x for x in reversed(starts) if x <= here][:12]
    return [x for x in starts if x >= here][:12]


def _ix(s: Setup, pool: LocalClmmPool, state: PoolState, zero_for_one: bool, amount: int, threshold: int,
        exact_in: bool, arrays: list[int]) -> Instruction:  # fmt: skip
    source, destination = _account(s, pool.tokens[0]), _account(s, pool.tokens[1])
    if not zero_for_one:
        source, destination = destination, source
    return swap_pool(
        PROGRAM_ID, pool.address, state, payer=s.wallet.pubkey(), input_token_account=source,
        output_token_account=destination, zero_for_one=zero_for_one, amount=amount,
        other_amount_threshold=threshold, is_base_input=exact_in, tick_arrays=arrays,
    )  # fmt: skip


async def _one(s: Setup, name: str, zero_for_one: bool, amount: int, exact_in: bool) -> str:
    """One swap: ``paid`` exactly as quoted, or ``refused`` by the quote and by the program with the matching
    error (6019 LiquidityInsufficient where the quote runs out of liquidity, 6026 TooSmallInputOrOutputAmount
    where it buys or costs nothing)."""
    pool = s.pools[name]
    seen = await _read(s, pool)
    state = seen.pool
    try:
        quote = _quote(pool, state, amount, zero_for_one, exact_in)
    except (InsufficientLiquidity, RejectedError) as exc:
        threshold = 0 if exact_in else U64_MAX
        ix = _ix(s, pool, state, zero_for_one, amount, threshold, exact_in, _every_array(pool, state, zero_for_one))
        err = await _send(s, [ix])
        assert err is not None, (name, zero_for_one, amount, exact_in)
        code = custom_error(err)
        expected = (
            LIQUIDITY_INSUFFICIENT if isinstance(exc, InsufficientLiquidity) else TOO_SMALL_INPUT_OR_OUTPUT_AMOUNT
        )
        assert code == (1, expected), (name, zero_for_one, amount, exact_in, exc, err)
        return f"refused {exc.code}"
    threshold = quote.amount_out if exact_in else quote.amount_in
    ix = _ix(s, pool, state, zero_for_one, amount, threshold, exact_in, list(quote.tick_arrays))
    err = await _send(s, [ix])
    assert err is None, (name, zero_for_one, amount, exact_in, quote, err)
    after = await _read(s, pool)
    spent = seen.balance_0 - after.balance_0 if zero_for_one else seen.balance_1 - after.balance_1
    got = after.balance_1 - seen.balance_1 if zero_for_one else after.balance_0 - seen.balance_0
    assert (spent, got) == (quote.amount_in, quote.amount_out), (name, zero_for_one, amount, exact_in, quote)
    new = after.pool
    assert (new.sqrt_price_x64, new.tick_current, new.liquidity) == (quote.sqrt_price_x64, quote.tick,
                                                                     quote.liquidity), quote  # fmt: skip
    protocol = (new.protocol_fees_token_0 - state.protocol_fees_token_0 if zero_for_one
                else new.protocol_fees_token_1 - state.protocol_fees_token_1)  # fmt: skip
    fund = (
        new.fund_fees_token_0 - state.fund_fees_token_0
        if zero_for_one
        else new.fund_fees_token_1 - state.fund_fees_token_1
    )
    assert (protocol, fund) == (quote.protocol_fee, quote.fund_fee), quote
    s.crossed[name] = max(s.crossed.get(name, 0), len(quote.tick_arrays))
    if any(not -OWN_BITMAP_TICKS <= start < OWN_BITMAP_TICKS for start in quote.tick_arrays):
        s.beyond.add(name)
    return "paid"


def _capacity(pool: LocalClmmPool, state: PoolState, zero_for_one: bool, exact_in: bool) -> int:
    """What one direction can take in (exact in) or pay out (exact out) before its last position ends."""
    total = 0
    for p in pool.positions:
        lower, upper = get_sqrt_price_at_tick(p.lower), get_sqrt_price_at_tick(p.upper)
        price = state.sqrt_price_x64
        if zero_for_one and price > lower:
            top = min(price, upper)
            total += (delta_amount_0(lower, top, p.liquidity, True) if exact_in
                      else delta_amount_1(lower, top, p.liquidity, False)) or 0  # fmt: skip
        if not zero_for_one and price < upper:
            bottom = max(price, lower)
            total += (delta_amount_1(bottom, upper, p.liquidity, True) if exact_in
                      else delta_amount_0(bottom, upper, p.liquidity, False)) or 0  # fmt: skip
    return total


async def _both_ways(s: Setup, name: str, exact_in: bool) -> None:
    pool = s.pools[name]
    state = (await _read(s, pool)).pool
    sizes = {}
    for zero_for_one in (True, False):
        capacity = _capacity(pool, state, zero_for_one, exact_in)
        sizes[zero_for_one] = sorted({max(1, int(capacity * f)) for f in FRACTIONS} | set(ODD))
    kind = "exact in" if exact_in else "exact out"
    outcomes: dict[str, int] = {}
    for down, up in itertools.zip_longest(sizes[True], sizes[False]):
        for zero_for_one, amount in ((True, down), (False, up)):
            if amount is None:
                continue
            result = await _one(s, name, zero_for_one, amount, exact_in)
            label = f"{kind} {name} {'0->1' if zero_for_one else '1->0'}"
            outcomes[f"{label} {result}"] = outcomes.get(f"{label} {result}", 0) + 1
    for label, count in outcomes.items():
        if label.endswith("paid"):
            s.checked[label.removesuffix(" paid")] = count
            assert count >= 40, (label, count)
        else:
            s.refused[label] = count


@pytest.mark.parametrize("name", POOLS)
async def test_exact_in_pays_exactly_the_quote(setup: Setup, name: str) -> None:
    await _both_ways(setup, name, exact_in=True)


@pytest.mark.parametrize("name", POOLS)
async def test_exact_out_takes_exactly_the_quoted_input(setup: Setup, name: str) -> None:
    await _both_ways(setup, name, exact_in=False)


async def test_one_unit_beyond_the_quote_fails_with_the_slippage_codes(setup: Setup) -> None:
    pool = setup.pools["ray_usdc"]
    state = (await _read(setup, pool)).pool
    quote = _quote(pool, state, 10**9, False, True)
    ix = _ix(setup, pool, state, False, 10**9, quote.amount_out + 1, True, list(quote.tick_arrays))
    assert custom_error(await _send(setup, [ix])) == (1, TOO_LITTLE_OUTPUT_RECEIVED)
    needs = _quote(pool, state, 10**8, True, False)
    ix = _ix(setup, pool, state, True, 10**8, needs.amount_in - 1, False, list(needs.tick_arrays))
    assert custom_error(await _send(setup, [ix])) == (1, TOO_MUCH_INPUT_PAID)


async def test_the_swaps_walked_several_tick_arrays_and_into_the_extension(setup: Setup) -> None:
    assert all(setup.crossed.get(name, 0) >= 3 for name in setup.pools), setup.crossed
    assert setup.beyond == {"ray_usdc_extension", "sol_usdc_extension"}, setup.beyond


# --- through the adapter ------------------------------------------------------------------------------------


def _adapter(setup: Setup, name: str) -> RaydiumClmmAdapter:
    config = ChainConfig(Network.LOCALNET, setup.url, rpc_backoff_s=0.01, rpc_backoff_max_s=0.05)
    return RaydiumClmmAdapter(ChainRpc(config), book_with([setup.pools[name]]), TOKENS)


async def _holding(s: Setup, token: Token) -> int:
    """What an exact-in swap through the adapter pays into: lamports for SOL (its fresh wSOL account closes to
    the wallet), else the wallet's associated token account."""
    if token.native:
        return await s.rpc.balance(s.wallet.pubkey())
    account = await s.rpc.multiple_accounts([_account(s, token)], "reading a token account")
    assert account[0] is not None
    return decode_token_account(bytes(account[0].data)).amount


@pytest.mark.parametrize("name", POOLS)
async def test_the_adapter_quotes_what_its_swaps_pay(setup: Setup, name: str) -> None:
    """The engine's own path: ``quote`` then ``swap_instructions`` (SOL wrapped in a fresh account)."""
    pool = setup.pools[name]
    adapter = _adapter(setup, name)
    state = (await _read(setup, pool)).pool
    paid = 0
    for zero_for_one in (True, False):
        token_in, token_out = pool.tokens if zero_for_one else pool.tokens[::-1]
        capacity = _capacity(pool, state, zero_for_one, True)
        for fraction in (1e-7, 1e-5, 1e-3, 0.01, 0.05, 0.2):
            amount = max(1, int(capacity * fraction))
            quote = await adapter.quote(QuoteRequest(token_in, token_out, amount))
            assert quote.pool == str(pool.address)
            ticket = SwapTicket(str(uuid.uuid4()), quote, token_in, token_out, quote.amount_out)
            ixs = await adapter.swap_instructions(ticket, setup.wallet.pubkey())
            before = await _holding(setup, token_out)
            assert await _send(setup, ixs) is None, (name, token_in.symbol, amount)
            got = await _holding(setup, token_out) - before + (SIGNATURE_FEE if token_out.native else 0)
            assert got == quote.amount_out, (name, token_in.symbol, amount)
            paid += 1
    setup.checked[f"adapter exact in {name}"] = paid
    await adapter.aclose()


# --- a watcher's snapshot, the settlement, compute units -------------------------------------------------------


def _pair_adapter(setup: Setup) -> RaydiumClmmAdapter:
    """An adapter over the RAY/USDC and SOL/USDC pools (one pool per pair)."""
    config = ChainConfig(Network.LOCALNET, setup.url, rpc_backoff_s=0.01, rpc_backoff_max_s=0.05)
    pools = [setup.pools["ray_usdc"], setup.pools["sol_usdc"]]
    return RaydiumClmmAdapter(ChainRpc(config), book_with(pools), TOKENS)


async def test_a_watchers_snapshot_quotes_what_the_program_pays(setup: Setup) -> None:
    """A waiting order's path: the pair watcher's snapshot prices with no I/O, as the adapter does, and a swap of
    its quote is paid that quote."""
    adapter = _pair_adapter(setup)
    watcher = RaydiumClmmWatcher(adapter, owns_adapter=True)
    try:
        for name in ("ray_usdc", "sol_usdc"):
            pool = setup.pools[name]
            for token_in, token_out in (pool.tokens, pool.tokens[::-1]):
                state = (await _read(setup, pool)).pool
                amount = _capacity(pool, state, token_in is pool.tokens[0], True) // 20
                snapshot = await watcher.snapshot(token_in, token_out)
                assert snapshot.pool == str(pool.address) and snapshot.opens is None
                quote = snapshot.quote(amount)
                fresh = await adapter.quote(QuoteRequest(token_in, token_out, amount))
                assert quote == dataclasses.replace(fresh, latency_ms=0)
                ticket = SwapTicket(str(uuid.uuid4()), quote, token_in, token_out, quote.amount_out)
                ixs = await adapter.swap_instructions(ticket, setup.wallet.pubkey())
                before = await _holding(setup, token_out)
                assert await _send(setup, ixs) is None
                got = await _holding(setup, token_out) - before + (SIGNATURE_FEE if token_out.native else 0)
                assert got == quote.amount_out
                setup.checked[f"watcher snapshot {name}"] = setup.checked.get(f"watcher snapshot {name}", 0) + 1
    finally:
        await watcher.aclose()


async def _tick(s: Setup) -> None:
    while True:
        await json_rpc(s.url, "localnet_advanceSlots", {"slots": 1})
        await asyncio.sleep(0.02)


async def _settled(venue: SolanaSettlement, s: Setup, ticket: SwapTicket) -> tuple[int, int]:
    """Prepare, send and wait for ``ticket``: the output the settlement recorded, and the wallet's lamports once
    prepared."""
    tx = await venue.prepare(ticket)
    lamports = await s.rpc.balance(s.wallet.pubkey())
    await venue.send(tx)
    status = await landed(venue, tx)
    assert status.state is TxState.LANDED and status.amount_out is not None, status
    return status.amount_out, lamports


async def test_the_settlement_lands_a_swap_and_a_hop_each_paid_as_quoted(setup: Setup) -> None:
    """The engine's settlement (compute budget simulated, memo, fresh wSOL account) over CLMM: one swap, then
    RAY -> USDC -> SOL with the first leg exact out for exactly what the second spends."""
    adapter = _pair_adapter(setup)
    config = ChainConfig(Network.LOCALNET, setup.url, rpc_backoff_s=0.01, rpc_backoff_max_s=0.05,
                         compute_unit_price=0, confirm_poll_ms=20)  # fmt: skip
    venue = SolanaSettlement(config, ChainRpc(config), setup.wallet, swaps={adapter.name: adapter})
    clock = asyncio.create_task(_tick(setup))  # the settlement waits for confirmations: slots must pass
    try:
        quote = await adapter.quote(QuoteRequest(SOL, USDC, 3 * 10**9))
        usdc = await _holding(setup, USDC)
        recorded, _ = await _settled(venue, setup, SwapTicket(str(uuid.uuid4()), quote, SOL, USDC, quote.amount_out))
        assert recorded == quote.amount_out == await _holding(setup, USDC) - usdc

        ray_usdc, middle = setup.pools["ray_usdc"], 777 * 10**6
        needs = await adapter.quote_exact_out(str(ray_usdc.address), RAY, USDC, middle)
        first = RouteLeg(adapter.name, str(ray_usdc.address), RAY, USDC, needs.amount_in, middle, middle,
                         mode=LegMode.EXACT_OUT)  # fmt: skip
        second_quote = await adapter.quote(QuoteRequest(USDC, SOL, middle))
        out = second_quote.amount_out
        second = RouteLeg(adapter.name, second_quote.pool, USDC, SOL, middle, out, out, hop=1)
        plan = RoutePlan((first, second), RAY, SOL, needs.amount_in, out, out)
        ray, usdc = await _holding(setup, RAY), await _holding(setup, USDC)
        ticket = SwapTicket(str(uuid.uuid4()), second_quote, RAY, SOL, out, plan)
        recorded, lamports = await _settled(venue, setup, ticket)
        assert recorded == out == await setup.rpc.balance(setup.wallet.pubkey()) - lamports + SIGNATURE_FEE
        assert ray - await _holding(setup, RAY) == needs.amount_in
        assert await _holding(setup, USDC) == usdc  # the intermediate USDC all went into leg two
        setup.checked["settlement: a swap and a two-leg hop"] = 3
    finally:
        clock.cancel()
        await venue.aclose()
        await adapter.aclose()


async def test_a_swap_transaction_uses_few_compute_units(setup: Setup) -> None:
    """The engine's swap transactions, simulated, SOL wrapped or unwrapped, a few tick arrays walked."""
    adapter = _pair_adapter(setup)
    units = []
    try:
        for token_in, token_out, amount in ((SOL, USDC, 10**9), (USDC, SOL, 10**8), (RAY, USDC, 10**8),
                                            (SOL, USDC, 8 * 10**9)):  # fmt: skip
            quote = await adapter.quote(QuoteRequest(token_in, token_out, amount))
            ticket = SwapTicket("cu", quote, token_in, token_out, quote.amount_out)
            ixs = await adapter.swap_instructions(ticket, setup.wallet.pubkey())
            blockhash, _ = await setup.rpc.latest_blockhash()
            tx = Transaction([setup.wallet], Message(ixs, setup.wallet.pubkey()), blockhash)
            units.append(await setup.rpc.simulate(VersionedTransaction.from_legacy(tx)))
    finally:
        await adapter.aclose()
    print("\nCLMM swap transactions, compute units:", units)
    assert all(0 < u < 400_000 for u in units)
