"""The simulated market: drifting prices, two DEXes that disagree, fills that move pools and fade."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from adapters.simulated.config import SimulatedConfig
from adapters.simulated.market import REFERENCE_USD, SimulatedMarket, dex_skew, drift_factor, pool_address
from kernel import money
from kernel.errors import InsufficientLiquidity, RejectedError, UnsupportedPair
from kernel.settings import Network
from kernel.tokens import Token, TokenRegistry

T0 = 1_700_000_000.0
TOKENS = TokenRegistry.for_network(Network.SIMULATED)


def token(symbol: str) -> Token:
    found = TOKENS.resolve(symbol)
    assert found is not None
    return found


SOL, USDC, USDT, BONK, JUP, RAY = (token(s) for s in ("SOL", "USDC", "USDT", "BONK", "JUP", "RAY"))
ONE_AND_HALF_SOL = 1_500_000_000


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def market(clock: FakeClock, **config: int) -> SimulatedMarket:
    return SimulatedMarket(TOKENS, SimulatedConfig(**config), clock=clock)  # type: ignore[arg-type]


def sample_times(count: int, step_s: float = 3.7) -> list[float]:
    return [T0 + i * step_s for i in range(count)]


def test_quote_shape_and_units() -> None:
    m = market(FakeClock())
    for dex in ("raydium", "meteora"):
        q = m.quote(dex, SOL, USDC, ONE_AND_HALF_SOL)
        assert q.dex == dex
        assert q.pool == pool_address(dex, SOL, USDC)
        assert q.amount_in == ONE_AND_HALF_SOL
        assert q.fee_mint == SOL.mint and q.fee > 0
        assert q.price == money.price(q.amount_in, 9, q.amount_out, 6)
        assert Decimal(140) < q.price < Decimal(160)  # SOL ~150 USDC, +-2% drift, +-2.5% skew, fees
        assert q.price_impact_pct >= 0
    assert pool_address("raydium", SOL, USDC) != pool_address("meteora", SOL, USDC)


@pytest.mark.parametrize(
    ("token_in", "token_out", "amount_in", "low", "high"),
    [
        (USDC, SOL, 150_000_000, Decimal("0.0062"), Decimal("0.0072")),
        (SOL, BONK, 1_000_000_000, Decimal(7_000_000), Decimal(8_000_000)),
        (USDC, USDT, 1_000_000, Decimal("0.94"), Decimal("1.06")),
        (JUP, RAY, 1_000_000, Decimal("0.37"), Decimal("0.43")),
    ],
    ids=["USDC-SOL", "SOL-BONK", "USDC-USDT", "JUP-RAY"],
)
def test_every_pair_is_priced_near_its_reference(
    token_in: Token, token_out: Token, amount_in: int, low: Decimal, high: Decimal
) -> None:
    m = market(FakeClock())
    for dex in ("raydium", "meteora"):
        assert low < m.quote(dex, token_in, token_out, amount_in).price < high


def test_quote_is_pure_and_agrees_across_processes() -> None:
    clock = FakeClock()
    a, b = market(clock), market(clock)
    first = a.quote("meteora", SOL, USDC, ONE_AND_HALF_SOL)
    assert a.quote("meteora", SOL, USDC, ONE_AND_HALF_SOL) == first
    assert b.quote("meteora", SOL, USDC, ONE_AND_HALF_SOL) == first
    assert market(clock, seed=8).quote("meteora", SOL, USDC, ONE_AND_HALF_SOL) != first


def test_reference_prices_drift_smoothly_within_two_percent() -> None:
    for symbol in REFERENCE_USD:
        factors = [drift_factor(symbol, t, 7) for t in sample_times(3000)]
        assert all(0.98 < f < 1.02 for f in factors)
        assert max(factors) - min(factors) > (0.0005 if symbol in {"USDC", "USDT"} else 0.01)
        # Smooth: 3.7 s apart, a token never moves by more than ~0.2%.
        assert max(abs(a - b) for a, b in itertools.pairwise(factors)) < 0.002


def _dex_gap_pct(m: SimulatedMarket, token_in: Token, token_out: Token, amount_in: int) -> tuple[Decimal, str]:
    ray = m.quote("raydium", token_in, token_out, amount_in).amount_out
    met = m.quote("meteora", token_in, token_out, amount_in).amount_out
    gap = Decimal(abs(ray - met)) * 100 / min(ray, met)
    return gap, "raydium" if ray > met else "meteora"


@pytest.mark.parametrize(
    ("token_in", "token_out", "amount_in"),
    [(SOL, USDC, 10**9), (USDC, SOL, 150 * 10**6), (BONK, SOL, 10**10), (USDC, USDT, 10**6)],
    ids=["SOL-USDC", "USDC-SOL", "BONK-SOL", "USDC-USDT"],
)
def test_dexes_differ_by_two_to_five_percent_and_take_turns_being_best(
    token_in: Token, token_out: Token, amount_in: int
) -> None:
    clock = FakeClock()
    m = market(clock)
    pair = "/".join(t.symbol for t in sorted((token_in, token_out), key=lambda t: t.mint))
    best: dict[str, int] = {"raydium": 0, "meteora": 0}
    outside_flips = 0
    for t in sample_times(2000):
        clock.now = t
        gap, winner = _dex_gap_pct(m, token_in, token_out, amount_in)
        best[winner] += 1
        assert gap < 5
        # Away from the few seconds in which the skew changes sign, the gap is always 2-5%.
        if abs(dex_skew(pair, t, 7)) >= 0.0105:
            outside_flips += 1
            assert gap > 2
    assert outside_flips > 1900
    assert min(best.values()) > 500


def test_a_fill_moves_the_pool_and_the_move_fades() -> None:
    clock = FakeClock()
    m, untouched = market(clock), market(clock)
    for dex in ("raydium", "meteora"):
        clock.now = T0
        deepest = m.pools(dex, SOL, USDC)[0]  # the pool a DEX's quote picks while none has moved
        assert m.quote(dex, SOL, USDC, ONE_AND_HALF_SOL).pool == deepest
        before = m.quote(dex, SOL, USDC, ONE_AND_HALF_SOL).amount_out
        m.fill(dex, SOL, USDC, 20_000 * 10**9, pool=deepest)  # $3M: several bins, tens of bps
        after = m.quote(dex, SOL, USDC, ONE_AND_HALF_SOL, pool=deepest).amount_out
        assert after < before * 0.998
        # The other side of the trade got better.
        moved = m.quote(dex, USDC, SOL, 10**8, pool=deepest).amount_out
        assert moved > untouched.quote(dex, USDC, SOL, 10**8, pool=deepest).amount_out
        clock.now = T0 + 30  # 15 relaxation time constants later
        fresh = untouched.quote(dex, SOL, USDC, ONE_AND_HALF_SOL).amount_out
        assert abs(m.quote(dex, SOL, USDC, ONE_AND_HALF_SOL).amount_out - fresh) <= fresh // 100_000


@pytest.mark.parametrize("dex", ["raydium", "meteora"])
def test_two_hundred_fills_at_once_stay_within_fifty_bps(dex: str) -> None:
    m = market(FakeClock())
    first = m.quote(dex, SOL, USDC, ONE_AND_HALF_SOL)
    deepest = m.pools(dex, SOL, USDC)[0]
    assert first.pool == deepest
    outs = [m.fill(dex, SOL, USDC, ONE_AND_HALF_SOL, pool=deepest)[0] for _ in range(200)]
    assert outs[0] == first.amount_out
    assert outs == sorted(outs, reverse=True)
    assert outs[-1] < outs[0]  # they do move the pool...
    assert outs[-1] >= first.min_amount_out(50)  # ...but not past 50 bps slippage
    assert outs[-1] >= first.min_amount_out(20)


def test_fill_returns_what_the_quote_said() -> None:
    m = market(FakeClock())
    quote = m.quote("raydium", USDC, SOL, 10**9)
    amount_out, fill = m.fill("raydium", USDC, SOL, 10**9)
    assert amount_out == quote.amount_out == fill.amount_out
    assert fill == quote


def test_unsupported_requests() -> None:
    m = market(FakeClock())
    with pytest.raises(UnsupportedPair):
        m.quote("raydium", SOL, SOL, 10**9)
    with pytest.raises(UnsupportedPair):
        m.quote("orca", SOL, USDC, 10**9)
    stranger = Token("WIF", "dogwifhat", 6, "EKpQGSJtjMFqKZ9KQanSqYXRcF8fBopzLHYxdM65zcjm")
    with pytest.raises(UnsupportedPair):
        m.quote("meteora", SOL, stranger, 10**9)
    with pytest.raises(RejectedError) as invalid:
        m.quote("raydium", SOL, USDC, 0)
    assert invalid.value.code == "invalid_amount"
    with pytest.raises(RejectedError) as dust:
        m.quote("meteora", BONK, SOL, 1)
    assert dust.value.code == "amount_too_small"


def test_bin_pool_runs_dry_on_a_huge_order() -> None:
    m = market(FakeClock(), pool_depth_usd=1_000_000)
    with pytest.raises(InsufficientLiquidity):
        m.quote("meteora", SOL, USDC, 100_000 * 10**9)  # $15M into $1M of depth
    assert m.quote("raydium", SOL, USDC, 100_000 * 10**9).price_impact_pct > 10


def test_target_price_in_token_units() -> None:
    clock = FakeClock()
    m = market(clock)
    for dex in ("raydium", "meteora"):
        forward = m.target_price(dex, SOL, USDC, clock.now)
        backward = m.target_price(dex, USDC, SOL, clock.now)
        assert abs(forward * backward - 1) < Decimal("1e-20")
        quoted = m.quote(dex, SOL, USDC, 10**6).price
        assert abs(quoted / forward - 1) < Decimal("0.003")  # fee and bin width
