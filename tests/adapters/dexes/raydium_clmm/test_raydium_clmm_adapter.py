"""The CLMM adapter over a localnet holding pools built with its own encoders: quotes equal the math on the same
accounts, discovery by search and by PDA, refusals, and the swaps it builds (wSOL framing, the tick arrays).
No program runs here; ``test_raydium_clmm_program.py`` sends the swaps to the real one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from adapters.dexes.raydium_clmm import RaydiumClmmAdapter
from adapters.dexes.raydium_clmm.config import RaydiumClmmConfig
from adapters.dexes.raydium_clmm.instructions import amm_config_address, swap_pool
from adapters.dexes.raydium_clmm.math import get_sqrt_price_at_tick, swap
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
from kernel.errors import (
    FatalError,
    InsufficientLiquidity,
    PoolNotTradable,
    RejectedError,
    SlippageExceeded,
    UnsupportedPair,
)
from kernel.venues import DexAdapter, OnChainDex, QuoteRequest, SwapTicket
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
    build_sol_usdc_pool,
    chain_config,
)

OWNER = Keypair().pubkey()
SEED = temporary_seed("order-1")
USDT = TOKENS.by_mint(next(t.mint for t in TOKENS if t.symbol == "USDT"))


@dataclass
class Net:
    url: str
    sol_usdc: LocalClmmPool
    second: LocalClmmPool  # another SOL/USDC pool, another fee tier
    ray_usdc: LocalClmmPool
    disabled: LocalClmmPool  # SOL/USDT, swaps off


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Net]:
    files = AccountFiles(Path(tmp_path_factory.mktemp("clmm")))
    price = get_sqrt_price_at_tick(-18_971) + 999
    pools = Net(
        url="",
        sol_usdc=build_sol_usdc_pool(files),
        second=build_pool(files, USDC, SOL, tick_spacing=60, sqrt_price_x64=price, trade_fee_rate=2500, config_index=1,
                          positions=[Position(-21_000, -17_040, 10**11)]),
        ray_usdc=build_pool(files, RAY, USDC, tick_spacing=10, sqrt_price_x64=get_sqrt_price_at_tick(9163),
                            config_index=2, positions=[Position(8000, 10_000, 10**11)]),
        disabled=build_pool(files, SOL, USDT, tick_spacing=10, sqrt_price_x64=price, status=1 << 4,
                            positions=[Position(-20_000, -18_000, 10**11)]),
    )  # fmt: skip
    async with running_localnet(slot_ms=50, accounts=files.accounts) as handle:
        pools.url = handle.url
        yield pools


def _adapter(net: Net, pools: list[LocalClmmPool], **config: object) -> RaydiumClmmAdapter:
    options = {"config": RaydiumClmmConfig(PROGRAM_ID, **config)} if config else {}  # type: ignore[arg-type]
    return RaydiumClmmAdapter(ChainRpc(chain_config(net.url)), book_with(pools), TOKENS, **options)  # type: ignore[arg-type]


@pytest.fixture
async def configured(net: Net) -> AsyncIterator[RaydiumClmmAdapter]:
    adapter = _adapter(net, [net.sol_usdc, net.disabled])
    yield adapter
    await adapter.aclose()


def _math(pool: LocalClmmPool, amount: int, zero_for_one: bool, exact_in: bool = True):  # type: ignore[no-untyped-def]
    return swap(pool.state, pool.config, pool.tick_arrays, amount, zero_for_one=zero_for_one, is_base_input=exact_in,
                extension=pool.extension)  # fmt: skip


async def test_is_an_on_chain_dex(configured: RaydiumClmmAdapter) -> None:
    assert isinstance(configured, DexAdapter) and isinstance(configured, OnChainDex)
    assert configured.name == "raydium_clmm"


async def test_quote_equals_the_math_on_the_same_accounts(net: Net, configured: RaydiumClmmAdapter) -> None:
    for token_in, token_out, amount in ((SOL, USDC, 10**9), (USDC, SOL, 150 * 10**6), (SOL, USDC, 12_345),
                                        (SOL, USDC, 15 * 10**9), (USDC, SOL, 3_000 * 10**6)):  # fmt: skip
        quote = await configured.quote(QuoteRequest(token_in, token_out, amount))
        expected = _math(net.sol_usdc, amount, token_in is SOL)
        assert (quote.pool, quote.amount_in, quote.amount_out, quote.fee, quote.fee_mint) == (
            str(net.sol_usdc.address),
            amount,
            expected.amount_out,
            expected.fee,
            token_in.mint,
        )
        assert quote.price_impact_pct > 0


async def test_exact_out_equals_the_math(net: Net, configured: RaydiumClmmAdapter) -> None:
    needs = await configured.quote_exact_out(str(net.sol_usdc.address), SOL, USDC, 100 * 10**6)
    assert needs == _math(net.sol_usdc, 100 * 10**6, True, exact_in=False)


async def test_refusals(configured: RaydiumClmmAdapter) -> None:
    with pytest.raises(PoolNotTradable, match="disabled"):
        await configured.quote(QuoteRequest(SOL, USDT, 10**9))
    with pytest.raises(RejectedError) as refused:
        await configured.quote(QuoteRequest(SOL, USDC, 1))
    assert refused.value.code == "amount_too_small"
    with pytest.raises(InsufficientLiquidity):
        await configured.quote(QuoteRequest(SOL, USDC, 10**15))


async def test_discovers_every_pool_of_the_pair(net: Net) -> None:
    adapter = _adapter(net, [])
    try:
        grids = await adapter.quote_pools(SOL, USDC, [10**9])
        assert {g.pool for g in grids} == {str(net.sol_usdc.address), str(net.second.address)}
        assert (await adapter.quote(QuoteRequest(USDC, RAY, 10**6))).pool == str(net.ray_usdc.address)
    finally:
        await adapter.aclose()


async def test_where_the_search_is_refused_the_pool_pdas_of_the_configs_are_read(net: Net) -> None:
    adapter = _adapter(net, [], discovery_configs=(amm_config_address(PROGRAM_ID, 2),))

    async def refused(*_: object) -> dict[Pubkey, object]:
        raise DiscoveryRefused("getProgramAccounts is disabled here")

    adapter.client.program_pools = refused  # type: ignore[method-assign,assignment]
    try:
        assert (await adapter.quote(QuoteRequest(RAY, USDC, 10**6))).pool == str(net.ray_usdc.address)
        with pytest.raises(UnsupportedPair):  # its SOL/USDC pools are under other configs
            await adapter.quote(QuoteRequest(SOL, USDC, 10**9))
    finally:
        await adapter.aclose()


async def test_a_configured_address_that_is_no_pool_is_fatal(net: Net) -> None:
    pool = LocalClmmPool(Keypair().pubkey(), net.sol_usdc.state, net.sol_usdc.config, {}, net.sol_usdc.extension,
                         net.sol_usdc.tokens)  # fmt: skip
    adapter = _adapter(net, [pool])
    try:
        with pytest.raises(FatalError, match="no Raydium CLMM pool exists"):
            await adapter.quote(QuoteRequest(SOL, USDC, 10**9))
    finally:
        await adapter.aclose()


def _walk_named(pool: LocalClmmPool, amount: int, zero_for_one: bool) -> list[int]:
    """What the adapter names: the array behind the walk, the walk, two more ahead."""
    walked = list(_math(pool, amount, zero_for_one).tick_arrays)
    starts = sorted(pool.tick_arrays)
    ahead = [s for s in (reversed(starts) if zero_for_one else starts)
             if (s < walked[-1] if zero_for_one else s > walked[-1])][:2]  # fmt: skip
    behind = [s for s in (starts if zero_for_one else reversed(starts))
              if (s > walked[0] if zero_for_one else s < walked[0])][:1]  # fmt: skip
    return behind + walked + ahead


async def test_sol_in_wraps_swaps_and_unwraps(net: Net, configured: RaydiumClmmAdapter) -> None:
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    min_out = quote.min_amount_out(50)
    ixs = await configured.swap_instructions(SwapTicket("order-1", quote, SOL, USDC, min_out), OWNER)
    usdc = Pubkey.from_string(USDC.mint)
    expected = swap_pool(
        PROGRAM_ID, net.sol_usdc.address, net.sol_usdc.state, payer=OWNER,
        input_token_account=temporary_wsol_address(OWNER, SEED),
        output_token_account=associated_token_address(OWNER, usdc), zero_for_one=True, amount=10**9,
        other_amount_threshold=min_out, is_base_input=True, tick_arrays=_walk_named(net.sol_usdc, 10**9, True),
    )  # fmt: skip
    assert ixs == [
        *open_temporary_wsol(OWNER, SEED, 10**9),
        create_associated_token_account_idempotent(OWNER, OWNER, usdc, TOKEN_PROGRAM_ID),
        expected,
        close_temporary_wsol(OWNER, SEED),
    ]


async def test_slippage_exceeded_before_anything_is_sent(configured: RaydiumClmmAdapter) -> None:
    quote = await configured.quote(QuoteRequest(SOL, USDC, 10**9))
    with pytest.raises(SlippageExceeded) as exceeded:
        await configured.swap_instructions(SwapTicket("order-1", quote, SOL, USDC, quote.amount_out + 1), OWNER)
    assert exceeded.value.context["quoted"] == quote.amount_out
