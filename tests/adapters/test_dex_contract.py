"""One contract every DEX adapter passes, simulated or on-chain: the same answers in the same shape.

Each adapter module under ``tests/adapters/contract/`` provides ``adapter_under_test()``, an async context
manager yielding ``(adapter, token_in, token_out, amount_in)`` with the adapter ready to quote.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest

from kernel.errors import UnsupportedPair
from kernel.money import price
from kernel.routes import PoolQuoter
from kernel.tokens import Token
from kernel.venues import DexAdapter, Quote, QuoteRequest

Subject = tuple[DexAdapter, Token, Token, int]


def _simulated(dex: str) -> Callable[[], contextlib.AbstractAsyncContextManager[Subject]]:
    from tests.adapters.contract.simulated import adapter_under_test

    return lambda: adapter_under_test(dex)


def _module(name: str) -> Callable[[], contextlib.AbstractAsyncContextManager[Subject]]:
    def factory() -> contextlib.AbstractAsyncContextManager[Subject]:
        module: Any = importlib.import_module(f"tests.adapters.contract.{name}")
        return module.adapter_under_test()  # type: ignore[no-any-return]

    return factory


SUBJECTS = {
    "simulated-raydium": _simulated("raydium"),
    "simulated-meteora": _simulated("meteora"),
}
for _name in ("raydium_cpmm", "meteora_dlmm", "raydium_amm_v4", "meteora_damm_v2", "raydium_clmm", "orca_whirlpool"):
    try:
        importlib.import_module(f"tests.adapters.contract.{_name}")
    except ModuleNotFoundError:
        continue
    SUBJECTS[_name] = _module(_name)


def _param(name: str) -> Any:
    """The simulated subjects are pure; the on-chain ones start a localnet."""
    return pytest.param(name, marks=() if name.startswith("simulated") else pytest.mark.servers)


@pytest.fixture(params=[_param(name) for name in sorted(SUBJECTS)])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    async with SUBJECTS[request.param]() as found:
        yield found


def check_shape(q: Quote, adapter: DexAdapter, token_in: Token, token_out: Token, amount_in: int) -> None:
    dexes = ("raydium", "meteora", "raydium_amm_v4", "meteora_damm_v2", "raydium_clmm", "orca_whirlpool")
    assert q.dex == adapter.name in dexes
    assert isinstance(q.pool, str) and q.pool
    assert q.amount_in == amount_in
    assert isinstance(q.amount_out, int) and q.amount_out > 0
    assert isinstance(q.fee, int) and q.fee >= 0
    assert q.fee_mint in (token_in.mint, token_out.mint)
    assert isinstance(q.price, Decimal) and q.price > 0
    assert q.price == price(amount_in, token_in.decimals, q.amount_out, token_out.decimals)
    assert isinstance(q.price_impact_pct, Decimal) and q.price_impact_pct >= 0
    assert 0 <= q.min_amount_out(50) <= q.amount_out


async def test_quotes_both_directions_in_the_common_shape(subject: Subject) -> None:
    adapter, token_in, token_out, amount_in = subject
    forward = await adapter.quote(QuoteRequest(token_in, token_out, amount_in))
    check_shape(forward, adapter, token_in, token_out, amount_in)
    back = await adapter.quote(QuoteRequest(token_out, token_in, forward.amount_out))
    check_shape(back, adapter, token_out, token_in, forward.amount_out)
    assert back.amount_out < amount_in  # a round trip pays fees: it never makes money
    assert back.pool == forward.pool


async def test_a_larger_order_never_gets_a_better_price(subject: Subject) -> None:
    adapter, token_in, token_out, amount_in = subject
    small = await adapter.quote(QuoteRequest(token_in, token_out, amount_in))
    large = await adapter.quote(QuoteRequest(token_in, token_out, amount_in * 20))
    # Within one bin of a bin pool the price is flat, and a larger swap loses less to rounding down:
    # allow that, and nothing more.
    assert large.price <= small.price * (1 + Decimal("1e-6"))
    assert large.price_impact_pct >= small.price_impact_pct


async def test_same_token_and_unknown_pairs_are_unsupported(subject: Subject) -> None:
    adapter, token_in, token_out, amount_in = subject
    with pytest.raises(UnsupportedPair):
        await adapter.quote(QuoteRequest(token_in, token_in, amount_in))
    stranger = Token("ZZZ", "Unlisted", 6, "Hn7Kz7h5vVhMUsqDHPWpQb8gJPaDT3kfYzQj9EoqKdYV")
    with pytest.raises(UnsupportedPair):
        await adapter.quote(QuoteRequest(stranger, token_out, amount_in))


async def test_quoting_changes_nothing(subject: Subject) -> None:
    adapter, token_in, token_out, amount_in = subject
    first = await adapter.quote(QuoteRequest(token_in, token_out, amount_in))
    again = await adapter.quote(QuoteRequest(token_in, token_out, amount_in))
    assert abs(again.amount_out - first.amount_out) * 1000 <= first.amount_out  # only the market's drift


async def test_every_pool_of_the_pair_is_priced_at_many_amounts_at_once(subject: Subject) -> None:
    adapter, token_in, token_out, amount_in = subject
    assert isinstance(adapter, PoolQuoter)
    amounts = [amount_in, amount_in * 2, amount_in * 20]
    best = await adapter.quote(QuoteRequest(token_in, token_out, amount_in))
    grids = await adapter.quote_pools(token_in, token_out, amounts)
    assert grids and all(g.dex == adapter.name and g.amounts_in == tuple(amounts) for g in grids)
    assert len({g.pool for g in grids}) == len(grids)
    chosen = next(g for g in grids if g.pool == best.pool)  # the pool the quote picked is among them
    out = chosen.out_for(amount_in)
    assert out is not None and abs(out - best.amount_out) * 1000 <= best.amount_out  # only the market's drift
    for grid in grids:
        outs = [o for o in grid.amounts_out if o is not None]
        assert outs == sorted(outs)  # more in, more out
    with pytest.raises(UnsupportedPair):
        await adapter.quote_pools(token_in, token_in, amounts)
