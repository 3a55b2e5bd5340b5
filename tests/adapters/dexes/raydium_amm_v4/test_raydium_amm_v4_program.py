"""The adapter's quotes against the real Raydium AMM v4 program, run inside the localnet: to the unit.

Needs a build of raydium-amm (mainnet, legacy v4) named by ``OEE_AMM_V4_SO``; skipped without it. It is
never committed. The test builds its pools itself (AmmInfo, both vaults; no OpenBook market: the pools swap
without it) and swaps many sizes each way, exact in through the engine's own path (``swap_instructions``,
SOL wrapped in a fresh account) and exact out through ``leg_instructions`` with the quoted input as the
maximum, comparing what the program moved (and the swap fee it counted in the pool) with the adapter's quote.
A size the adapter refuses as buying or costing nothing is sent anyway, with no limit, and the program must
refuse it too. With ``-s`` the module prints how many cases matched.

- SOL (coin) / USDC (pc), status 6 (SwapOnly), PnL owed in both vaults, the default fee 25/10000.
- USDC (coin) / RAY (pc), status 7 (WaitingTrade) with its open time past, a swap fee of 30/10000 unlike its
  trade fee (25/10000): the swap charges the swap fee.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_status import TransactionErrorType

from adapters.dexes.raydium_amm_v4 import SLIPPAGE, RaydiumAmmV4Adapter
from adapters.dexes.raydium_amm_v4.config import CHECKED_BUILD, EXCEEDED_SLIPPAGE
from adapters.dexes.raydium_amm_v4.instructions import swap_pool
from adapters.dexes.raydium_amm_v4.layouts import AmmStatus, Fees
from adapters.dexes.raydium_amm_v4.math import check_swappable
from adapters.settlement import ChainRpc, SolanaSettlement
from adapters.solana.accounts import encode_token_account
from adapters.solana.errors import custom_error, failure_of
from adapters.solana.spl import NATIVE_MINT, TOKEN_ACCOUNT_RENT, TOKEN_PROGRAM_ID, associated_token_address
from kernel.errors import PoolNotTradable, RejectedError
from kernel.money import U64_MAX
from kernel.routes import LegMode, RouteLeg, RoutePlan
from kernel.tokens import Token
from kernel.venues import QuoteRequest, SwapTicket, TxState
from localnet import running_localnet
from tests.adapters.contract.accounts import AccountFiles
from tests.adapters.contract.raydium_amm_v4 import (
    PROGRAM_ID,
    SOL,
    TOKENS,
    USDC,
    LocalPool,
    book_with,
    build_pool,
    build_sol_usdc_pool,
    chain_config,
    placeholder,
)
from tests.adapters.settlement.helpers import landed

SO = os.environ.get("OEE_AMM_V4_SO")
pytestmark = pytest.mark.skipif(not SO, reason="OEE_AMM_V4_SO names no Raydium AMM v4 build (raydium_amm_legacy_v4.so)")
RAY = TOKENS.by_mint("4k3Dyjzvzp8eMZWUXbBCjEvwSkkk59S5iCNLY3QrkX6R")
SIGNATURE_FEE = 5000
WRAPPED_SOL = 50_000 * 10**9  # in the wallet's own wSOL account, which the exact-out legs spend and fill
# Fractions of the input reserve each direction is swapped at, from dust to a fifth of the pool.
FRACTIONS = [10.0 ** (k / 4 - 10) for k in range(37)] + [0.2]
# Sizes where the fee's rounding shows (at 25/10000: 199 units pay no fee on the builds before August 2025,
# 200 pay one), and odd ones.
ODD = [1, 2, 7, 150, 199, 200, 201, 399, 400, 401, 123_457, 98_765_431]


@dataclass
class Setup:
    url: str
    adapter: RaydiumAmmV4Adapter
    rpc: ChainRpc
    wallet: Keypair
    sol_usdc: LocalPool
    usdc_ray: LocalPool
    order_book: LocalPool
    checked: dict[str, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def setup() -> AsyncIterator[Setup]:
    assert SO
    wallet = Keypair()
    with tempfile.TemporaryDirectory(prefix="oee-amm-v4-program-") as folder:
        files = AccountFiles(Path(folder))
        sol_usdc = build_sol_usdc_pool(files)
        usdc_ray = build_pool(
            files, USDC, 400_000 * 10**6, RAY, 250_000 * 10**6, status=AmmStatus.WAITING_TRADE, pool_open_time=1,
            need_take_pnl=(3_000_000, 0), fees=Fees(swap_fee_numerator=30, swap_fee_denominator=10_000),
        )  # fmt: skip
        order_book = build_pool(
            files, SOL, 10**12, USDC, 10**11, address=placeholder(b"order book"), status=AmmStatus.INITIALIZED
        )
        wsol = associated_token_address(wallet.pubkey(), NATIVE_MINT)
        data = encode_token_account(NATIVE_MINT, wallet.pubkey(), WRAPPED_SOL, native_reserve=TOKEN_ACCOUNT_RENT)
        files.write(wsol, TOKEN_PROGRAM_ID, data, TOKEN_ACCOUNT_RENT + WRAPPED_SOL)
        options = {
            "slot_ms": 10,
            "finality_depth": 2,
            "programs": [(str(PROGRAM_ID), Path(SO))],
            "accounts": files.accounts,
            "fund": [str(wallet.pubkey())],
            "fund_lamports": 100_000 * 10**9,
            "fund_tokens": {"USDC": "10000000", "RAY": "10000000"},
        }
        async with running_localnet(**options) as net:
            rpc = ChainRpc(chain_config(net.url))
            adapter = RaydiumAmmV4Adapter(ChainRpc(chain_config(net.url)), book_with([sol_usdc, usdc_ray]), TOKENS)
            assert adapter.config.build == CHECKED_BUILD  # the build this binary is
            found = Setup(net.url, adapter, rpc, wallet, sol_usdc, usdc_ray, order_book)
            yield found
            equal = {k: v for k, v in found.checked.items() if not k.startswith("refused")}
            refused = sum(v for k, v in found.checked.items() if k.startswith("refused"))
            print(f"\nAMM v4 quote = payout: {sum(equal.values())} cases {equal}; refused by both: {refused}")
            await adapter.aclose()
            await rpc.aclose()


async def _send(s: Setup, ixs: list[Instruction]) -> TransactionErrorType | None:
    """Send once (no preflight) and wait until confirmed; the transaction's error, if it failed."""
    blockhash, _ = await s.rpc.latest_blockhash()
    tx = Transaction([s.wallet], Message(ixs, s.wallet.pubkey()), blockhash)
    signature = await s.rpc.send_raw(bytes(tx))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        level, err = await s.rpc.signature_status(signature)
        if level in ("confirmed", "finalized"):
            return err
        assert loop.time() < deadline, "the swap did not land"
        await asyncio.sleep(0.005)


async def _token_balance(s: Setup, token: Token) -> int:
    """The wallet's associated token account of ``token`` (its wSOL account for SOL), in raw units."""
    account = associated_token_address(s.wallet.pubkey(), Pubkey.from_string(token.mint))
    return int((await s.rpc._client.get_token_account_balance(account)).value.amount)


async def _holding(s: Setup, token: Token) -> int:
    """What an exact-in swap pays into: lamports for SOL (its fresh wSOL account closes to the wallet)."""
    if token.native:
        return await s.rpc.balance(s.wallet.pubkey())
    return await _token_balance(s, token)


async def _accrued_fee(s: Setup, pool: LocalPool, token_in: Token) -> int:
    """The swap fees the pool has counted in ``token_in`` (``swap_acc_coin_fee`` or ``swap_acc_pc_fee``)."""
    state = (await s.adapter.client.pool_states([pool.address]))[pool.address]
    assert state is not None
    coin = str(state.coin_vault_mint) == token_in.mint
    return state.state_data.swap_acc_coin_fee if coin else state.state_data.swap_acc_pc_fee


def _sizes(reserve_in: int) -> list[int]:
    return sorted({max(1, int(reserve_in * f)) for f in FRACTIONS} | set(ODD))


def _reserve(pool: LocalPool, token: Token) -> int:
    coin = str(pool.state.coin_vault_mint) == token.mint
    return pool.coin_vault_amount if coin else pool.pc_vault_amount


async def _exact_in(s: Setup, pool: LocalPool, token_in: Token, token_out: Token) -> tuple[int, int]:
    """Every size of ``token_in`` swapped exactly in: ``(paid as quoted, refused by both)``."""
    equal = refused = 0
    for amount in _sizes(_reserve(pool, token_in)):
        try:
            quote = await s.adapter.quote(QuoteRequest(token_in, token_out, amount))
        except RejectedError as exc:
            assert exc.code == "amount_too_small", (token_in.symbol, amount, exc)
            refused += await _refused_by_program(s, pool, token_in, token_out, amount)
            continue
        assert quote.pool == str(pool.address)
        ixs = await s.adapter.swap_instructions(
            SwapTicket("exact-in", quote, token_in, token_out, quote.amount_out), s.wallet.pubkey()
        )
        before, fees_before = await _holding(s, token_out), await _accrued_fee(s, pool, token_in)
        assert await _send(s, ixs) is None, (token_in.symbol, amount)
        paid = await _holding(s, token_out) - before + (SIGNATURE_FEE if token_out.native else 0)
        assert paid == quote.amount_out, (token_in.symbol, token_out.symbol, amount, paid, quote.amount_out)
        assert await _accrued_fee(s, pool, token_in) - fees_before == quote.fee  # the fee the program charged
        equal += 1
    return equal, refused


async def _refused_by_program(
    s: Setup, pool: LocalPool, token_in: Token, token_out: Token, amount: int, *, exact_out: bool = False
) -> int:
    """Send a swap the adapter refused as buying (or costing) nothing, with no limit: the program must refuse it
    too. ``amount`` is the input, or with ``exact_out`` the output."""
    state = (await s.adapter.client.pool_states([pool.address]))[pool.address]
    assert state is not None
    source = associated_token_address(s.wallet.pubkey(), Pubkey.from_string(token_in.mint))
    destination = associated_token_address(s.wallet.pubkey(), Pubkey.from_string(token_out.mint))
    limits = (U64_MAX, amount) if exact_out else (amount, 0)
    ix = swap_pool(
        PROGRAM_ID, pool.address, state, owner=s.wallet.pubkey(), user_source=source, user_destination=destination,
        amount_in=limits[0], minimum_amount_out=limits[1], exact_out=exact_out,
    )  # fmt: skip
    assert await _send(s, [ix]) is not None, (token_in.symbol, amount)
    return 1


async def _exact_out(s: Setup, pool: LocalPool, token_in: Token, token_out: Token) -> tuple[int, int]:
    """Every size of ``token_out`` bought exactly, the quoted input as the maximum: the program must take
    exactly that input. ``(taken as quoted, refused by both)``."""
    equal = refused = 0
    for amount_out in _sizes(_reserve(pool, token_out)):
        try:
            needs = await s.adapter.quote_exact_out(str(pool.address), token_in, token_out, amount_out)
        except RejectedError as exc:
            assert exc.code == "amount_too_small", (token_out.symbol, amount_out, exc)
            refused += await _refused_by_program(s, pool, token_in, token_out, amount_out, exact_out=True)
            continue
        leg = RouteLeg(
            s.adapter.name, str(pool.address), token_in, token_out, needs.amount_in, amount_out, amount_out,
            mode=LegMode.EXACT_OUT,
        )  # fmt: skip
        ixs = await s.adapter.leg_instructions(leg, s.wallet.pubkey())
        spent_before, got_before = await _token_balance(s, token_in), await _token_balance(s, token_out)
        assert await _send(s, ixs) is None, (token_out.symbol, amount_out, needs)
        spent = spent_before - await _token_balance(s, token_in)
        got = await _token_balance(s, token_out) - got_before
        assert (spent, got) == (needs.amount_in, amount_out), (token_in.symbol, token_out.symbol, amount_out)
        equal += 1
    return equal, refused


@pytest.mark.parametrize(("pool_name", "forward"), [("sol_usdc", True), ("sol_usdc", False), ("usdc_ray", True),
                                                    ("usdc_ray", False)])  # fmt: skip
async def test_exact_in_pays_exactly_the_quote(setup: Setup, pool_name: str, forward: bool) -> None:
    pool: LocalPool = getattr(setup, pool_name)
    coin, pc = TOKENS.by_mint(str(pool.state.coin_vault_mint)), TOKENS.by_mint(str(pool.state.pc_vault_mint))
    token_in, token_out = (coin, pc) if forward else (pc, coin)
    equal, refused = await _exact_in(setup, pool, token_in, token_out)
    setup.checked[f"exact in {token_in.symbol}->{token_out.symbol}"] = equal
    assert equal >= 40
    if refused:
        setup.checked[f"refused by both, {token_in.symbol}->{token_out.symbol}"] = refused


@pytest.mark.parametrize(("pool_name", "forward"), [("sol_usdc", True), ("sol_usdc", False), ("usdc_ray", True),
                                                    ("usdc_ray", False)])  # fmt: skip
async def test_exact_out_takes_exactly_the_quoted_input(setup: Setup, pool_name: str, forward: bool) -> None:
    pool: LocalPool = getattr(setup, pool_name)
    coin, pc = TOKENS.by_mint(str(pool.state.coin_vault_mint)), TOKENS.by_mint(str(pool.state.pc_vault_mint))
    token_in, token_out = (coin, pc) if forward else (pc, coin)
    equal, refused = await _exact_out(setup, pool, token_in, token_out)
    setup.checked[f"exact out {token_in.symbol}->{token_out.symbol}"] = equal
    assert equal >= 40
    if refused:
        setup.checked[f"refused by both, exact out {token_in.symbol}->{token_out.symbol}"] = refused


async def test_the_waiting_pool_became_swap_only(setup: Setup) -> None:
    state = (await setup.adapter.client.pool_states([setup.usdc_ray.address]))[setup.usdc_ray.address]
    assert state is not None and state.status == AmmStatus.SWAP_ONLY


async def test_one_unit_beyond_the_quote_fails_with_30(setup: Setup) -> None:
    quote = await setup.adapter.quote(QuoteRequest(USDC, SOL, 1_000 * 10**6))
    ixs = await setup.adapter.swap_instructions(
        SwapTicket("too-greedy", quote, USDC, SOL, quote.amount_out), setup.wallet.pubkey()
    )
    index = next(i for i, ix in enumerate(ixs) if ix.program_id == PROGRAM_ID)
    swap = ixs[index]
    ixs[index] = Instruction(
        swap.program_id, swap.data[:9] + (quote.amount_out + 1).to_bytes(8, "little"), swap.accounts
    )
    assert custom_error(await _send(setup, ixs)) == (index, EXCEEDED_SLIPPAGE)

    pool = setup.sol_usdc
    needs = await setup.adapter.quote_exact_out(str(pool.address), SOL, USDC, 500 * 10**6)
    leg = RouteLeg(setup.adapter.name, str(pool.address), SOL, USDC, needs.amount_in, 500 * 10**6, 500 * 10**6,
                   mode=LegMode.EXACT_OUT)  # fmt: skip
    ixs = await setup.adapter.leg_instructions(leg, setup.wallet.pubkey())
    index = next(i for i, ix in enumerate(ixs) if ix.program_id == PROGRAM_ID)
    swap = ixs[index]
    short = (needs.amount_in - 1).to_bytes(8, "little")
    ixs[index] = Instruction(swap.program_id, swap.data[:1] + short + swap.data[9:], swap.accounts)
    assert custom_error(await _send(setup, ixs)) == (index, EXCEEDED_SLIPPAGE)


async def test_an_eighteenth_account_for_target_orders_is_read_by_no_swap(setup: Setup) -> None:
    """The 18-account form puts the pool's target orders after its open orders; any key will do there."""
    pool = setup.usdc_ray
    quote = await setup.adapter.quote(QuoteRequest(RAY, USDC, 10**6))
    ixs = await setup.adapter.swap_instructions(
        SwapTicket("18", quote, RAY, USDC, quote.amount_out), setup.wallet.pubkey()
    )
    index = next(i for i, ix in enumerate(ixs) if ix.program_id == PROGRAM_ID)
    swap = ixs[index]
    accounts = list(swap.accounts)
    accounts.insert(4, AccountMeta(Keypair().pubkey(), is_signer=False, is_writable=False))
    ixs[index] = Instruction(swap.program_id, swap.data, accounts)
    before = await _token_balance(setup, USDC)
    assert await _send(setup, ixs) is None
    assert await _token_balance(setup, USDC) - before == quote.amount_out
    assert str(pool.address) == quote.pool


async def test_a_landed_slippage_failure_reads_as_slippage(setup: Setup) -> None:
    quote = await setup.adapter.quote(QuoteRequest(RAY, USDC, 10**6))
    ixs = await setup.adapter.swap_instructions(
        SwapTicket("s", quote, RAY, USDC, quote.amount_out), setup.wallet.pubkey()
    )
    index = next(i for i, ix in enumerate(ixs) if ix.program_id == PROGRAM_ID)
    swap = ixs[index]
    ixs[index] = Instruction(
        swap.program_id, swap.data[:9] + (quote.amount_out + 1).to_bytes(8, "little"), swap.accounts
    )
    err = await _send(setup, ixs)
    assert err is not None
    programs: list[Pubkey | None] = [ix.program_id for ix in ixs]
    assert failure_of(err, programs, [SLIPPAGE])[0] == "slippage_exceeded"


async def test_a_pool_in_status_1_needs_its_order_book_on_this_build(setup: Setup) -> None:
    """Why the adapter leaves status 1 alone here: this build reads the OpenBook market such a pool names."""
    pool = setup.order_book
    source = associated_token_address(setup.wallet.pubkey(), Pubkey.from_string(USDC.mint))
    destination = associated_token_address(setup.wallet.pubkey(), NATIVE_MINT)
    ix = swap_pool(
        PROGRAM_ID, pool.address, pool.state, owner=setup.wallet.pubkey(), user_source=source,
        user_destination=destination, amount_in=10**6, minimum_amount_out=0,
    )  # fmt: skip
    assert await _send(setup, [ix]) is not None  # the market holds no account: reading it fails
    with pytest.raises(PoolNotTradable, match="OpenBook"):  # and the adapter refuses it before sending
        check_swappable(pool.state, now=0, build=setup.adapter.config.build)


async def _settled(venue: SolanaSettlement, s: Setup, ticket: SwapTicket) -> tuple[int, int]:
    """Prepare, send and wait for ``ticket``: the output the settlement recorded, and the wallet's lamports once
    prepared (a lookup table the plan needs is made, and paid for, while preparing)."""
    tx = await venue.prepare(ticket)
    lamports = await s.rpc.balance(s.wallet.pubkey())
    await venue.send(tx)
    status = await landed(venue, tx)
    assert status.state is TxState.LANDED and status.amount_out is not None, status
    return status.amount_out, lamports


async def test_the_settlement_lands_a_swap_and_a_hop_each_paid_as_quoted(setup: Setup) -> None:
    """The engine's own settlement (compute budget simulated, memo, fresh wSOL account) over AMM v4: one swap,
    then RAY -> USDC -> SOL with the first leg exact out for exactly what the second spends."""
    config = chain_config(setup.url, compute_unit_price=0, confirm_poll_ms=20)
    venue = SolanaSettlement(config, ChainRpc(config), setup.wallet, swaps={setup.adapter.name: setup.adapter})
    try:
        quote = await setup.adapter.quote(QuoteRequest(SOL, USDC, 3 * 10**9))
        usdc = await _token_balance(setup, USDC)
        recorded, _ = await _settled(venue, setup, SwapTicket(str(uuid.uuid4()), quote, SOL, USDC, quote.amount_out))
        assert recorded == quote.amount_out == await _token_balance(setup, USDC) - usdc

        middle = 777 * 10**6
        needs = await setup.adapter.quote_exact_out(str(setup.usdc_ray.address), RAY, USDC, middle)
        first = RouteLeg(setup.adapter.name, str(setup.usdc_ray.address), RAY, USDC, needs.amount_in, middle, middle,
                         mode=LegMode.EXACT_OUT)  # fmt: skip
        second_quote = await setup.adapter.quote(QuoteRequest(USDC, SOL, middle))
        out = second_quote.amount_out
        second = RouteLeg(setup.adapter.name, second_quote.pool, USDC, SOL, middle, out, out, hop=1)
        plan = RoutePlan((first, second), RAY, SOL, needs.amount_in, out, out)
        ray, usdc = await _token_balance(setup, RAY), await _token_balance(setup, USDC)
        ticket = SwapTicket(str(uuid.uuid4()), second_quote, RAY, SOL, out, plan)
        recorded, lamports = await _settled(venue, setup, ticket)
        assert recorded == out == await setup.rpc.balance(setup.wallet.pubkey()) - lamports + SIGNATURE_FEE
        assert ray - await _token_balance(setup, RAY) == needs.amount_in
        assert await _token_balance(setup, USDC) == usdc  # the intermediate USDC all went into leg two
    finally:
        await venue.aclose()


async def test_a_swap_transaction_uses_few_compute_units(setup: Setup) -> None:
    """The engine's swap transactions, simulated (about 35k to 47k units here, SOL wrapped or unwrapped)."""
    units = []
    for token_in, token_out, amount in ((SOL, USDC, 10**9), (USDC, SOL, 10**8), (RAY, USDC, 10**8)):
        quote = await setup.adapter.quote(QuoteRequest(token_in, token_out, amount))
        ixs = await setup.adapter.swap_instructions(
            SwapTicket("cu", quote, token_in, token_out, quote.amount_out), setup.wallet.pubkey()
        )
        blockhash, _ = await setup.rpc.latest_blockhash()
        tx = Transaction([setup.wallet], Message(ixs, setup.wallet.pubkey()), blockhash)
        units.append(await setup.rpc.simulate(VersionedTransaction.from_legacy(tx)))
    print("\nAMM v4 swap transactions, compute units:", units)
    assert all(0 < u < 100_000 for u in units)
