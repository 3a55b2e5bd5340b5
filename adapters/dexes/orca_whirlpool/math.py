"""The Whirlpool exact-in and exact-out quotes in the program's integer arithmetic. Pure: no I/O.

The steps are the Whirlpool program's ``swap_v2`` (v0.3.6: ``manager/swap_manager.rs``, ``math/swap_math.rs``,
``math/token_math.rs``, ``math/tick_math.rs``, ``util/swap_tick_sequence.rs``, ``util/sparse_swap.rs``), checked
against the program binary:

1. The swap walks at most three tick arrays: from the one holding ``tick_current_index`` on in the swap's
   direction (:func:`tick_array_starts`; B to A starts one array further right when the current tick is the
   array's last usable one). An array account that does not exist counts as 88 uninitialized ticks.
2. Each step runs to the next initialized tick (or the end of the arrays) with :func:`compute_swap_step`: exact in
   first takes the fee off, ``floor(remaining * (1e6 - fee_rate) / 1e6)``; the step's fee is
   ``ceil(in * fee_rate / (1e6 - fee_rate))`` when it reaches its target, else whatever of the remainder the
   curve did not take. Token A amounts are ``L * (upper - lower) * 2**64 / (upper * lower)``, token B
   ``L * (upper - lower) / 2**64``, rounded up for what the pool takes and down for what it pays; the next
   price rounds up moving through A and down moving through B.
3. Crossing an initialized tick adds its ``liquidity_net`` (B to A) or subtracts it (A to B). The protocol takes
   ``floor(fee * protocol_fee_rate / 1e4)`` of each step's fee; none of it changes what the trader receives.
4. A walk that needs a fourth array fails (``TickArraySequenceInvalidIndex``), and so does an exact-out swap it
   cannot fill (``PartialFillError``): both read here as :class:`InsufficientLiquidity`.

The program fails with ``AmountOutBelowMinimum`` (6036) when exact in pays less than its threshold and
``AmountInAboveMaximum`` (6037) when exact out costs more. Token-2022 transfer fees are not priced here, nor the
adaptive fees of later programs (:func:`check_fee_tier` refuses such pools).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from adapters.dexes.orca_whirlpool.layouts import EMPTY_TICK, TICK_ARRAY_SIZE, Tick, TickArray, Whirlpool
from kernel.errors import InsufficientLiquidity, PoolNotTradable, RejectedError
from kernel.money import U64_MAX

MIN_TICK_INDEX = -443_636
MAX_TICK_INDEX = 443_636
MIN_SQRT_PRICE_X64 = 4_295_048_016
MAX_SQRT_PRICE_X64 = 79_226_673_515_401_279_992_447_579_055
NO_EXPLICIT_SQRT_PRICE_LIMIT = 0
FEE_RATE_MUL_VALUE = 1_000_000
PROTOCOL_FEE_RATE_MUL_VALUE = 10_000
MAX_TICK_ARRAYS = 3  # tick_array_0..2 of swap_v2
U128_MAX = 2**128 - 1
Q64 = 1 << 64
IMPACT_QUANTUM = Decimal("0.000001")

# Program errors that mean the pool cannot fill the size (out of tick arrays or price range, or too little of
# the output); any other is the program's arithmetic failing.
_OUT_OF_RANGE = frozenset({
    "TickArraySequenceInvalidIndex", "PartialFillError", "TokenMinSubceeded", "TokenMaxExceeded",
    "SqrtPriceOutOfBounds", "DivideByZero", "LiquidityUnderflow", "MultiplicationShiftRightOverflow",
})  # fmt: skip


class ProgramArithmeticError(PoolNotTradable):
    """The program's own arithmetic would fail on this pool (an overflow it does not expect)."""


def _fail(error: str) -> Exception:
    if error in _OUT_OF_RANGE:
        return InsufficientLiquidity(f"the Whirlpool program would fail with {error}")
    return ProgramArithmeticError(f"the Whirlpool program would fail with {error}")


# --- tick math ---------------------------------------------------------------------------------------------

# sqrt(1.0001) ** (2 ** i) for bits 1..18 of a positive tick, Q96 (the first is for bit 0, and 1 << 96 without it)
_POSITIVE = (
    79236085330515764027303304731, 79244008939048815603706035061, 79259858533276714757314932305,
    79291567232598584799939703904, 79355022692464371645785046466, 79482085999252804386437311141,
    79736823300114093921829183326, 80248749790819932309965073892, 81282483887344747381513967011,
    83390072131320151908154831281, 87770609709833776024991924138, 97234110755111693312479820773,
    119332217159966728226237229890, 179736315981702064433883588727, 407748233172238350107850275304,
    2098478828474011932436660412517, 55581415166113811149459800483533, 38992368544603139932233054999993551,
)  # fmt: skip
# 1 / sqrt(1.0001) ** (2 ** i) for bits 1..18 of a negative tick's absolute value, Q64
_NEGATIVE = (
    18444899583751176498, 18443055278223354162, 18439367220385604838, 18431993317065449817, 18417254355718160513,
    18387811781193591352, 18329067761203520168, 18212142134806087854, 17980523815641551639, 17526086738831147013,
    16651378430235024244, 15030750278693429944, 12247334978882834399, 8131365268884726200, 3584323654723342297,
    696457651847595233, 26294789957452057, 37481735321082,
)  # fmt: skip
_LOG_B_2_X32 = 59543866431248
_BIT_PRECISION = 14
_LOG_B_P_ERR_MARGIN_LOWER_X64 = 184467440737095516
_LOG_B_P_ERR_MARGIN_UPPER_X64 = 15793534762490258745


def sqrt_price_from_tick_index(tick: int) -> int:
    """The Q64.64 square root of ``1.0001 ** tick``, as the program rounds it."""
    if tick >= 0:
        ratio = 79232123823359799118286999567 if tick & 1 else 79228162514264337593543950336
        for bit, factor in enumerate(_POSITIVE, start=1):
            if tick & (1 << bit):
                ratio = (ratio * factor) >> 96
        return ratio >> 32
    magnitude = -tick
    ratio = 18445821805675392311 if magnitude & 1 else 18446744073709551616
    for bit, factor in enumerate(_NEGATIVE, start=1):
        if magnitude & (1 << bit):
            ratio = (ratio * factor) >> 64
    return ratio


def tick_index_from_sqrt_price(sqrt_price: int) -> int:
    """The highest tick whose square-root price is at most ``sqrt_price`` (the program's 14-bit log estimate,
    settled between its two candidates)."""
    msb = sqrt_price.bit_length() - 1
    log2p_integer_x32 = (msb - 64) << 32
    bit, fraction_x64 = 1 << 63, 0
    r = sqrt_price >> (msb - 63) if msb >= 64 else sqrt_price << (63 - msb)
    for _ in range(_BIT_PRECISION):
        r *= r
        more_than_two = r >> 127
        r >>= 63 + more_than_two
        fraction_x64 += bit * more_than_two
        bit >>= 1
    logbp_x64 = (log2p_integer_x32 + (fraction_x64 >> 32)) * _LOG_B_2_X32
    tick_low = (logbp_x64 - _LOG_B_P_ERR_MARGIN_LOWER_X64) >> 64
    tick_high = (logbp_x64 + _LOG_B_P_ERR_MARGIN_UPPER_X64) >> 64
    if tick_low == tick_high:
        return tick_low
    return tick_high if sqrt_price_from_tick_index(tick_high) <= sqrt_price else tick_low


# --- token math --------------------------------------------------------------------------------------------


def _div(n: int, d: int, round_up: bool) -> int:
    q, r = divmod(n, d)
    return q + 1 if round_up and r else q


def try_amount_delta_a(p0: int, p1: int, liquidity: int, round_up: bool) -> int | None:
    """Token A between two square-root prices; None where it exceeds a u64 (the program's ``ExceedsMax``)."""
    lower, upper = min(p0, p1), max(p0, p1)
    product = liquidity * (upper - lower)
    if product >> 192:
        raise _fail("MultiplicationOverflow")
    result = _div(product << 64, upper * lower, round_up)
    return result if result <= U64_MAX else None


def try_amount_delta_b(p0: int, p1: int, liquidity: int, round_up: bool) -> int | None:
    """Token B between two square-root prices; None where it exceeds a u64."""
    diff = abs(p1 - p0)
    if liquidity == 0 or diff == 0:
        return 0
    product = liquidity * diff
    if product > U128_MAX:
        return None
    result = product >> 64
    if round_up and product & (Q64 - 1):
        if result == U64_MAX:
            return None
        result += 1
    return result


def _delta(value: int | None) -> int:
    if value is None:
        raise _fail("TokenMaxExceeded")
    return value


def next_sqrt_price(sqrt_price: int, liquidity: int, amount: int, *, amount_is_input: bool, a_to_b: bool) -> int:
    """The price after ``amount`` of the fixed token moves through ``liquidity``: rounded up moving through token
    A (A in, or A out), down moving through token B."""
    if amount_is_input == a_to_b:
        if amount == 0:
            return sqrt_price
        product = sqrt_price * amount
        numerator = liquidity * sqrt_price
        if numerator >> 192:
            raise _fail("MultiplicationOverflow")
        shifted = liquidity << 64
        if not amount_is_input and shifted <= product:
            raise _fail("DivideByZero")
        price = _div(numerator << 64, shifted + product if amount_is_input else shifted - product, True)
        if price > U128_MAX:
            raise _fail("NumberDownCastError")
        if price < MIN_SQRT_PRICE_X64:
            raise _fail("TokenMinSubceeded")
        if price > MAX_SQRT_PRICE_X64:
            raise _fail("TokenMaxExceeded")
        return price
    if liquidity == 0:
        raise _fail("DivideByZero")
    delta = _div(amount << 64, liquidity, not amount_is_input)
    price = sqrt_price + delta if amount_is_input else sqrt_price - delta
    if not 0 <= price <= U128_MAX:
        raise _fail("SqrtPriceOutOfBounds")
    return price


@dataclass(frozen=True, slots=True)
class SwapStep:
    """One step of the walk: what the pool takes (``amount_in`` plus ``fee_amount``) and pays, and the price it
    ends at."""

    amount_in: int
    amount_out: int
    next_price: int
    fee_amount: int


def compute_swap_step(
    amount_remaining: int, fee_rate: int, liquidity: int, current: int, target: int, *, amount_is_input: bool,
    a_to_b: bool,
) -> SwapStep:  # fmt: skip
    """The program's ``compute_swap``: move from ``current`` toward ``target`` with what remains."""
    fixed_is_a = a_to_b == amount_is_input
    fixed = try_amount_delta_a if fixed_is_a else try_amount_delta_b
    unfixed = try_amount_delta_b if fixed_is_a else try_amount_delta_a
    initial = fixed(current, target, liquidity, amount_is_input)
    amount_calc = amount_remaining
    if amount_is_input:
        amount_calc = amount_remaining * (FEE_RATE_MUL_VALUE - fee_rate) // FEE_RATE_MUL_VALUE
    if initial is not None and initial <= amount_calc:
        price = target
    else:
        price = next_sqrt_price(current, liquidity, amount_calc, amount_is_input=amount_is_input, a_to_b=a_to_b)
    is_max_swap = price == target
    amount_unfixed = _delta(unfixed(current, price, liquidity, not amount_is_input))
    if not is_max_swap or initial is None:
        amount_fixed = _delta(fixed(current, price, liquidity, amount_is_input))
    else:
        amount_fixed = initial
    amount_in, amount_out = (amount_fixed, amount_unfixed) if amount_is_input else (amount_unfixed, amount_fixed)
    if not amount_is_input and amount_out > amount_remaining:
        amount_out = amount_remaining
    if amount_is_input and not is_max_swap:
        fee = amount_remaining - amount_in
    else:
        fee = _div(amount_in * fee_rate, FEE_RATE_MUL_VALUE - fee_rate, True)
        if fee > U64_MAX:
            raise _fail("NumberDownCastError")
    return SwapStep(amount_in, amount_out, price, fee)


# --- the tick arrays ---------------------------------------------------------------------------------------


def ticks_in_array(tick_spacing: int) -> int:
    return TICK_ARRAY_SIZE * tick_spacing


def is_valid_start_tick(start: int, tick_spacing: int) -> bool:
    """The program's ``check_is_valid_start_tick``: a multiple of the array width, or the one array below the
    lowest tick."""
    width = ticks_in_array(tick_spacing)
    if not MIN_TICK_INDEX <= start <= MAX_TICK_INDEX:
        if start > MIN_TICK_INDEX:
            return False
        remainder = -(-MIN_TICK_INDEX % width)  # Rust's %, which keeps the dividend's sign
        return start == MIN_TICK_INDEX - (remainder + width)
    return start % width == 0


def tick_array_starts(pool: Whirlpool, *, a_to_b: bool) -> list[int]:
    """The start indexes of the (at most three) tick arrays a swap walks, in walk order."""
    width = ticks_in_array(pool.tick_spacing)
    base = pool.tick_current_index // width * width
    if a_to_b:
        offsets = (0, -1, -2)
    else:
        offsets = (1, 2, 3) if pool.tick_current_index + pool.tick_spacing >= base + width else (0, 1, 2)
    starts = [base + o * width for o in offsets]
    return [s for s in starts if is_valid_start_tick(s, pool.tick_spacing)]


@dataclass(frozen=True, slots=True)
class _Array:
    start: int
    ticks: tuple[Tick, ...] | None  # None: an account that does not exist, every tick uninitialized

    def in_search_range(self, tick: int, spacing: int, shifted: bool) -> bool:
        lower, upper = self.start, self.start + ticks_in_array(spacing)
        if shifted:
            lower, upper = lower - spacing, upper - spacing
        return lower <= tick < upper

    def offset(self, tick: int, spacing: int) -> int:
        return (tick - self.start) // spacing

    def next_initialized(self, tick: int, spacing: int, a_to_b: bool) -> int | None:
        if not self.in_search_range(tick, spacing, not a_to_b):
            raise _fail("InvalidTickArraySequence")
        if self.ticks is None:
            return None
        offset = self.offset(tick, spacing) + (0 if a_to_b else 1)
        step = -1 if a_to_b else 1
        while 0 <= offset < TICK_ARRAY_SIZE:
            if self.ticks[offset].initialized:
                return offset * spacing + self.start
            offset += step
        return None

    def tick(self, tick: int, spacing: int) -> Tick | None:
        if not self.in_search_range(tick, spacing, False) or not MIN_TICK_INDEX <= tick <= MAX_TICK_INDEX:
            return None
        if tick % spacing != 0:
            return None
        return EMPTY_TICK if self.ticks is None else self.ticks[self.offset(tick, spacing)]


def _sequence(pool: Whirlpool, arrays: Mapping[int, TickArray], a_to_b: bool) -> list[_Array]:
    starts = tick_array_starts(pool, a_to_b=a_to_b)
    if not starts:
        raise _fail("InvalidTickArraySequence")
    return [_Array(s, arrays[s].ticks if s in arrays else None) for s in starts[:MAX_TICK_ARRAYS]]


def _next_initialized(sequence: list[_Array], tick: int, spacing: int, a_to_b: bool, index: int) -> tuple[int, int]:
    """The program's ``get_next_initialized_tick_index``: the array and tick the next step runs to."""
    search = tick
    while True:
        if index >= len(sequence):
            raise _fail("TickArraySequenceInvalidIndex")
        array = sequence[index]
        found = array.next_initialized(search, spacing, a_to_b)
        if found is not None:
            return index, found
        if a_to_b and array.start <= MIN_TICK_INDEX:
            return index, MIN_TICK_INDEX
        if not a_to_b and array.start + ticks_in_array(spacing) > MAX_TICK_INDEX:
            return index, MAX_TICK_INDEX
        last = array.start + ticks_in_array(spacing) - 1
        if index + 1 == len(sequence):
            return index, array.start if a_to_b else last
        search = array.start - 1 if a_to_b else last
        index += 1


# --- the swap ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SwapResult:
    """What the program's swap moves: ``amount_in`` from the trader (the fee included) and ``amount_out`` to
    them; ``fee`` is the trading fee in the input token, ``protocol_fee`` the part of it the pool owes the
    protocol; the pool's price, tick and liquidity after it, and the initialized ticks it crossed."""

    a_to_b: bool
    amount_in: int
    amount_out: int
    fee: int
    protocol_fee: int
    next_sqrt_price: int
    next_tick_index: int
    next_liquidity: int
    next_fee_growth_global: int
    ticks_crossed: int
    filled: bool


def swap(
    pool: Whirlpool,
    arrays: Mapping[int, TickArray],
    amount: int,
    *,
    a_to_b: bool,
    amount_is_input: bool,
    sqrt_price_limit: int = NO_EXPLICIT_SQRT_PRICE_LIMIT,
) -> SwapResult:
    """The program's swap of ``amount`` (in or out) over the pool's tick arrays ``arrays`` (by start index; an
    array missing is uninitialized), with the price stopping at ``sqrt_price_limit`` (0: no limit)."""
    limit = sqrt_price_limit
    if limit == NO_EXPLICIT_SQRT_PRICE_LIMIT:
        limit = MIN_SQRT_PRICE_X64 if a_to_b else MAX_SQRT_PRICE_X64
    if not MIN_SQRT_PRICE_X64 <= limit <= MAX_SQRT_PRICE_X64:
        raise _fail("SqrtPriceOutOfBounds")
    if (a_to_b and limit > pool.sqrt_price) or (not a_to_b and limit < pool.sqrt_price):
        raise _fail("InvalidSqrtPriceLimitDirection")
    if not 0 <= amount <= U64_MAX:
        raise RejectedError(f"amount must be a u64, got {amount}", code="invalid_amount")
    if amount == 0:
        raise RejectedError("the program refuses to swap zero", code="amount_too_small")
    spacing = pool.tick_spacing
    sequence = _sequence(pool, arrays, a_to_b)
    remaining, calculated, protocol_fee, fee_sum, crossed = amount, 0, 0, 0, 0
    price, tick, liquidity, array_index = pool.sqrt_price, pool.tick_current_index, pool.liquidity, 0
    growth = pool.fee_growth_global_a if a_to_b else pool.fee_growth_global_b
    while remaining > 0 and limit != price:
        next_array, next_tick = _next_initialized(sequence, tick, spacing, a_to_b, array_index)
        tick_price = sqrt_price_from_tick_index(next_tick)
        target = max(limit, tick_price) if a_to_b else min(limit, tick_price)
        step = compute_swap_step(remaining, pool.fee_rate, liquidity, price, target, amount_is_input=amount_is_input,
                                 a_to_b=a_to_b)  # fmt: skip
        if amount_is_input:
            remaining -= step.amount_in + step.fee_amount
            calculated += step.amount_out
        else:
            remaining -= step.amount_out
            calculated += step.amount_in + step.fee_amount
        if remaining < 0:
            raise _fail("AmountRemainingOverflow")
        fee_sum += step.fee_amount
        if calculated > U64_MAX or fee_sum > U64_MAX:
            raise _fail("AmountCalcOverflow")
        global_fee = step.fee_amount
        if pool.protocol_fee_rate > 0:
            delta = global_fee * pool.protocol_fee_rate // PROTOCOL_FEE_RATE_MUL_VALUE
            global_fee -= delta
            protocol_fee += delta
        if liquidity > 0:
            growth = (growth + (global_fee << 64) // liquidity) & U128_MAX
        if step.next_price == tick_price:
            crossing = sequence[next_array].tick(next_tick, spacing)
            if crossing is not None and crossing.initialized:
                liquidity += -crossing.liquidity_net if a_to_b else crossing.liquidity_net
                if liquidity < 0:
                    raise _fail("LiquidityUnderflow")
                if liquidity > U128_MAX:
                    raise _fail("LiquidityOverflow")
                crossed += 1
            offset = sequence[next_array].offset(next_tick, spacing)
            last = (a_to_b and offset == 0) or (not a_to_b and offset == TICK_ARRAY_SIZE - 1)
            array_index = next_array + 1 if last else next_array
            tick = next_tick - 1 if a_to_b else next_tick
        elif step.next_price != price:
            tick = tick_index_from_sqrt_price(step.next_price)
        price = step.next_price
    if remaining > 0 and not amount_is_input and sqrt_price_limit == NO_EXPLICIT_SQRT_PRICE_LIMIT:
        raise _fail("PartialFillError")
    used = amount - remaining
    amount_in, amount_out = (used, calculated) if amount_is_input else (calculated, used)
    return SwapResult(
        a_to_b=a_to_b, amount_in=amount_in, amount_out=amount_out, fee=fee_sum, protocol_fee=protocol_fee,
        next_sqrt_price=price, next_tick_index=tick, next_liquidity=liquidity, next_fee_growth_global=growth,
        ticks_crossed=crossed, filled=remaining == 0,
    )  # fmt: skip


# --- quotes ------------------------------------------------------------------------------------------------


def check_fee_tier(pool: Whirlpool) -> None:
    """Later programs add adaptive-fee pools, whose fee grows with volatility as their oracle account counts it;
    such a pool's seed names its fee tier instead of repeating its tick spacing. Its fee is not priced here, so
    it is refused rather than guessed."""
    if pool.tick_spacing_seed != pool.tick_spacing.to_bytes(2, "little"):
        raise PoolNotTradable("the Whirlpool has an adaptive fee tier, which these quotes do not price")


@dataclass(frozen=True, slots=True)
class WhirlpoolQuote:
    """A quote of ``swap_v2`` with no price limit: ``amount_in`` leaves the trader's account (the fee, in the
    input token, included) and ``amount_out`` arrives. ``price_impact_pct`` is how far the marginal price
    moved, in percent."""

    a_to_b: bool
    amount_in: int
    amount_out: int
    fee: int
    protocol_fee: int
    next_sqrt_price: int
    ticks_crossed: int
    price_impact_pct: Decimal


def _quote(pool: Whirlpool, result: SwapResult) -> WhirlpoolQuote:
    before, after = Decimal(pool.sqrt_price) ** 2, Decimal(result.next_sqrt_price) ** 2
    impact = (abs(after - before) * 100 / before).quantize(IMPACT_QUANTUM)
    return WhirlpoolQuote(result.a_to_b, result.amount_in, result.amount_out, result.fee, result.protocol_fee,
                          result.next_sqrt_price, result.ticks_crossed, impact)  # fmt: skip


def quote_exact_in(pool: Whirlpool, arrays: Mapping[int, TickArray], amount_in: int, *, a_to_b: bool) -> WhirlpoolQuote:
    """What ``swap_v2`` in exact-in mode pays for ``amount_in`` of token A (``a_to_b``) or B. Raises
    ``InsufficientLiquidity`` where the three tick arrays cannot take it all, or ``RejectedError``
    (``amount_too_small``) where it buys nothing."""
    if not 0 < amount_in <= U64_MAX:
        raise RejectedError(f"amount_in must be a positive u64, got {amount_in}", code="invalid_amount")
    check_fee_tier(pool)
    result = swap(pool, arrays, amount_in, a_to_b=a_to_b, amount_is_input=True)
    if not result.filled:
        raise InsufficientLiquidity(f"the pool takes only {result.amount_in} of {amount_in} raw units")
    if result.amount_out == 0:
        raise RejectedError(f"{amount_in} raw units are too small to buy anything", code="amount_too_small")
    return _quote(pool, result)


def quote_exact_out(
    pool: Whirlpool, arrays: Mapping[int, TickArray], amount_out: int, *, a_to_b: bool
) -> WhirlpoolQuote:
    """What ``swap_v2`` in exact-out mode spends for exactly ``amount_out`` of token B (``a_to_b``) or A.
    Raises ``InsufficientLiquidity`` where the three tick arrays cannot fill it."""
    if not 0 < amount_out <= U64_MAX:
        raise RejectedError(f"amount_out must be a positive u64, got {amount_out}", code="invalid_amount")
    check_fee_tier(pool)
    return _quote(pool, swap(pool, arrays, amount_out, a_to_b=a_to_b, amount_is_input=False))
