"""MeteoraDammV2Adapter against a localnet holding pools built byte-exactly with the adapter's own encoders.

The quotes must equal :func:`quote_exact_in` on the same numbers. Pools are found by ``getProgramAccounts``
in either A/B order, or at the pair's customizable pool PDA where the node refuses that search; pools closed
to swaps or not activated yet are refused with a reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from adapters.dexes.meteora_damm_v2 import MeteoraDammV2Adapter
from adapters.dexes.meteora_damm_v2.instructions import customizable_pool_address, swap_pool
from adapters.dexes.meteora_damm_v2.layouts import CollectFeeMode
from adapters.dexes.meteora_damm_v2.math import quote_exact_in, quote_exact_out
from adapters.settlement import ChainRpc
from adapters.solana.errors import DiscoveryRefused
from adapters.solana.spl import (
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
from tests.adapters.contract.meteora_damm_v2 import (
    PROGRAM_ID,
    RAY,
    SOL,
    TOKENS,
    USDC,
    LocalPool,
    book_with,
    build_compounding_pool,
    build_concentrated_pool,
    build_sol_usdc_pool,
    chain_config,
)

USDT, BONK, JUP = (TOKENS.by_mint(next(t.mint for t in TOKENS if t.symbol == s)) for s in ("USDT", "BONK", "JUP"))
OWNER = Keypair().pubkey()
SEED = temporary_seed("order-1")


@dataclass
class Net:
    url: str
    sol_usdc: LocalPool  # SOL token A, the whole range
    usdc_sol: LocalPool  # USDC token A: a second SOL/USDC pool, concentrated, sides the other way round
    ray_usdc: LocalPool  # compounding, at the pair's customizable pool PDA
    waiting: LocalPool  # SOL/USDT, activating far ahead
    disabled: LocalPool  # SOL/BONK, swaps disabled


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Net]:
    files = AccountFiles(Path(tmp_path_factory.mktemp("damm-v2")))
    custom = customizable_pool_address(PROGRAM_ID, Pubkey.from_string(RAY.mint), Pubkey.from_string(USDC.mint))
    pools = Net(
        url="",
        sol_usdc=build_sol_usdc_pool(files),
        usdc_sol=build_concentrated_pool(
            files, USDC, SOL, 1 / 150, 30_000 * 10**6, width=1.2, collect_fee_mode=CollectFeeMode.ONLY_B
        ),
        ray_usdc=build_compounding_pool(files, RAY, 10**12, USDC, 2 * 10**12, address=custom),
        waiting=build_concentrated_pool(files, SOL, USDT, 150.0, 10**12, activation_point=2**40),
        disabled=build_concentrated_pool(files, SOL, BONK, 10**7, 10**12, pool_status=1),
    )
    async with running_localnet(slot_ms=50, accounts=files.accounts) as handle:
        pools.url = handle.url
        yield pools


def _adapter(net: Net, pools: list[LocalPool]) -> MeteoraDammV2Adapter:
    return MeteoraDammV2Adapter(ChainRpc(chain_config(net.url)), book_with(pools), TOKENS)


@pytest.fixture
async def configured(net: Net) -> AsyncIterator[MeteoraDammV2Adapter]:
    adapter = _adapter(net, [net.sol_usdc, net.waiting, net.disabled])
    yield adapter
    await adapter.aclose()


def _expected(pool: LocalPool, token_in: Token, token_out: Token, amount: int) -> Quote:
    forward = str(pool.state.token_a_mint) == token_in.mint
    q = quote_exact_in(pool.state, amount, a_to_b=forward, slot=2**40, unix_time=2**40)
    fee_mint = token_in.mint if q.fee_on_input else token_out.mint
    return Quote(
        "meteora_damm_v2", str(pool.address), amount, q.amount_out, q.fee, fee_mint,
        money.price(amount, token_in.decimals, q.amount_out, token_out.decimals), q.price_impact_pct,
    )  # fmt: skip


def _same(quote: Quote, expected: Quote) -> None:
    fields = ("dex", "pool", "amount_in", "amount_out", "fee", "fee_mint", "price", "price_impact_pct")
    assert [getattr(quote, f) for f in fields] == [getattr(expected, f) for f in fields]


def _ticket(quote: Quote, token_in: Token, token_out: Token, min_out: int) -> SwapTicket:
    return SwapTicket("order-1", quote, token_in, token_out, min_out)


async def test_is_an_on_chain_dex(configured: MeteoraDammV2Adapter) -> None:
    assert isinstance(configured, DexAdapter) and isinstance(configured, OnChainDex)
    assert configured.name == "meteora_damm_v2"


async def test_quote_equals_the_math_on_the_same_numbers(net: Net, configured: MeteoraDammV2Adapter) -> None:
    # a flat fee: the quote does not depend on the clock
    for token_in, token_out, amount in ((SOL, USDC, 10**9), (USDC, SOL, 150 * 10**6), (SOL, USDC, 12_345)):
        _same(await configured.quote(QuoteRequest(token_in, token_out, amount)),
              _expected(net.sol_usdc, token_in, token_out, amount))  # fmt: skip


async def test_exact_out_equals_the_math(net: Net, configured: MeteoraDammV2Adapter) -> None:
    needs = await configured.quote_exact_out(str(net.sol_usdc.address), SOL, USDC, 100 * 10**6)
    assert needs == quote_exact_out(net.sol_usdc.state, 100 * 10**6, a_to_b=True, slot=0, unix_time=0)


async def test_pools_not_activated_or_disabled_are_refused(configured: MeteoraDammV2Adapter) -> None:
    with pytest.raises(PoolNotTradable, match="activates at unix time"):
        await configured.quote(QuoteRequest(SOL, USDT, 10**9))
    with pytest.raises(PoolNotTradable, match="disabled"):
        await configured.quote(QuoteRequest(SOL, BONK, 10**9))


async def test_an_amount_that_buys_nothing_is_rejected(configured: MeteoraDammV2Adapter) -> None:
    with pytest.raises(RejectedError) as refused:
        await configured.quote(QuoteRequest(SOL, USDC, 1))
    assert refused.value.code == "amount_too_small"


async def test_discovers_both_a_b_orders(net: Net) -> None:
    adapter = _adapter(net, [])
    try:
        grids = await adapter.quote_pools(SOL, USDC, [10**9])
        assert {g.pool for g in grids} == {str(net.sol_usdc.address), str(net.usdc_sol.address)}
        quote = await adapter.quote(QuoteRequest(RAY, USDC, 10**6))
        assert quote.pool == str(net.ray_usdc.address)
        with pytest.raises(UnsupportedPair, match="USDT/JUP"):
            await adapter.quote(QuoteRequest(USDT, JUP, 10**6))
    finally:
        await adapter.aclose()


async def test_where_the_search_is_refused_the_customizable_pool_pda_is_read(net: Net) -> None:
    adapter = _adapter(net, [])

    async def refused(*_: object) -> dict[Pubkey, object]:
        raise DiscoveryRefused("getProgramAccounts is disabled here")

    adapter.client.program_pools = refused  # type: ignore[method-assign,assignment]
    try:
        assert (await adapter.quote(QuoteRequest(USDC, RAY, 10**6))).pool == str(net.ray_usdc.address)
        with pytest.raises(UnsupportedPair):  # the SOL/USDC pools sit at no PDA of the pair
            await adapter.quote(QuoteRequest(SOL, USDC, 10**9))
    finally:
        await adapter.aclose()


async def test_a_configured_address_that_is_no_pool_is_fatal(net: Net) -> None:
    adapter = _adapter(net, [LocalPool(Keypair().pubkey(), net.sol_usdc.state)])
    try:
        with pytest.raises(FatalError, match="no Meteora DAMM v2 pool exists"):
            await adapter.quote(QuoteRequest(SOL, USDC, 10**9))
    finally:
        await adapter.aclose()


async def test_sol_in_wraps_swaps_and_unwraps(net: Net, configured: MeteoraDammV2Adapter) -> None:
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    min_out = quote.min_amount_out(50)
    ixs = await configured.swap_instructions(_ticket(quote, SOL, USDC, min_out), OWNER)
    usdc = Pubkey.from_string(USDC.mint)
    swap = swap_pool(
        PROGRAM_ID, net.sol_usdc.address, net.sol_usdc.state, payer=OWNER,
        input_token_account=temporary_wsol_address(OWNER, SEED),
        output_token_account=associated_token_address(OWNER, usdc), amount_in=10**9, minimum_amount_out=min_out,
    )  # fmt: skip
    assert ixs == [
        *open_temporary_wsol(OWNER, SEED, 10**9),
        create_associated_token_account_idempotent(OWNER, OWNER, usdc, TOKEN_PROGRAM_ID),
        swap,
        close_temporary_wsol(OWNER, SEED),
    ]


async def test_sol_out_creates_then_closes_the_wsol_account(net: Net, configured: MeteoraDammV2Adapter) -> None:
    quote = await configured.quote(QuoteRequest(USDC, SOL, 150 * 10**6))
    ixs = await configured.swap_instructions(_ticket(quote, USDC, SOL, quote.amount_out), OWNER)
    swap = swap_pool(
        PROGRAM_ID, net.sol_usdc.address, net.sol_usdc.state, payer=OWNER,
        input_token_account=associated_token_address(OWNER, Pubkey.from_string(USDC.mint)),
        output_token_account=temporary_wsol_address(OWNER, SEED), amount_in=150 * 10**6,
        minimum_amount_out=quote.amount_out,
    )  # fmt: skip
    assert ixs == [*open_temporary_wsol(OWNER, SEED), swap, close_temporary_wsol(OWNER, SEED)]


async def test_slippage_exceeded_before_anything_is_sent(configured: MeteoraDammV2Adapter) -> None:
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    with pytest.raises(SlippageExceeded) as exceeded:
        await configured.swap_instructions(_ticket(quote, SOL, USDC, quote.amount_out + 1), OWNER)
    assert exceeded.value.context["quoted"] == quote.amount_out


async def test_a_route_of_another_dex_is_a_bug(configured: MeteoraDammV2Adapter) -> None:
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    other = Quote("raydium", quote.pool, quote.amount_in, 1, 0, SOL.mint, Decimal(1), Decimal(0))
    with pytest.raises(FatalError, match="raydium route"):
        await configured.swap_instructions(_ticket(other, SOL, USDC, 1), OWNER)
