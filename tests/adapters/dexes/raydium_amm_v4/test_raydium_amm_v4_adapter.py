"""RaydiumAmmV4Adapter against a localnet holding pools built byte-exactly with the adapter's own encoders.

The quotes must equal :func:`quote_exact_in` on the same numbers. Pools are found by ``getProgramAccounts``
in either coin/pc order; pools that trade through their order book, and pools closed to swaps, are skipped by
discovery and refused when configured.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from adapters.dexes.raydium_amm_v4 import NO_ORDER_BOOK_BUILD, RaydiumAmmV4Adapter
from adapters.dexes.raydium_amm_v4.instructions import swap_pool
from adapters.dexes.raydium_amm_v4.layouts import AmmStatus
from adapters.dexes.raydium_amm_v4.math import quote_exact_in, quote_exact_out
from adapters.settlement import ChainRpc
from adapters.solana.spl import (
    NATIVE_MINT,
    TOKEN_PROGRAM_ID,
    associated_token_address,
    close_temporary_wsol,
    create_associated_token_account_idempotent,
    open_temporary_wsol,
    temporary_seed,
    temporary_wsol_address,
)
from kernel import money
from kernel.errors import FatalError, PoolNotTradable, RejectedError, SlippageExceeded, UnsupportedPair
from kernel.tokens import Token
from kernel.venues import DexAdapter, OnChainDex, Quote, QuoteRequest, SwapTicket
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
)

USDT, BONK, JUP = (TOKENS.by_mint(next(t.mint for t in TOKENS if t.symbol == s)) for s in ("USDT", "BONK", "JUP"))
OWNER = Keypair().pubkey()
SEED = temporary_seed("order-1")


@dataclass
class Net:
    url: str
    sol_usdc: LocalPool  # SOL the coin
    usdc_sol: LocalPool  # USDC the coin: a second SOL/USDC pool, sides the other way round
    order_book: LocalPool  # SOL/USDC in status 1: swaps through its OpenBook market
    waiting: LocalPool  # SOL/USDT in status 7, opening far ahead
    disabled: LocalPool  # SOL/BONK in status 2


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Net]:
    files = AccountFiles(Path(tmp_path_factory.mktemp("amm-v4")))
    pools = Net(
        url="",
        sol_usdc=build_sol_usdc_pool(files),
        usdc_sol=build_pool(files, USDC, 30_000 * 10**6, SOL, 200 * 10**9, need_take_pnl=(5, 6)),
        order_book=build_pool(
            files, SOL, 10**15, USDC, 10**15, address=Keypair().pubkey(), status=AmmStatus.INITIALIZED
        ),
        waiting=build_pool(files, SOL, 10**12, USDT, 10**11, status=AmmStatus.WAITING_TRADE, pool_open_time=2**40),
        disabled=build_pool(files, SOL, 10**12, BONK, 10**15, status=AmmStatus.DISABLED),
    )
    async with running_localnet(slot_ms=50, accounts=files.accounts) as handle:
        pools.url = handle.url
        yield pools


def _adapter(net: Net, pools: list[LocalPool]) -> RaydiumAmmV4Adapter:
    return RaydiumAmmV4Adapter(ChainRpc(chain_config(net.url)), book_with(pools), TOKENS)


@pytest.fixture
async def configured(net: Net) -> AsyncIterator[RaydiumAmmV4Adapter]:
    adapter = _adapter(net, [net.sol_usdc, net.order_book, net.waiting, net.disabled])
    yield adapter
    await adapter.aclose()


def _expected(pool: LocalPool, token_in: Token, token_out: Token, amount: int) -> Quote:
    forward = str(pool.state.coin_vault_mint) == token_in.mint
    q = quote_exact_in(pool.state, pool.coin_vault_amount, pool.pc_vault_amount, amount, coin_to_pc=forward, now=0)
    return Quote(
        "raydium_amm_v4", str(pool.address), amount, q.amount_out, q.swap_fee, token_in.mint,
        money.price(amount, token_in.decimals, q.amount_out, token_out.decimals), q.price_impact_pct,
    )  # fmt: skip


def _same(quote: Quote, expected: Quote) -> None:
    fields = ("dex", "pool", "amount_in", "amount_out", "fee", "fee_mint", "price", "price_impact_pct")
    assert [getattr(quote, f) for f in fields] == [getattr(expected, f) for f in fields]


def _ticket(quote: Quote, token_in: Token, token_out: Token, min_out: int) -> SwapTicket:
    return SwapTicket("order-1", quote, token_in, token_out, min_out)


async def test_is_an_on_chain_dex(configured: RaydiumAmmV4Adapter) -> None:
    assert isinstance(configured, DexAdapter) and isinstance(configured, OnChainDex)
    assert configured.name == "raydium_amm_v4"
    assert configured.program_id == PROGRAM_ID


@pytest.mark.parametrize(
    ("token_in", "token_out", "amount"),
    [(SOL, USDC, 10**9), (USDC, SOL, 150 * 10**6), (SOL, USDC, 37 * 10**9 + 123), (USDC, SOL, 7)],
    ids=["sol-usdc", "usdc-sol", "sol-usdc-big", "usdc-sol-tiny"],
)
async def test_quote_equals_the_math_on_the_same_numbers(
    net: Net, configured: RaydiumAmmV4Adapter, token_in: Token, token_out: Token, amount: int
) -> None:
    quote = await configured.quote(QuoteRequest(token_in, token_out, amount))
    _same(quote, _expected(net.sol_usdc, token_in, token_out, amount))


async def test_exact_out_equals_the_math(net: Net, configured: RaydiumAmmV4Adapter) -> None:
    pool = net.sol_usdc
    got = await configured.quote_exact_out(str(pool.address), SOL, USDC, 150 * 10**6)
    vaults = (pool.coin_vault_amount, pool.pc_vault_amount)
    assert got == quote_exact_out(pool.state, *vaults, 150 * 10**6, coin_to_pc=True, now=0)


async def test_pools_that_cannot_swap_here_are_refused(configured: RaydiumAmmV4Adapter) -> None:
    with pytest.raises(PoolNotTradable, match="opens at"):
        await configured.quote(QuoteRequest(SOL, USDT, 10**9))
    with pytest.raises(PoolNotTradable, match="disabled"):
        await configured.quote(QuoteRequest(BONK, SOL, 10**9))


async def test_a_configured_order_book_pool_is_refused(net: Net) -> None:
    adapter = _adapter(net, [net.order_book])
    try:
        with pytest.raises(PoolNotTradable, match="OpenBook"):
            await adapter.quote(QuoteRequest(SOL, USDC, 10**9))
    finally:
        await adapter.aclose()


async def test_an_amount_that_buys_nothing_is_rejected(configured: RaydiumAmmV4Adapter) -> None:
    with pytest.raises(RejectedError) as refused:
        await configured.quote(QuoteRequest(SOL, USDC, 6))
    assert refused.value.code == "amount_too_small"


async def test_discovers_both_coin_pc_orders_and_skips_the_order_book_pool(net: Net) -> None:
    adapter = _adapter(net, [])
    try:
        grids = await adapter.quote_pools(SOL, USDC, [10**9])
        assert {g.pool for g in grids} == {str(net.sol_usdc.address), str(net.usdc_sol.address)}
        quote = await adapter.quote(QuoteRequest(SOL, USDC, 10**9))
        best = max((_expected(p, SOL, USDC, 10**9) for p in (net.sol_usdc, net.usdc_sol)), key=lambda q: q.amount_out)
        _same(quote, best)
        back = await adapter.quote(QuoteRequest(USDC, SOL, 10**6))  # remembered for the reverse direction
        assert back.pool in {g.pool for g in grids}
        with pytest.raises(UnsupportedPair, match="USDT/JUP"):  # no pool anywhere
            await adapter.quote(QuoteRequest(USDT, JUP, 10**6))
        with pytest.raises(UnsupportedPair):  # a pool closed to swaps is not discovered
            await adapter.quote(QuoteRequest(BONK, SOL, 10**6))
    finally:
        await adapter.aclose()


async def test_a_configured_address_that_is_no_pool_is_fatal(net: Net) -> None:
    missing = LocalPool(Keypair().pubkey(), net.sol_usdc.state, 0, 0)
    adapter = _adapter(net, [missing])
    try:
        with pytest.raises(FatalError, match="no Raydium AMM v4 pool exists"):
            await adapter.quote(QuoteRequest(SOL, USDC, 10**9))
    finally:
        await adapter.aclose()


async def test_sol_in_wraps_swaps_and_unwraps(net: Net, configured: RaydiumAmmV4Adapter) -> None:
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    min_out = quote.min_amount_out(50)
    ixs = await configured.swap_instructions(_ticket(quote, SOL, USDC, min_out), OWNER)
    usdc = Pubkey.from_string(USDC.mint)
    swap = swap_pool(
        PROGRAM_ID, net.sol_usdc.address, net.sol_usdc.state, owner=OWNER,
        user_source=temporary_wsol_address(OWNER, SEED), user_destination=associated_token_address(OWNER, usdc),
        amount_in=10**9, minimum_amount_out=min_out,
    )  # fmt: skip
    assert ixs == [
        *open_temporary_wsol(OWNER, SEED, 10**9),
        create_associated_token_account_idempotent(OWNER, OWNER, usdc, TOKEN_PROGRAM_ID),
        swap,
        close_temporary_wsol(OWNER, SEED),
    ]
    assert associated_token_address(OWNER, NATIVE_MINT) not in {m.pubkey for ix in ixs for m in ix.accounts}
    assert bytes(swap.data) == bytes([9]) + (10**9).to_bytes(8, "little") + min_out.to_bytes(8, "little")


async def test_sol_out_creates_then_closes_the_wsol_account(net: Net, configured: RaydiumAmmV4Adapter) -> None:
    quote = await configured.quote(QuoteRequest(USDC, SOL, 150 * 10**6))
    ixs = await configured.swap_instructions(_ticket(quote, USDC, SOL, quote.amount_out), OWNER)
    swap = swap_pool(
        PROGRAM_ID, net.sol_usdc.address, net.sol_usdc.state, owner=OWNER,
        user_source=associated_token_address(OWNER, Pubkey.from_string(USDC.mint)),
        user_destination=temporary_wsol_address(OWNER, SEED), amount_in=150 * 10**6,
        minimum_amount_out=quote.amount_out,
    )  # fmt: skip
    assert ixs == [*open_temporary_wsol(OWNER, SEED), swap, close_temporary_wsol(OWNER, SEED)]


async def test_slippage_exceeded_before_anything_is_sent(configured: RaydiumAmmV4Adapter) -> None:
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    with pytest.raises(SlippageExceeded) as exceeded:
        await configured.swap_instructions(_ticket(quote, SOL, USDC, quote.amount_out + 1), OWNER)
    assert exceeded.value.context["quoted"] == quote.amount_out
    assert await configured.swap_instructions(_ticket(quote, SOL, USDC, quote.amount_out), OWNER)


async def test_a_route_of_another_dex_is_a_bug(configured: RaydiumAmmV4Adapter) -> None:
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    other = Quote("raydium", quote.pool, quote.amount_in, 1, 0, SOL.mint, Decimal(1), Decimal(0))
    with pytest.raises(FatalError, match="raydium route"):
        await configured.swap_instructions(_ticket(other, SOL, USDC, 1), OWNER)


async def test_on_the_build_without_the_order_book_status_1_pools_trade_on_their_vaults(net: Net) -> None:
    config = dataclasses.replace(RaydiumAmmV4Adapter.default_config(book_with([])), build=NO_ORDER_BOOK_BUILD)
    adapter = RaydiumAmmV4Adapter(ChainRpc(chain_config(net.url)), book_with([]), TOKENS, config=config)
    try:
        grids = await adapter.quote_pools(SOL, USDC, [10**9])
        assert {g.pool for g in grids} == {str(p.address) for p in (net.sol_usdc, net.usdc_sol, net.order_book)}
        quote = await adapter.quote(QuoteRequest(SOL, USDC, 10**9))
        assert quote.pool == str(net.order_book.address)  # the deepest pool pays most
        pool = net.order_book
        expected = quote_exact_in(pool.state, pool.coin_vault_amount, pool.pc_vault_amount, 10**9, coin_to_pc=True,
                                  now=0, build=NO_ORDER_BOOK_BUILD)  # fmt: skip
        assert quote.amount_out == expected.amount_out
    finally:
        await adapter.aclose()
