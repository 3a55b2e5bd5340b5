"""The DAMM v2 exact-in and exact-out quotes in the program's integer arithmetic. Pure: no I/O.

The steps are cp-amm's ``swap2`` (program v0.2.0, ``state/pool.rs``, ``state/fee.rs``, ``base_fee/``,
``liquidity_handler/``), checked against the program binary:

1. A swap needs ``pool_status`` 0 and the current point (the slot, or the unix time, as ``activation_type``
   says) at or past ``activation_point``; the program refuses it otherwise (``PoolDisabled``).
2. A Token-2022 input mint's transfer fee comes off first; what is left must be positive.
3. The fee numerator (parts per 1e9) is the base fee plus the dynamic fee, capped at 50% (fee version 0) or
   99% (version 1). The base fee is the time scheduler's (by periods since activation), the market-cap
   scheduler's (by how far the price rose since ``init_sqrt_price``) or the rate limiter's (by size, for B to A
   swaps within its window). The dynamic fee is ``ceil((volatility_accumulator * bin_step) ** 2 *
   variable_fee_control / 1e11)``, with the accumulator as the last swap left it (the swap only updates it
   afterwards).
4. The fee is taken on the input (B to A when fees are collected in token B only, or the pool compounds)
   or on the output (every other case): ``fee = ceil(amount * numerator / 1e9)``.
5. The curve: a compounding pool is constant product on its tracked reserves,
   ``out = floor(reserve_out * in / (reserve_in + in))``. A concentrated pool moves its Q64.64 square-root
   price with liquidity ``L`` (A in: ``next = ceil(L * p / (L + in * p))``, ``out = floor(L * (p - next) /
   2**128)``; B in: ``next = p + floor(in * 2**128 / L)``, ``out = floor(L * (next - p) / (p * next))``) and
   refuses to leave ``[sqrt_min_price, sqrt_max_price]`` (``PriceRangeViolation``).
6. The fee splits into the protocol's ``floor(fee * protocol_fee_percent / 100)`` (a referral's share comes
   out of that) and the LPs' rest, of which compounding pools keep ``compounding_fee_bps``: none of it
   changes what the trader receives.
7. The output mint's transfer fee comes off last; the program fails with ``ExceededSlippage`` (6002) when
   what is left is below the minimum.

Exact out follows ``get_swap_result_from_exact_output``: an output-side fee is grossed up first
(``ceil(out * 1e9 / (1e9 - numerator))``), the curve's input is rounded up, an input-side fee grossed up last.
A Token-2022 transfer fee is added back to the output first and to the input last (Token-2022's pre-fee
amount). Exact-out swaps of a rate-limited pool inside its window are refused (``PoolNotTradable``) rather than
priced by a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from adapters.dexes.meteora_damm_v2.layouts import (
    ActivationType,
    BaseFeeMode,
    CollectFeeMode,
    FeeMarketCapScheduler,
    FeeRateLimiter,
    FeeTimeScheduler,
    Pool,
    PoolFees,
)
from adapters.solana.accounts import TransferFeeConfig
from kernel.errors import InsufficientLiquidity, PoolNotTradable, RejectedError
from kernel.money import U64_MAX, ceil_div

FEE_DENOMINATOR = 1_000_000_000
MAX_BASIS_POINT = 10_000
MAX_FEE_NUMERATOR = {0: 500_000_000, 1: 990_000_000}  # by the pool's fee version
ONE_Q64 = 1 << 64
U128_MAX = 2**128 - 1
U256_MAX = 2**256 - 1
IMPACT_QUANTUM = Decimal("0.000001")
_MAX_EXPONENT_BITS = 19  # the program's pow walks 19 bits of the exponent


class ProgramArithmeticError(PoolNotTradable):
    """The program's own arithmetic would fail (an overflow, a fee schedule that runs below zero)."""


# --- the current point and activation ------------------------------------------------------------------


def current_point(pool: Pool, *, slot: int, unix_time: int) -> int:
    """What the pool's activation and fee schedule count: the slot, or the unix time."""
    if pool.activation_type == ActivationType.SLOT:
        return slot
    if pool.activation_type == ActivationType.TIMESTAMP:
        return unix_time
    raise PoolNotTradable(f"the pool's activation type {pool.activation_type} is unknown")


def check_swappable(pool: Pool, point: int) -> None:
    """Step 1: swaps enabled and the pool activated (the trader is never the pool's whitelisted vault)."""
    if not pool.swap_enabled:
        raise PoolNotTradable(f"the pool has swaps disabled (status {pool.pool_status})")
    if point < pool.activation_point:
        unit = "slot" if pool.activation_type == ActivationType.SLOT else "unix time"
        raise PoolNotTradable(f"the pool activates at {unit} {pool.activation_point}, it is {point}")


# --- fees ---------------------------------------------------------------------------------------------


def _pow_q64(base: int, exponent: int) -> int:
    """The program's ``pow`` of a Q64.64 ``base`` to a non-negative power, bit by bit with truncation."""
    if exponent == 0:
        return ONE_Q64
    invert = False
    squared, result = base, ONE_Q64
    if squared >= result:
        squared, invert = U128_MAX // squared, True
    for bit in range(_MAX_EXPONENT_BITS):
        if bit:
            squared = _checked_u128(squared * squared) >> 64
        if exponent & (1 << bit):
            result = _checked_u128(result * squared) >> 64
    if result == 0:
        raise ProgramArithmeticError("the fee schedule's power underflows")
    return U128_MAX // result if invert else result


def _checked_u128(value: int) -> int:
    if value > U128_MAX:
        raise ProgramArithmeticError("a u128 product overflows")
    return value


def fee_in_period(cliff_fee_numerator: int, reduction_factor: int, period: int) -> int:
    """``cliff * (1 - reduction_factor / 10000) ** period`` in the program's Q64.64 steps."""
    if reduction_factor == 0:
        return cliff_fee_numerator
    bps = (reduction_factor << 64) // MAX_BASIS_POINT
    if bps > ONE_Q64:
        raise ProgramArithmeticError("a reduction factor above 100%")
    return (_pow_q64(ONE_Q64 - bps, period) * cliff_fee_numerator) >> 64


def _by_period(cliff: int, reduction: int, period: int, exponential: bool) -> int:
    if exponential:
        return fee_in_period(cliff, reduction, period)
    fee = cliff - reduction * period
    if fee < 0:
        raise ProgramArithmeticError("the linear fee schedule runs below zero")
    return fee


def _time_scheduler(fee: FeeTimeScheduler, point: int, activation_point: int) -> int:
    if fee.period_frequency == 0:
        return fee.cliff_fee_numerator
    if point < activation_point:
        period = fee.number_of_period
    else:
        period = min((point - activation_point) // fee.period_frequency, fee.number_of_period)
    exponential = fee.mode == BaseFeeMode.FEE_TIME_SCHEDULER_EXPONENTIAL
    return _by_period(fee.cliff_fee_numerator, fee.reduction_factor, period, exponential)


def _market_cap_scheduler(
    fee: FeeMarketCapScheduler, point: int, activation_point: int, init_sqrt_price: int, sqrt_price: int
) -> int:
    expiration = activation_point + fee.scheduler_expiration_duration
    if point > expiration or point < activation_point:
        period = fee.number_of_period
    elif sqrt_price <= init_sqrt_price:
        period = 0
    else:
        if fee.sqrt_price_step_bps == 0 or init_sqrt_price == 0:
            raise ProgramArithmeticError("the market-cap scheduler divides by zero")
        passed = (sqrt_price - init_sqrt_price) * MAX_BASIS_POINT // init_sqrt_price // fee.sqrt_price_step_bps
        period = min(passed, fee.number_of_period)
    exponential = fee.mode == BaseFeeMode.FEE_MARKET_CAP_SCHEDULER_EXPONENTIAL
    return _by_period(fee.cliff_fee_numerator, fee.reduction_factor, period, exponential)


def rate_limiter_applies(fee: FeeRateLimiter, point: int, activation_point: int, *, a_to_b: bool) -> bool:
    """Whether a swap now pays the rate limiter's size-based fee (B to A swaps inside its window only)."""
    zero = not (fee.reference_amount or fee.max_limiter_duration or fee.max_fee_bps or fee.fee_increment_bps)
    if zero or a_to_b or point < activation_point:
        return False
    return point <= activation_point + fee.max_limiter_duration


def _bps_numerator(bps: int) -> int:
    return bps * FEE_DENOMINATOR // MAX_BASIS_POINT


def rate_limiter_numerator(fee: FeeRateLimiter, amount: int) -> int:
    """The rate limiter's numerator for an input of ``amount`` before fees (``get_fee_numerator_from_included_
    fee_amount``): the cliff fee on the first ``reference_amount``, one ``fee_increment_bps`` more on each
    further ``reference_amount``, the maximum beyond; as one numerator, rounded up."""
    x0, c = fee.reference_amount, fee.cliff_fee_numerator
    if amount <= x0:
        return c
    max_numerator = _bps_numerator(fee.max_fee_bps)
    i = _bps_numerator(fee.fee_increment_bps)
    if i == 0:
        raise ProgramArithmeticError("the rate limiter's increment is zero")
    max_index = (max_numerator - c) // i
    a, b = divmod(amount - x0, x0)
    if a < max_index:
        total = x0 * (c + c * a + i * a * (a + 1) // 2) + b * (c + i * (a + 1))
    else:
        first = x0 * (c + c * max_index + i * max_index * (max_index + 1) // 2)
        total = first + ((a - max_index) * x0 + b) * max_numerator
    trading_fee = ceil_div(total, FEE_DENOMINATOR)
    if trading_fee > U64_MAX:
        raise ProgramArithmeticError("the rate limiter's fee overflows")
    return ceil_div(trading_fee * FEE_DENOMINATOR, amount)


def dynamic_fee_numerator(fees: PoolFees) -> int:
    """Step 3's volatility part, from the accumulator the last swap left."""
    dynamic = fees.dynamic_fee
    if not dynamic.enabled:
        return 0
    square = _checked_u128(dynamic.volatility_accumulator * dynamic.bin_step) ** 2
    return ceil_div(_checked_u128(_checked_u128(square) * dynamic.variable_fee_control), 100_000_000_000)


@dataclass(frozen=True, slots=True)
class FeeRate:
    """The fee numerator a swap pays now and how it was made."""

    numerator: int
    base: int
    dynamic: int
    rate_limited: bool


def fee_rate(pool: Pool, point: int, *, a_to_b: bool, amount_in: int | None) -> FeeRate:
    """Step 3 at ``point``. ``amount_in`` is the input before fees (exact in); None for an exact-out swap,
    which a rate-limited pool inside its window refuses here."""
    base_fee, fees = pool.pool_fees.base_fee, pool.pool_fees
    limited = False
    if isinstance(base_fee, FeeTimeScheduler):
        base = _time_scheduler(base_fee, point, pool.activation_point)
    elif isinstance(base_fee, FeeMarketCapScheduler):
        base = _market_cap_scheduler(base_fee, point, pool.activation_point, fees.init_sqrt_price, pool.sqrt_price)
    elif isinstance(base_fee, FeeRateLimiter):
        limited = rate_limiter_applies(base_fee, point, pool.activation_point, a_to_b=a_to_b)
        if limited and amount_in is None:
            raise PoolNotTradable("exact-out swaps inside a rate limiter's window are not priced here")
        base = rate_limiter_numerator(base_fee, amount_in) if limited and amount_in else base_fee.cliff_fee_numerator
    else:
        raise PoolNotTradable("the pool's base fee mode is unknown")
    cap = MAX_FEE_NUMERATOR.get(pool.fee_version)
    if cap is None:
        raise PoolNotTradable(f"the pool's fee version {pool.fee_version} is unknown")
    dynamic = dynamic_fee_numerator(fees)
    return FeeRate(min(base + dynamic, cap), base, dynamic, limited)


def fees_on_input(pool: Pool, *, a_to_b: bool) -> bool:
    """Step 4: only B-to-A swaps of pools collecting fees in token B (or compounding) pay on the input."""
    mode = pool.collect_fee_mode
    if mode not in tuple(CollectFeeMode):
        raise PoolNotTradable(f"the pool's collect fee mode {mode} is unknown")
    return mode != CollectFeeMode.BOTH_TOKEN and not a_to_b


@dataclass(frozen=True, slots=True)
class FeeSplit:
    """One fee as the program splits it (step 6). ``protocol`` excludes the referral's share."""

    total: int
    protocol: int
    referral: int
    compounding: int
    claiming: int


def split_fee(fees: PoolFees, fee: int, *, has_referral: bool = False) -> FeeSplit:
    protocol = fee * fees.protocol_fee_percent // 100
    trading = fee - protocol
    compounding = trading * fees.compounding_fee_bps // MAX_BASIS_POINT if fees.compounding_fee_bps else 0
    referral = protocol * fees.referral_fee_percent // 100 if has_referral else 0
    return FeeSplit(fee, protocol - referral, referral, compounding, trading - compounding)


def _u64(value: int, what: str) -> int:
    if not 0 <= value <= U64_MAX:
        raise ProgramArithmeticError(f"{what} does not fit a u64")
    return value


def fee_on_amount(numerator: int, amount: int) -> tuple[int, int]:
    """``(amount - fee, fee)`` with ``fee = ceil(amount * numerator / 1e9)`` (``get_excluded_fee_amount``)."""
    fee = ceil_div(amount * numerator, FEE_DENOMINATOR)
    return amount - fee, fee


def fee_grossed_up(numerator: int, amount: int) -> tuple[int, int]:
    """``(included, fee)`` with ``included = ceil(amount * 1e9 / (1e9 - numerator))``."""
    included = _u64(ceil_div(amount * FEE_DENOMINATOR, FEE_DENOMINATOR - numerator), "the amount with its fee")
    return included, included - amount


# --- the curves ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CurveStep:
    """One pass along the curve: what comes out for what goes in, and the square-root price after
    (0 for a compounding pool, whose price the program recomputes from its reserves)."""

    amount_in: int
    amount_out: int
    next_sqrt_price: int


def _range_violation(next_sqrt_price: int, pool: Pool) -> InsufficientLiquidity:
    return InsufficientLiquidity(
        f"the swap would move the price to {next_sqrt_price}, outside the pool's range "
        f"[{pool.sqrt_min_price}, {pool.sqrt_max_price}] (Q64.64 square roots)"
    )


def _delta_a(lower: int, upper: int, liquidity: int, round_up: bool) -> int:
    numerator, denominator = liquidity * (upper - lower), lower * upper
    result = ceil_div(numerator, denominator) if round_up else numerator // denominator
    return _u64(result, "a token A amount")


def _delta_b(lower: int, upper: int, liquidity: int, round_up: bool) -> int:
    product = liquidity * (upper - lower)
    return _u64(ceil_div(product, 1 << 128) if round_up else product >> 128, "a token B amount")


def _reserves(pool: Pool) -> tuple[int, int]:
    return pool.token_a_amount, pool.token_b_amount


def curve_exact_in(pool: Pool, amount_in: int, *, a_to_b: bool) -> CurveStep:
    """Step 5 for ``amount_in`` after any input-side fee."""
    if pool.compounding:
        reserve_a, reserve_b = _reserves(pool)
        reserve_in, reserve_out = (reserve_a, reserve_b) if a_to_b else (reserve_b, reserve_a)
        if reserve_in + amount_in == 0:
            raise InsufficientLiquidity("the pool holds no reserves")
        return CurveStep(amount_in, _u64(reserve_out * amount_in // (reserve_in + amount_in), "the output"), 0)
    price, liquidity = pool.sqrt_price, pool.liquidity
    if price <= 0 or liquidity <= 0:
        raise InsufficientLiquidity("the pool holds no liquidity")
    if a_to_b:
        nxt = price if amount_in == 0 else ceil_div(liquidity * price, liquidity + amount_in * price)
        if nxt > U128_MAX:
            raise ProgramArithmeticError("the next price does not fit a u128")
        if nxt < pool.sqrt_min_price:
            raise _range_violation(nxt, pool)
        return CurveStep(amount_in, _delta_b(nxt, price, liquidity, False), nxt)
    nxt = price + (amount_in << 128) // liquidity
    if nxt > U128_MAX:
        raise ProgramArithmeticError("the next price does not fit a u128")
    if nxt > pool.sqrt_max_price:
        raise _range_violation(nxt, pool)
    return CurveStep(amount_in, _delta_a(price, nxt, liquidity, False), nxt)


def curve_exact_out(pool: Pool, amount_out: int, *, a_to_b: bool) -> CurveStep:
    """The curve's input for exactly ``amount_out`` (before any output-side fee is added back), rounded up."""
    if pool.compounding:
        reserve_a, reserve_b = _reserves(pool)
        reserve_in, reserve_out = (reserve_a, reserve_b) if a_to_b else (reserve_b, reserve_a)
        if amount_out >= reserve_out:
            raise InsufficientLiquidity(f"the pool cannot pay out {amount_out} raw units")
        return CurveStep(_u64(ceil_div(reserve_in * amount_out, reserve_out - amount_out), "the input"), amount_out, 0)
    price, liquidity = pool.sqrt_price, pool.liquidity
    if price <= 0 or liquidity <= 0:
        raise InsufficientLiquidity("the pool holds no liquidity")
    if a_to_b:
        nxt = price - ceil_div(amount_out << 128, liquidity)
        if nxt < pool.sqrt_min_price:
            raise _range_violation(nxt, pool)
        return CurveStep(_delta_a(nxt, price, liquidity, True), amount_out, nxt)
    denominator = liquidity - amount_out * price
    if denominator <= 0:
        raise InsufficientLiquidity(f"the pool cannot pay out {amount_out} raw units")
    nxt = ceil_div(liquidity * price, denominator)
    if nxt > pool.sqrt_max_price:
        raise _range_violation(nxt, pool)
    return CurveStep(_delta_b(price, nxt, liquidity, True), amount_out, nxt)


# --- the quotes ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DammQuote:
    """An exact-in quote. ``amount_out`` is what the trader's account receives after every fee. ``fee`` is the
    trading fee, in the input mint when ``fee_on_input``, else in the output mint; ``split`` is its parts.
    ``price_impact_pct`` is how far the marginal price moved, in percent."""

    a_to_b: bool
    amount_in: int
    amount_swapped_in: int
    amount_swapped_out: int
    amount_out: int
    fee: int
    fee_on_input: bool
    split: FeeSplit
    rate: FeeRate
    transfer_fee_in: int
    transfer_fee_out: int
    next_sqrt_price: int
    price_impact_pct: Decimal


def _check_tracked(pool: Pool, leaving: int, *, a_to_b: bool) -> None:
    """The program takes what leaves the pool (the trader's output and an output-side fee) off the reserve it
    tracks, and fails when that would go below zero (a version-0 pool recomputes its reserves first)."""
    if pool.layout_version == 0:
        return
    tracked = pool.token_b_amount if a_to_b else pool.token_a_amount
    if leaving > tracked:
        raise InsufficientLiquidity(f"the pool tracks {tracked} raw units of the output, not {leaving}")


def _impact(pool: Pool, step: CurveStep, a_to_b: bool) -> Decimal:
    if pool.compounding:
        reserve_a, reserve_b = _reserves(pool)
        reserve_in = reserve_a if a_to_b else reserve_b
        total = reserve_in + step.amount_in
        impact = Decimal(step.amount_in) * 100 / Decimal(total) if total else Decimal(0)
        return impact.quantize(IMPACT_QUANTUM)
    before, after = Decimal(pool.sqrt_price) ** 2, Decimal(step.next_sqrt_price) ** 2
    return (abs(after - before) * 100 / before).quantize(IMPACT_QUANTUM)


def quote_exact_in(
    pool: Pool,
    amount_in: int,
    *,
    a_to_b: bool,
    slot: int,
    unix_time: int,
    epoch: int = 0,
    transfer_fee_a: TransferFeeConfig | None = None,
    transfer_fee_b: TransferFeeConfig | None = None,
) -> DammQuote:
    """What ``swap2`` in exact-in mode pays for ``amount_in`` of token A (``a_to_b``) or B, in a block at
    ``slot`` and ``unix_time``. Raises :class:`PoolNotTradable`, ``InsufficientLiquidity``, or
    ``RejectedError`` (``amount_too_small``) where the program would refuse the swap or pay nothing."""
    if not 0 < amount_in <= U64_MAX:
        raise RejectedError(f"amount_in must be a positive u64, got {amount_in}", code="invalid_amount")
    point = current_point(pool, slot=slot, unix_time=unix_time)
    check_swappable(pool, point)
    fee_in, fee_out = (transfer_fee_a, transfer_fee_b) if a_to_b else (transfer_fee_b, transfer_fee_a)
    transfer_in = fee_in.fee(amount_in, epoch) if fee_in is not None else 0
    net_in = amount_in - transfer_in
    if net_in <= 0:
        raise RejectedError(f"{amount_in} raw units are all taken by the transfer fee", code="amount_too_small")
    rate = fee_rate(pool, point, a_to_b=a_to_b, amount_in=net_in)
    on_input = fees_on_input(pool, a_to_b=a_to_b)
    swapped_in, fee = fee_on_amount(rate.numerator, net_in) if on_input else (net_in, 0)
    step = curve_exact_in(pool, swapped_in, a_to_b=a_to_b)
    _check_tracked(pool, step.amount_out, a_to_b=a_to_b)
    out = step.amount_out
    if not on_input:
        out, fee = fee_on_amount(rate.numerator, step.amount_out)
    transfer_out = fee_out.fee(out, epoch) if fee_out is not None else 0
    received = out - transfer_out
    if received <= 0:
        raise RejectedError(f"{amount_in} raw units are too small to buy anything", code="amount_too_small")
    return DammQuote(
        a_to_b=a_to_b, amount_in=amount_in, amount_swapped_in=swapped_in, amount_swapped_out=step.amount_out,
        amount_out=received, fee=fee, fee_on_input=on_input, split=split_fee(pool.pool_fees, fee), rate=rate,
        transfer_fee_in=transfer_in, transfer_fee_out=transfer_out, next_sqrt_price=step.next_sqrt_price,
        price_impact_pct=_impact(pool, step, a_to_b),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class DammExactOut:
    """What ``swap2`` in exact-out mode spends for exactly ``amount_out``: ``amount_in`` leaves the trader's
    account; ``fee`` is the trading fee (in the input mint when ``fee_on_input``)."""

    a_to_b: bool
    amount_out: int
    amount_in: int
    amount_swapped_in: int
    fee: int
    fee_on_input: bool
    split: FeeSplit


def transfer_fee_included(config: TransferFeeConfig | None, amount: int, epoch: int) -> int:
    """What must be sent so that ``amount`` arrives (the program's ``calculate_transfer_fee_included_amount``):
    Token-2022's pre-fee amount (the ceiling of ``amount * 10000 / (10000 - bps)``, or ``amount`` plus the
    maximum fee once that is reached), its fee checked the way the program checks it."""
    if config is None or amount == 0:
        return amount
    fee = config.at(epoch)
    if fee.basis_points == 0:
        return amount
    if fee.basis_points == MAX_BASIS_POINT:
        included = amount + fee.maximum_fee
    else:
        raw = ceil_div(amount * MAX_BASIS_POINT, MAX_BASIS_POINT - fee.basis_points)
        included = amount + fee.maximum_fee if raw - amount >= fee.maximum_fee else raw
    inverse = fee.fee(included)
    if amount + inverse > U64_MAX:
        raise ProgramArithmeticError("the amount with its transfer fee overflows")
    if inverse != fee.fee(amount + inverse):
        raise PoolNotTradable("the program cannot invert this transfer fee (FeeInverseIsIncorrect)")
    return amount + inverse


def quote_exact_out(
    pool: Pool,
    amount_out: int,
    *,
    a_to_b: bool,
    slot: int,
    unix_time: int,
    epoch: int = 0,
    transfer_fee_a: TransferFeeConfig | None = None,
    transfer_fee_b: TransferFeeConfig | None = None,
) -> DammExactOut:
    """What ``swap2`` in exact-out mode spends for exactly ``amount_out`` arriving (see the module docstring):
    the output's transfer fee is added first, the input's last."""
    if not 0 < amount_out <= U64_MAX:
        raise RejectedError(f"amount_out must be a positive u64, got {amount_out}", code="invalid_amount")
    point = current_point(pool, slot=slot, unix_time=unix_time)
    check_swappable(pool, point)
    fee_in, fee_out = (transfer_fee_a, transfer_fee_b) if a_to_b else (transfer_fee_b, transfer_fee_a)
    leaving = transfer_fee_included(fee_out, amount_out, epoch)
    rate = fee_rate(pool, point, a_to_b=a_to_b, amount_in=None)
    on_input = fees_on_input(pool, a_to_b=a_to_b)
    curve_out, fee = (leaving, 0) if on_input else fee_grossed_up(rate.numerator, leaving)
    step = curve_exact_out(pool, curve_out, a_to_b=a_to_b)
    _check_tracked(pool, curve_out, a_to_b=a_to_b)
    swapped_in = step.amount_in
    if on_input:
        swapped_in, fee = fee_grossed_up(rate.numerator, step.amount_in)
    amount_in = transfer_fee_included(fee_in, swapped_in, epoch)
    if amount_in <= 0:
        raise RejectedError(f"{amount_out} raw units out cost nothing to buy", code="amount_too_small")
    return DammExactOut(a_to_b, amount_out, amount_in, step.amount_in, fee, on_input, split_fee(pool.pool_fees, fee))
