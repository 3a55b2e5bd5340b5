"""The Whirlpool quotes against the real Whirlpool program, run inside the localnet: to the unit.

Needs a build of the program (v0.3.6, as ``whirlpool.so``) named by ``OEE_WHIRLPOOL_SO``; skipped without it. It is
never committed. The test builds its pools itself (the Whirlpool at its PDA, both vaults, and the tick arrays
holding the positions' ticks; no config, fee tier or oracle account, which a swap never reads) and swaps many
sizes each way, exact in and exact out, from dust to the end of the three tick arrays a swap may walk, comparing
what the program moved, and the pool's price, tick, liquidity and protocol fee after it, with the math. Sizes
the math refuses are sent too, and the program refuses them (or pays nothing). Then through the adapter's own
swaps, a pair watcher's snapshots and the engine's settlement. With ``-s`` the module prints how many cases
matched.

- ``sol_usdc``: SOL (A) / USDC (B), tick spacing 8, a 0.05% fee with 13% of it to the protocol; liquidity in
  layers over seven tick arrays, ticks on array starts and ends among them, one array on each side of the price
  holding no tick and so no account (the program walks it as empty).
- ``ray_usdc``: RAY (A) / USDC (B), tick spacing 64, a 0.3% fee with no protocol share, positions that end inside
  the walk so the liquidity runs out to none (the walk crosses empty stretches), and a tick at the price itself.
- ``usdc_usdt``: USDC (A) / USDT (B), tick spacing 1, a 0.01% fee with the protocol's 25%, a tick every few
  units around the price, so a swap crosses dozens of ticks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from solders.compute_budget import set_compute_unit_limit
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from solders.transaction_status import TransactionErrorType

from adapters.dexes.orca_whirlpool import SLIPPAGE, OrcaWhirlpoolAdapter
from adapters.dexes.orca_whirlpool.config import AMOUNT_IN_ABOVE_MAXIMUM, AMOUNT_OUT_BELOW_MINIMUM
from adapters.dexes.orca_whirlpool.instructions import swap_pool, tick_array_address
from adapters.dexes.orca_whirlpool.layouts import TickArray, Whirlpool, decode_tick_array, decode_whirlpool
from adapters.dexes.orca_whirlpool.math import (
    MAX_TICK_INDEX,
    MIN_TICK_INDEX,
    SwapResult,
    quote_exact_in,
    quote_exact_out,
    sqrt_price_from_tick_index,
    swap,
    tick_array_starts,
    tick_index_from_sqrt_price,
    ticks_in_array,
)
from adapters.dexes.orca_whirlpool.watch import OrcaWhirlpoolWatcher
from adapters.settlement import ChainRpc, SolanaSettlement
from adapters.solana.accounts import decode_token_account, encode_token_account
from adapters.solana.errors import custom_error, failure_of
from adapters.solana.spl import NATIVE_MINT, TOKEN_ACCOUNT_RENT, TOKEN_PROGRAM_ID, associated_token_address
from kernel.errors import InsufficientLiquidity, RejectedError
from kernel.money import U64_MAX
from kernel.routes import LegMode, RouteLeg, RoutePlan
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry
from kernel.venues import QuoteRequest, SwapTicket, TxState
from localnet import running_localnet
from tests.adapters.contract.accounts import AccountFiles
from tests.adapters.contract.orca_whirlpool import (
    PROGRAM_ID,
    RAY,
    SOL,
    USDC,
    LocalWhirlpool,
    Position,
    book_with,
    build_whirlpool,
    chain_config,
    sqrt_price_of,
)
from tests.adapters.settlement.helpers import landed
from tests.support import json_rpc

SO = os.environ.get("OEE_WHIRLPOOL_SO")
pytestmark = pytest.mark.skipif(not SO, reason="OEE_WHIRLPOOL_SO names no Orca Whirlpool build (whirlpool.so)")
TOKENS = TokenRegistry.for_network(Network.LOCALNET)
USDT = TOKENS.by_mint("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB")
WRAPPED_SOL = 50_000 * 10**9  # in the wallet's own wSOL account, which every swap here spends and fills
# Fractions of what one direction can take (to the end of its three tick arrays), from dust to nearly all of it.
FRACTIONS = [10.0 ** (k / 4 - 10) for k in range(40)] + [0.5, 0.7, 0.9, 0.99, 0.999, 0.9999]
ODD = [1, 2, 3, 7, 10, 399, 400, 401, 123_457]
TICK_ARRAY_SEQUENCE_INVALID_INDEX = 6038
PARTIAL_FILL = 6057
MAX_COMPUTE_UNITS = 1_400_000
SIGNATURE_FEE = 5000


@dataclass
class Setup:
    url: str
    rpc: ChainRpc
    wallet: Keypair
    pools: dict[str, tuple[LocalWhirlpool, Token, Token]]
    checked: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    crossed: dict[str, int] = field(default_factory=dict)


def _layers(price: float, token_a: Token, token_b: Token, spacing: int) -> tuple[int, int]:
    tick = tick_index_from_sqrt_price(sqrt_price_of(price, token_a.decimals, token_b.decimals))
    width = ticks_in_array(spacing)
    return tick, tick // width * width


def _sol_usdc(files: AccountFiles) -> LocalWhirlpool:
    spacing = 8
    _, base = _layers(150.0, SOL, USDC, spacing)
    w = ticks_in_array(spacing)
    positions = [
        Position(base - 5 * w, base + 6 * w, 2 * 10**12),
        Position(base - 3 * w, base + 3 * w + 80 * spacing, 3 * 10**12),  # both ends two arrays from the price's
        Position(base + 10 * spacing, base + 30 * spacing, 5 * 10**12),
        Position(base + spacing, base + 3 * spacing, 2 * 10**12),
        Position(base - 2 * w - spacing, base - 2 * w + 87 * spacing, 10**12),  # an array's last tick
        Position(base + 2 * w, base + 2 * w + 40 * spacing, 4 * 10**12),  # an array's first tick
    ]
    return build_whirlpool(files, SOL, USDC, 150.0, positions, tick_spacing=spacing, fee_rate=500,
                           protocol_fee_rate=1300)  # fmt: skip


def _ray_usdc(files: AccountFiles) -> LocalWhirlpool:
    spacing = 64
    tick, base = _layers(2.5, RAY, USDC, spacing)
    at = tick // spacing * spacing
    w = ticks_in_array(spacing)
    positions = [
        Position(at, at + 20 * spacing, 8 * 10**11),  # starts at the price's own tick
        Position(base - w, base + w, 10**12),
        Position(base - 2 * w + 10 * spacing, base - w - 10 * spacing, 3 * 10**11),  # beyond a stretch of none
    ]
    return build_whirlpool(files, RAY, USDC, 2.5, positions, tick_spacing=spacing, fee_rate=3000,
                           protocol_fee_rate=0)  # fmt: skip


def _usdc_usdt(files: AccountFiles) -> LocalWhirlpool:
    tick, _ = _layers(1.0, USDC, USDT, 1)
    positions = [Position(tick - 300, tick + 300, 10**12)]
    positions += [Position(tick - k * 5, tick + k * 7, 10**11 + k * 10**9) for k in range(1, 40)]
    return build_whirlpool(files, USDC, USDT, 1.0, positions, tick_spacing=1, fee_rate=100, protocol_fee_rate=2500)


@pytest.fixture(scope="module")
async def setup() -> AsyncIterator[Setup]:
    assert SO
    assert bytes(Pubkey.from_string(USDC.mint)) < bytes(Pubkey.from_string(USDT.mint))
    wallet = Keypair()
    with tempfile.TemporaryDirectory(prefix="oee-whirlpool-program-") as folder:
        files = AccountFiles(Path(folder))
        pools = {"sol_usdc": (_sol_usdc(files), SOL, USDC), "ray_usdc": (_ray_usdc(files), RAY, USDC),
                 "usdc_usdt": (_usdc_usdt(files), USDC, USDT)}  # fmt: skip
        wsol = associated_token_address(wallet.pubkey(), NATIVE_MINT)
        data = encode_token_account(NATIVE_MINT, wallet.pubkey(), WRAPPED_SOL, native_reserve=TOKEN_ACCOUNT_RENT)
        files.write(wsol, TOKEN_PROGRAM_ID, data, TOKEN_ACCOUNT_RENT + WRAPPED_SOL)
        options = {
            "slot_ms": 0,
            "programs": [(str(PROGRAM_ID), Path(SO))],
            "accounts": files.accounts,
            "fund": [str(wallet.pubkey())],
            "fund_lamports": 1_000 * 10**9,
            "fund_tokens": {"USDC": "100000000", "RAY": "100000000", "USDT": "100000000"},
        }
        async with running_localnet(**options) as net:
            rpc = ChainRpc(chain_config(net.url))
            found = Setup(net.url, rpc, wallet, pools)
            yield found
            print(f"\nWhirlpool quote = payout: {sum(found.checked.values())} cases {found.checked}")
            print(f"refused or paying nothing, by both: {found.refused}")
            print(f"most initialized ticks one swap crossed: {found.crossed}")
            await rpc.aclose()


async def _send(s: Setup, ixs: list[Instruction]) -> TransactionErrorType | None:
    """Send once (no preflight) after the largest compute budget (a swap crossing dozens of ticks needs more
    than the default) and wait until processed; the transaction's error, if it failed (the swap is instruction
    1). A slot passes after each, so no two transactions share a blockhash."""
    blockhash, _ = await s.rpc.latest_blockhash()
    tx = Transaction([s.wallet], Message([set_compute_unit_limit(MAX_COMPUTE_UNITS), *ixs], s.wallet.pubkey()),
                     blockhash)  # fmt: skip
    signature = await s.rpc.send_raw(bytes(tx))
    for _ in range(3000):
        level, err = await s.rpc.signature_status(signature)
        if level is not None:
            await json_rpc(s.url, "localnet_advanceSlots", {"slots": 1})
            return err
        await asyncio.sleep(0.005)
    raise AssertionError("the swap did not land")


@dataclass(frozen=True)
class Seen:
    """The pool, the tick arrays a swap each way walks, and the wallet's two token accounts, read together."""

    pool: Whirlpool
    arrays: dict[int, TickArray]
    balance_a: int
    balance_b: int


def _account(s: Setup, token: Token) -> Pubkey:
    return associated_token_address(s.wallet.pubkey(), Pubkey.from_string(token.mint))


async def _read(s: Setup, name: str) -> Seen:
    local, a, b = s.pools[name]
    first = await s.rpc.multiple_accounts([local.address], "reading a Whirlpool")
    assert first[0] is not None
    state = decode_whirlpool(bytes(first[0].data))
    starts = sorted(set(tick_array_starts(state, a_to_b=True)) | set(tick_array_starts(state, a_to_b=False)))
    keys = [tick_array_address(PROGRAM_ID, local.address, start) for start in starts]
    found = await s.rpc.multiple_accounts([local.address, *keys, _account(s, a), _account(s, b)], "reading a pool")
    assert found[0] is not None and found[-1] is not None and found[-2] is not None
    arrays = {}
    for start, account in zip(starts, found[1:-2], strict=True):
        if account is not None and account.owner == PROGRAM_ID:
            arrays[start] = decode_tick_array(bytes(account.data))
    balances = [decode_token_account(bytes(x.data)).amount for x in found[-2:] if x is not None]
    return Seen(decode_whirlpool(bytes(found[0].data)), arrays, *balances)


def _swap(s: Setup, name: str, state: Whirlpool, a_to_b: bool, amount_in: int, amount_out: int,
          exact_out: bool = False) -> Instruction:  # fmt: skip
    local, a, b = s.pools[name]
    source, destination = (_account(s, a), _account(s, b)) if a_to_b else (_account(s, b), _account(s, a))
    return swap_pool(PROGRAM_ID, local.address, state, owner=s.wallet.pubkey(), input_token_account=source,
                     output_token_account=destination, amount_in=amount_in, minimum_amount_out=amount_out,
                     a_to_b=a_to_b, exact_out=exact_out)  # fmt: skip


def _walk_end(seen: Seen, a_to_b: bool) -> int:
    """The square-root price at the far end of the three tick arrays a swap from here may walk: the last array's
    first tick, or (B to A) its last, or its last usable tick where that is initialized (crossing it moves the
    walk on to a fourth array)."""
    state = seen.pool
    last = tick_array_starts(state, a_to_b=a_to_b)[-1]
    if a_to_b:
        return sqrt_price_from_tick_index(max(last, MIN_TICK_INDEX))
    end = last + ticks_in_array(state.tick_spacing) - 1
    if last in seen.arrays and seen.arrays[last].ticks[-1].initialized:
        end = last + (len(seen.arrays[last].ticks) - 1) * state.tick_spacing
    return sqrt_price_from_tick_index(min(end, MAX_TICK_INDEX))


def _capacity(seen: Seen, a_to_b: bool, output_side: bool) -> int:
    """What one direction can take (or pay, ``output_side``) before the walk runs out of tick arrays."""
    limit = _walk_end(seen, a_to_b)
    whole = swap(seen.pool, seen.arrays, U64_MAX, a_to_b=a_to_b, amount_is_input=True, sqrt_price_limit=limit)
    return whole.amount_out if output_side else whole.amount_in


def _sizes(capacity: int) -> list[int]:
    return sorted({max(1, int(capacity * f)) for f in FRACTIONS} | set(ODD) | {capacity * 6 // 5})


def _check_state(after: Whirlpool, before: Whirlpool, result: SwapResult) -> None:
    """The pool's price, tick, liquidity and protocol fee after the swap, as the math walked them."""
    assert (after.sqrt_price, after.tick_current_index, after.liquidity) == (
        result.next_sqrt_price, result.next_tick_index, result.next_liquidity)  # fmt: skip
    owed_after = after.protocol_fee_owed_a if result.a_to_b else after.protocol_fee_owed_b
    owed_before = before.protocol_fee_owed_a if result.a_to_b else before.protocol_fee_owed_b
    assert owed_after - owed_before == result.protocol_fee
    growth = after.fee_growth_global_a if result.a_to_b else after.fee_growth_global_b
    assert growth == result.next_fee_growth_global


def _moved(seen: Seen, after: Seen, a_to_b: bool) -> tuple[int, int]:
    """What left the wallet and what arrived."""
    if a_to_b:
        return seen.balance_a - after.balance_a, after.balance_b - seen.balance_b
    return seen.balance_b - after.balance_b, after.balance_a - seen.balance_a


async def _exact_in(s: Setup, name: str, a_to_b: bool, amount: int) -> str:
    """One exact-in swap: ``paid`` as quoted, ``nothing`` (quoted as buying nothing, and the program paid
    nothing) or ``beyond`` (refused by both as walking past the three tick arrays)."""
    seen = await _read(s, name)
    try:
        quote = quote_exact_in(seen.pool, seen.arrays, amount, a_to_b=a_to_b)
    except InsufficientLiquidity:
        err = await _send(s, [_swap(s, name, seen.pool, a_to_b, amount, 0)])
        assert custom_error(err) == (1, TICK_ARRAY_SEQUENCE_INVALID_INDEX), (name, a_to_b, amount, err)
        return "beyond"
    except RejectedError as exc:
        assert exc.code == "amount_too_small", exc
        assert await _send(s, [_swap(s, name, seen.pool, a_to_b, amount, 0)]) is None
        after = await _read(s, name)
        assert _moved(seen, after, a_to_b)[1] == 0
        return "nothing"
    result = swap(seen.pool, seen.arrays, amount, a_to_b=a_to_b, amount_is_input=True)
    assert await _send(s, [_swap(s, name, seen.pool, a_to_b, amount, quote.amount_out)]) is None, (a_to_b, amount)
    after = await _read(s, name)
    assert _moved(seen, after, a_to_b) == (amount, quote.amount_out), (name, a_to_b, amount, quote)
    _check_state(after.pool, seen.pool, result)
    s.crossed[name] = max(s.crossed.get(name, 0), result.ticks_crossed)
    return "paid"


async def _exact_out(s: Setup, name: str, a_to_b: bool, amount_out: int) -> str:
    """One exact-out swap with the quoted input as the maximum: the program takes exactly that."""
    seen = await _read(s, name)
    try:
        needs = quote_exact_out(seen.pool, seen.arrays, amount_out, a_to_b=a_to_b)
    except InsufficientLiquidity:
        err = await _send(s, [_swap(s, name, seen.pool, a_to_b, U64_MAX, amount_out, exact_out=True)])
        assert custom_error(err) is not None and custom_error(err)[1] in (  # type: ignore[index]
            TICK_ARRAY_SEQUENCE_INVALID_INDEX, PARTIAL_FILL), err  # fmt: skip
        return "beyond"
    result = swap(seen.pool, seen.arrays, amount_out, a_to_b=a_to_b, amount_is_input=False)
    err = await _send(s, [_swap(s, name, seen.pool, a_to_b, needs.amount_in, amount_out, exact_out=True)])
    assert err is None, (name, a_to_b, amount_out, err)
    after = await _read(s, name)
    assert _moved(seen, after, a_to_b) == (needs.amount_in, amount_out), (name, a_to_b, amount_out, needs)
    _check_state(after.pool, seen.pool, result)
    s.crossed[name] = max(s.crossed.get(name, 0), result.ticks_crossed)
    return "paid"


async def _both_ways(s: Setup, name: str, run: Callable[..., object], kind: str, output_side: bool) -> None:
    """Every size each way, alternating directions so the price returns near where it began."""
    seen = await _read(s, name)
    by_direction = {a_to_b: _sizes(_capacity(seen, a_to_b, output_side)) for a_to_b in (True, False)}
    outcomes: dict[str, int] = {}
    for forward, backward in itertools.zip_longest(by_direction[True], by_direction[False]):
        for a_to_b, amount in ((True, forward), (False, backward)):
            if amount is None:
                continue
            result = await run(s, name, a_to_b, amount)  # type: ignore[misc]
            label = f"{kind} {name} {'A->B' if a_to_b else 'B->A'} {result}"
            outcomes[label] = outcomes.get(label, 0) + 1
    for label, count in outcomes.items():
        if label.endswith("paid"):
            s.checked[label.removesuffix(" paid")] = count
            assert count >= 40, (label, count)
        else:
            s.refused[label] = count


@pytest.mark.parametrize("name", ["sol_usdc", "ray_usdc", "usdc_usdt"])
async def test_exact_in_pays_exactly_the_quote(setup: Setup, name: str) -> None:
    await _both_ways(setup, name, _exact_in, "exact in", output_side=False)


@pytest.mark.parametrize("name", ["sol_usdc", "ray_usdc", "usdc_usdt"])
async def test_exact_out_takes_exactly_the_quoted_input(setup: Setup, name: str) -> None:
    await _both_ways(setup, name, _exact_out, "exact out", output_side=True)


async def test_the_swaps_crossed_ticks_and_arrays(setup: Setup) -> None:
    assert setup.crossed["usdc_usdt"] >= 20
    assert all(setup.crossed[name] >= 3 for name in ("sol_usdc", "ray_usdc")), setup.crossed


async def test_one_unit_beyond_the_quote_fails_with_the_slippage_errors(setup: Setup) -> None:
    for name in ("sol_usdc", "ray_usdc"):
        seen = await _read(setup, name)
        for a_to_b in (True, False):
            amount = _capacity(seen, a_to_b, False) // 3
            quote = quote_exact_in(seen.pool, seen.arrays, amount, a_to_b=a_to_b)
            err = await _send(setup, [_swap(setup, name, seen.pool, a_to_b, amount, quote.amount_out + 1)])
            assert custom_error(err) == (1, AMOUNT_OUT_BELOW_MINIMUM)
            out = _capacity(seen, a_to_b, True) // 3
            needs = quote_exact_out(seen.pool, seen.arrays, out, a_to_b=a_to_b)
            err = await _send(setup, [_swap(setup, name, seen.pool, a_to_b, needs.amount_in - 1, out, exact_out=True)])
            assert custom_error(err) == (1, AMOUNT_IN_ABOVE_MAXIMUM)
            assert (await _read(setup, name)).pool == seen.pool  # the failed swaps changed nothing
            setup.checked[f"slippage {name} {'A->B' if a_to_b else 'B->A'}"] = 2


# --- through the adapter ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def adapter(setup: Setup) -> AsyncIterator[OrcaWhirlpoolAdapter]:
    book = book_with([local for local, _, _ in setup.pools.values()])
    built = OrcaWhirlpoolAdapter(ChainRpc(chain_config(setup.url)), book, TOKENS)
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


@pytest.mark.parametrize("name", ["sol_usdc", "ray_usdc", "usdc_usdt"])
async def test_the_adapter_quotes_what_its_swaps_pay(setup: Setup, adapter: OrcaWhirlpoolAdapter, name: str) -> None:
    """The engine's own path: ``quote`` then ``swap_instructions`` (SOL wrapped in a fresh account)."""
    local, a, b = setup.pools[name]
    paid = 0
    for token_in, token_out, a_to_b in ((a, b, True), (b, a, False)):
        seen = await _read(setup, name)
        capacity = _capacity(seen, a_to_b, False)
        for fraction in (1e-6, 1e-4, 1e-3, 0.01, 0.1, 0.5):
            amount = max(1, int(capacity * fraction))
            quote = await adapter.quote(QuoteRequest(token_in, token_out, amount))
            assert quote.pool == str(local.address)
            ixs = await adapter.swap_instructions(
                SwapTicket(str(uuid.uuid4()), quote, token_in, token_out, quote.amount_out), setup.wallet.pubkey()
            )
            before = await _holding(setup, token_out)
            assert await _send(setup, ixs) is None, (name, token_in.symbol, amount)
            got = await _holding(setup, token_out) - before + (SIGNATURE_FEE if token_out.native else 0)
            assert got == quote.amount_out, (name, token_in.symbol, amount)
            paid += 1
    setup.checked[f"adapter exact in {name}"] = paid


async def test_the_adapters_exact_out_quote_is_what_the_program_takes(
    setup: Setup, adapter: OrcaWhirlpoolAdapter
) -> None:
    local, ray, usdc = setup.pools["ray_usdc"]
    for token_in, token_out, amount_out in ((ray, usdc, 777 * 10**6), (usdc, ray, 321 * 10**6)):
        needs = await adapter.quote_exact_out(str(local.address), token_in, token_out, amount_out)
        seen = await _read(setup, "ray_usdc")
        ix = _swap(setup, "ray_usdc", seen.pool, needs.a_to_b, needs.amount_in, amount_out, exact_out=True)
        assert await _send(setup, [ix]) is None
        assert _moved(seen, await _read(setup, "ray_usdc"), needs.a_to_b) == (needs.amount_in, amount_out)
    setup.checked["adapter exact out ray_usdc"] = 2


async def test_a_landed_slippage_failure_reads_as_slippage(setup: Setup, adapter: OrcaWhirlpoolAdapter) -> None:
    quote = await adapter.quote(QuoteRequest(RAY, USDC, 10**6))
    ixs = await adapter.swap_instructions(SwapTicket("s", quote, RAY, USDC, quote.amount_out), setup.wallet.pubkey())
    index = next(i for i, ix in enumerate(ixs) if ix.program_id == PROGRAM_ID)
    swap_ix = ixs[index]
    ixs[index] = Instruction(swap_ix.program_id, swap_ix.data[:16] + (quote.amount_out + 1).to_bytes(8, "little")
                             + swap_ix.data[24:], swap_ix.accounts)  # fmt: skip
    err = await _send(setup, ixs)
    assert custom_error(err) == (index + 1, AMOUNT_OUT_BELOW_MINIMUM)
    programs: list[Pubkey | None] = [None, *(ix.program_id for ix in ixs)]
    assert err is not None and failure_of(err, programs, [SLIPPAGE])[0] == "slippage_exceeded"


async def test_a_watchers_snapshot_quotes_what_the_program_pays(setup: Setup, adapter: OrcaWhirlpoolAdapter) -> None:
    """A waiting order's path: the pair watcher's snapshot prices with no I/O, as the adapter does, and a swap of
    its quote is paid that quote."""
    watcher = OrcaWhirlpoolWatcher(adapter)
    try:
        for name in ("ray_usdc", "usdc_usdt"):
            local, a, b = setup.pools[name]
            for token_in, token_out in ((a, b), (b, a)):
                snapshot = await watcher.snapshot(token_in, token_out)
                assert snapshot.pool == str(local.address) and snapshot.opens is None
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


async def test_the_settlement_lands_a_swap_and_a_hop_each_paid_as_quoted(
    setup: Setup, adapter: OrcaWhirlpoolAdapter
) -> None:
    """The engine's settlement (compute budget simulated, memo, fresh wSOL account) over Whirlpools: one swap, then
    RAY -> USDC -> SOL with the first leg exact out for exactly what the second spends."""
    config = chain_config(setup.url, compute_unit_price=0, confirm_poll_ms=20)
    venue = SolanaSettlement(config, ChainRpc(config), setup.wallet, swaps={adapter.name: adapter})
    clock = asyncio.create_task(_tick(setup))  # the settlement waits for confirmations: slots must pass
    try:
        quote = await adapter.quote(QuoteRequest(SOL, USDC, 3 * 10**9))
        usdc = await _holding(setup, USDC)
        recorded, _ = await _settled(venue, setup, SwapTicket(str(uuid.uuid4()), quote, SOL, USDC, quote.amount_out))
        assert recorded == quote.amount_out == await _holding(setup, USDC) - usdc

        ray_usdc, middle = setup.pools["ray_usdc"][0], 777 * 10**6
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
