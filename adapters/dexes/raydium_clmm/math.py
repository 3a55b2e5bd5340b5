"""The Raydium CLMM exact-in and exact-out quotes in the program's integer arithmetic. Pure: no I/O.

The steps are raydium-clmm's ``swap_v2`` (``instructions/swap.rs`` ``swap_internal``, ``libraries/``), checked
against the program binary:

1. A swap needs bit 4 of ``status`` clear, now after ``open_time``, and a non-zero amount.
2. The walk starts in the tick array holding ``tick_current`` if the bitmap marks it initialized, else in the
   next initialized one in the swap's direction (token 0 in moves the price down, token 1 in moves it up).
   Within an array it takes the next initialized tick (at or below the current tick going down, above it going
   up); past the array's last one it takes the first initialized tick of the next initialized array. No such
   array: the program fails (``LiquidityInsufficient``) even when the amount was nearly filled.
3. Each step runs ``compute_swap_step`` from the current price towards that tick's price (or the price limit)
   with the in-range liquidity. Exact in: ``less_fee = floor(remaining * (1e6 - fee) / 1e6)``; if it covers the
   step's input (rounded up) the price reaches the target, else the next price comes from ``less_fee`` (token 0
   in: ``ceil(L * 2**64 * p / (L * 2**64 + in * p))``; token 1 in: ``p + floor(in * 2**64 / L)``). The step's
   input is rounded up, its output down; the fee is ``remaining - in`` when the step ends inside the range, else
   ``ceil(in * fee / (1e6 - fee))``. Exact out mirrors it with the output rounded down and capped at what is
   left, the input rounded up and the fee always grossed up.
4. Reaching an initialized tick crosses it: ``liquidity_net`` is added going up and subtracted going down; the
   current tick becomes the tick (up) or the tick minus one (down). A step ending inside the range recomputes
   the tick from the price.
5. The protocol and fund take ``floor(step_fee * rate / 1e6)`` of every step's fee; neither changes what the
   trader pays or receives.
6. The program refuses a swap whose input or output is zero (``TooSmallInputOrOutputAmount``) or that leaves
   the price where it was.

Token-2022 transfer fees are not modelled: :func:`swap` prices the amounts the pool itself moves.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from solders.pubkey import Pubkey

from adapters.dexes.raydium_clmm.layouts import (
    EXTENSION_BITMAPS,
    TICK_ARRAY_SIZE,
    AmmConfig,
    PoolState,
    TickArrayBitmapExtension,
    TickArrayState,
    TickState,
)
from kernel.errors import InsufficientLiquidity, PoolNotTradable, QuoteUnavailable, RejectedError
from kernel.money import U64_MAX

MIN_TICK = -443_636
MAX_TICK = 443_636
MIN_SQRT_PRICE_X64 = 4_295_048_016
MAX_SQRT_PRICE_X64 = 79_226_673_521_066_979_257_578_248_091
FEE_RATE_DENOMINATOR = 1_000_000
Q64 = 1 << 64
U128_MAX = 2**128 - 1
BITMAP_SIZE = 512  # tick arrays on each side of zero in the pool's own bitmap

# 2**64 / 1.0001 ** (2 ** (i - 1)), for bit i of |tick| (get_sqrt_price_at_tick).
_TICK_FACTORS = (
    0xFFF97272373D4000, 0xFFF2E50F5F657000, 0xFFE5CACA7E10F000, 0xFFCB9843D60F7000, 0xFF973B41FA98E800,
    0xFF2EA16466C9B000, 0xFE5DEE046A9A3800, 0xFCBE86C7900BB000, 0xF987A7253AC65800, 0xF3392B0822BB6000,
    0xE7159475A2CAF000, 0xD097F3BDFD2F2000, 0xA9F746462D9F8000, 0x70D869A156F31C00, 0x31BE135F97ED3200,
    0x9AA508B5B85A500, 0x5D6AF8DEDC582C, 0x2216E584F5FA,
)  # fmt: skip
_BIT_PRECISION = 16


class ProgramArithmeticError(PoolNotTradable):
    """The program's own arithmetic would fail here (an overflow, a price leaving its bounds)."""


class TickArrayMissing(QuoteUnavailable):
    """The swap walks into an initialized tick array that was not read: read ``start_index`` and quote again."""

    def __init__(self, start_index: int) -> None:
        super().__init__(f"the swap walks into the tick array at {start_index}, which was not read")
        self.start_index = start_index


# --- tick math --------------------------------------------------------------------------------------------


def get_sqrt_price_at_tick(tick: int) -> int:
    """``1.0001 ** (tick / 2)`` as Q64.64, exactly as the program rounds it."""
    abs_tick = abs(tick)
    if abs_tick > MAX_TICK:
        raise ValueError(f"tick {tick} is beyond ±{MAX_TICK}")
    ratio = 0xFFFCB933BD6FB800 if abs_tick & 1 else Q64
    for i, factor in enumerate(_TICK_FACTORS, start=1):
        if abs_tick & (1 << i):
            ratio = (ratio * factor) >> 64
    if tick > 0:
        ratio = U128_MAX // ratio
    return ratio


def get_tick_at_sqrt_price(sqrt_price_x64: int) -> int:
    """The greatest tick whose price is at or below ``sqrt_price_x64`` (the program's 16-bit log2)."""
    if not MIN_SQRT_PRICE_X64 <= sqrt_price_x64 < MAX_SQRT_PRICE_X64:
        raise ValueError(f"sqrt price {sqrt_price_x64} is outside the program's range")
    msb = sqrt_price_x64.bit_length() - 1
    log2p_integer_x32 = (msb - 64) << 32
    r = sqrt_price_x64 >> (msb - 63) if msb >= 64 else sqrt_price_x64 << (63 - msb)
    bit, fraction_x64 = 0x8000_0000_0000_0000, 0
    for _ in range(_BIT_PRECISION):
        r *= r
        more_than_two = r >> 127
        r >>= 63 + more_than_two
        fraction_x64 += bit * more_than_two
        bit >>= 1
    log2p_x32 = log2p_integer_x32 + (fraction_x64 >> 32)
    log_sqrt_10001_x64 = log2p_x32 * 59_543_866_431_248
    tick_low = (log_sqrt_10001_x64 - 184_467_440_737_095_516) >> 64
    tick_high = (log_sqrt_10001_x64 + 15_793_534_762_490_258_745) >> 64
    if tick_low == tick_high:
        return tick_low
    return tick_high if get_sqrt_price_at_tick(tick_high) <= sqrt_price_x64 else tick_low


def tick_array_start_index(tick: int, tick_spacing: int) -> int:
    """The start of the tick array holding ``tick`` (arrays of 60 ticks, ``tick_spacing`` apart)."""
    return tick // (TICK_ARRAY_SIZE * tick_spacing) * TICK_ARRAY_SIZE * tick_spacing


# --- liquidity and price steps ------------------------------------------------------------------------------


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def delta_amount_0(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int | None:
    """Token 0 between two prices for ``liquidity``; None where it exceeds a u64 (the program's
    ``MaxTokenOverflow``)."""
    lower, upper = sorted((sqrt_a, sqrt_b))
    numerator_1, numerator_2 = liquidity << 64, upper - lower
    if round_up:
        result = _ceil_div(_ceil_div(numerator_1 * numerator_2, upper), lower)
    else:
        result = numerator_1 * numerator_2 // upper // lower
    return result if result <= U64_MAX else None


def delta_amount_1(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int | None:
    """Token 1 between two prices for ``liquidity``; None where it exceeds a u64."""
    lower, upper = sorted((sqrt_a, sqrt_b))
    product = liquidity * (upper - lower)
    result = _ceil_div(product, Q64) if round_up else product >> 64
    return result if result <= U64_MAX else None


def _u128(value: int, what: str) -> int:
    if not 0 <= value <= U128_MAX:
        raise ProgramArithmeticError(f"{what} does not fit a u128")
    return value


def next_sqrt_price_from_amount_0(sqrt_price: int, liquidity: int, amount: int, add: bool) -> int:
    """The price after ``amount`` of token 0 enters (``add``) or leaves the pool, rounded up."""
    if amount == 0:
        return sqrt_price
    numerator_1 = liquidity << 64
    product = amount * sqrt_price
    if add:
        return _u128(_ceil_div(numerator_1 * sqrt_price, numerator_1 + product), "the next price")
    denominator = numerator_1 - product
    if denominator <= 0:
        raise InsufficientLiquidity(f"the range cannot pay out {amount} raw units of token 0")
    return _u128(_ceil_div(numerator_1 * sqrt_price, denominator), "the next price")


def next_sqrt_price_from_amount_1(sqrt_price: int, liquidity: int, amount: int, add: bool) -> int:
    """The price after ``amount`` of token 1 enters (``add``) or leaves the pool, rounded down."""
    if add:
        return _u128(sqrt_price + _u128((amount << 64) // liquidity, "a price move"), "the next price")
    result = sqrt_price - _u128(_ceil_div(amount << 64, liquidity), "a price move")
    if result < 0:
        raise InsufficientLiquidity(f"the range cannot pay out {amount} raw units of token 1")
    return result


@dataclass(frozen=True, slots=True)
class SwapStep:
    """One step of the walk: where the price ends, and what moved (the fee on top of ``amount_in``)."""

    sqrt_price_next_x64: int
    amount_in: int
    amount_out: int
    fee_amount: int


def _required(value: int | None) -> int:
    if value is None:
        raise ProgramArithmeticError("a step's amount does not fit a u64 (MaxTokenOverflow)")
    return value


def compute_swap_step(
    sqrt_price_current: int,
    sqrt_price_target: int,
    liquidity: int,
    amount_remaining: int,
    fee_rate: int,
    *,
    is_base_input: bool,
    zero_for_one: bool,
) -> SwapStep:
    """``swap_math::compute_swap_step``: move from the current price towards the target with what remains."""
    amount_in = amount_out = 0
    if is_base_input:
        less_fee = amount_remaining * (FEE_RATE_DENOMINATOR - fee_rate) // FEE_RATE_DENOMINATOR
        if zero_for_one:
            in_range = delta_amount_0(sqrt_price_target, sqrt_price_current, liquidity, True)
        else:
            in_range = delta_amount_1(sqrt_price_current, sqrt_price_target, liquidity, True)
        if in_range is not None:
            amount_in = in_range
        if in_range is not None and less_fee >= amount_in:
            sqrt_next = sqrt_price_target
        elif zero_for_one:
            sqrt_next = next_sqrt_price_from_amount_0(sqrt_price_current, liquidity, less_fee, True)
        else:
            sqrt_next = next_sqrt_price_from_amount_1(sqrt_price_current, liquidity, less_fee, True)
    else:
        if zero_for_one:
            out_range = delta_amount_1(sqrt_price_target, sqrt_price_current, liquidity, False)
        else:
            out_range = delta_amount_0(sqrt_price_current, sqrt_price_target, liquidity, False)
        if out_range is not None:
            amount_out = out_range
        if out_range is not None and amount_remaining >= amount_out:
            sqrt_next = sqrt_price_target
        elif zero_for_one:
            sqrt_next = next_sqrt_price_from_amount_1(sqrt_price_current, liquidity, amount_remaining, False)
        else:
            sqrt_next = next_sqrt_price_from_amount_0(sqrt_price_current, liquidity, amount_remaining, False)

    reached = sqrt_next == sqrt_price_target
    if zero_for_one:
        if not (reached and is_base_input):
            amount_in = _required(delta_amount_0(sqrt_next, sqrt_price_current, liquidity, True))
        if not (reached and not is_base_input):
            amount_out = _required(delta_amount_1(sqrt_next, sqrt_price_current, liquidity, False))
    else:
        if not (reached and is_base_input):
            amount_in = _required(delta_amount_1(sqrt_price_current, sqrt_next, liquidity, True))
        if not (reached and not is_base_input):
            amount_out = _required(delta_amount_0(sqrt_price_current, sqrt_next, liquidity, False))
    if not is_base_input and amount_out > amount_remaining:
        amount_out = amount_remaining
    if is_base_input and not reached:
        fee = amount_remaining - amount_in
        if fee < 0:
            raise ProgramArithmeticError("a step's input exceeds what remains")
    else:
        fee = _ceil_div(amount_in * fee_rate, FEE_RATE_DENOMINATOR - fee_rate)
    return SwapStep(sqrt_next, amount_in, amount_out, fee)


# --- which tick arrays are initialized -----------------------------------------------------------------------


def _bits(value: int) -> Iterable[int]:
    while value:
        low = value & -value
        yield low.bit_length() - 1
        value ^= low


def initialized_tick_arrays(pool: PoolState, extension: TickArrayBitmapExtension | None = None) -> list[int]:
    """The start indexes of every tick array the pool's bitmap (and the extension's) marks initialized, sorted."""
    count = TICK_ARRAY_SIZE * pool.tick_spacing
    bound = count * BITMAP_SIZE  # the ticks one 512-bit bitmap covers
    starts = [(bit - BITMAP_SIZE) * count for bit in _bits(pool.tick_array_bitmap)]
    if extension is not None:
        for i in range(EXTENSION_BITMAPS):
            starts += [(i + 1) * bound + bit * count for bit in _bits(extension.positive[i])]
            starts += [-(i + 2) * bound if bit == 0 else -((i + 1) * bound + (BITMAP_SIZE - bit) * count)
                       for bit in _bits(extension.negative[i])]  # fmt: skip
    return sorted(starts)


def pool_bitmap_with(starts: Iterable[int], tick_spacing: int) -> int:
    """The pool's own bitmap marking the tick arrays at ``starts`` (each within ±512 arrays of zero)."""
    count = TICK_ARRAY_SIZE * tick_spacing
    bitmap = 0
    for start in starts:
        if start % count or not -BITMAP_SIZE <= start // count < BITMAP_SIZE:
            raise ValueError(f"{start} is no tick array start the pool's own bitmap holds")
        bitmap |= 1 << (start // count + BITMAP_SIZE)
    return bitmap


def bitmaps_with(starts: Iterable[int], tick_spacing: int, pool_id: Pubkey) -> tuple[int, TickArrayBitmapExtension]:
    """The pool's own bitmap and the bitmap extension marking the tick arrays at ``starts``, each array where
    the program's ``flip_tick_array_bit`` puts it."""
    count = TICK_ARRAY_SIZE * tick_spacing
    bound = count * BITMAP_SIZE
    own, positive, negative = [], [0] * EXTENSION_BITMAPS, [0] * EXTENSION_BITMAPS
    for start in starts:
        if start % count:
            raise ValueError(f"{start} is no tick array start for tick spacing {tick_spacing}")
        if -bound <= start < bound:
            own.append(start)
            continue
        offset = abs(start) // bound - 1 - (1 if start < 0 and abs(start) % bound == 0 else 0)
        rest = abs(start) % bound // count
        bit = BITMAP_SIZE - rest if start < 0 and rest else rest
        if not 0 <= offset < EXTENSION_BITMAPS:
            raise ValueError(f"{start} is beyond the bitmap extension")
        if start < 0:
            negative[offset] |= 1 << bit
        else:
            positive[offset] |= 1 << bit
    return pool_bitmap_with(own, tick_spacing), TickArrayBitmapExtension(pool_id, tuple(positive), tuple(negative))


def _next_array(starts: list[int], last: int, zero_for_one: bool) -> int | None:
    """The nearest initialized array strictly beyond ``last`` in the swap's direction."""
    if zero_for_one:
        at = bisect.bisect_left(starts, last)
        return starts[at - 1] if at > 0 else None
    at = bisect.bisect_right(starts, last)
    return starts[at] if at < len(starts) else None


def _next_tick_in(array: TickArrayState, tick: int, spacing: int, zero_for_one: bool) -> TickState | None:
    """``next_initialized_tick``: at or below ``tick`` going down, above it going up, within this array."""
    if tick_array_start_index(tick, spacing) != array.start_tick_index:
        return None
    offset = (tick - array.start_tick_index) // spacing
    order = range(offset, -1, -1) if zero_for_one else range(offset + 1, TICK_ARRAY_SIZE)
    return next((array.ticks[i] for i in order if array.ticks[i].initialized), None)


def _first_tick_in(array: TickArrayState, zero_for_one: bool) -> TickState:
    order = range(TICK_ARRAY_SIZE - 1, -1, -1) if zero_for_one else range(TICK_ARRAY_SIZE)
    found = next((array.ticks[i] for i in order if array.ticks[i].initialized), None)
    if found is None:
        raise ProgramArithmeticError(f"the tick array at {array.start_tick_index} is marked but holds no tick")
    return found


# --- the swap ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClmmQuote:
    """What a swap moves, and the pool after it. ``tick_arrays`` are the start indexes the walk used, in order:
    the swap's remaining accounts (after the bitmap extension)."""

    amount_in: int  # what the trader pays, fees included
    amount_out: int
    fee: int  # the trade fee, protocol and fund shares included
    protocol_fee: int
    fund_fee: int
    sqrt_price_x64: int
    tick: int
    liquidity: int
    tick_arrays: tuple[int, ...]
    crossed: int  # initialized ticks crossed


def swap(
    pool: PoolState,
    config: AmmConfig,
    tick_arrays: Mapping[int, TickArrayState],
    amount: int,
    *,
    zero_for_one: bool,
    is_base_input: bool,
    extension: TickArrayBitmapExtension | None = None,
    sqrt_price_limit_x64: int = 0,
    unix_time: int | None = None,
) -> ClmmQuote:
    """``swap_v2`` of ``amount`` (the input when ``is_base_input``, else the output) across the pool's
    initialized ticks. ``tick_arrays`` maps start indexes to the arrays read; a walk into one not there raises
    :class:`TickArrayMissing`. A zero ``sqrt_price_limit_x64`` means no limit (the amount must then fill)."""
    if not 0 < amount <= U64_MAX:
        raise RejectedError(f"the amount must be a positive u64, got {amount}", code="invalid_amount")
    if not pool.swap_enabled:
        raise PoolNotTradable(f"the pool has swaps disabled (status {pool.status})")
    if unix_time is not None and unix_time <= pool.open_time:
        raise PoolNotTradable(f"the pool opens after unix time {pool.open_time}, it is {unix_time}")
    limit = sqrt_price_limit_x64 or (MIN_SQRT_PRICE_X64 + 1 if zero_for_one else MAX_SQRT_PRICE_X64 - 1)
    if (zero_for_one and not MIN_SQRT_PRICE_X64 < limit < pool.sqrt_price_x64) or (
        not zero_for_one and not pool.sqrt_price_x64 < limit < MAX_SQRT_PRICE_X64
    ):
        raise RejectedError(f"the price limit {limit} is on the wrong side of the price", code="invalid_amount")

    spacing, rate = pool.tick_spacing, config.trade_fee_rate
    starts = initialized_tick_arrays(pool, extension)
    here = tick_array_start_index(pool.tick_current, spacing)
    matched = here in starts
    current = here if matched else _next_array(starts, here, zero_for_one)
    if current is None:
        raise InsufficientLiquidity("the pool holds no liquidity in that direction")
    walked = [current]

    def array(start: int) -> TickArrayState:
        found = tick_arrays.get(start)
        if found is None:
            raise TickArrayMissing(start)
        return found

    remaining, calculated = amount, 0
    sqrt_price, tick, liquidity = pool.sqrt_price_x64, pool.tick_current, pool.liquidity
    fee_total = protocol_total = fund_total = crossed = 0
    while remaining != 0 and sqrt_price != limit:
        next_tick = _next_tick_in(array(current), tick, spacing, zero_for_one)
        if next_tick is None:
            if not matched:
                matched = True
                next_tick = _first_tick_in(array(current), zero_for_one)
            else:
                next_tick = TickState()
        if not next_tick.initialized:
            following = _next_array(starts, current, zero_for_one)
            if following is None:
                raise InsufficientLiquidity(f"the pool cannot fill {amount} raw units (LiquidityInsufficient)")
            current = following
            walked.append(current)
            next_tick = _first_tick_in(array(current), zero_for_one)
        tick_next = min(max(next_tick.tick, MIN_TICK), MAX_TICK)
        sqrt_next = get_sqrt_price_at_tick(tick_next)
        beyond = sqrt_next < limit if zero_for_one else sqrt_next > limit
        target = limit if beyond else sqrt_next
        step = compute_swap_step(sqrt_price, target, liquidity, remaining, rate, is_base_input=is_base_input,
                                 zero_for_one=zero_for_one)  # fmt: skip
        start_price, sqrt_price = sqrt_price, step.sqrt_price_next_x64
        if is_base_input:
            remaining -= step.amount_in + step.fee_amount
            calculated += step.amount_out
        else:
            remaining -= step.amount_out
            calculated += step.amount_in + step.fee_amount
        if remaining < 0 or calculated > U64_MAX:
            raise ProgramArithmeticError("the swap's running amounts leave a u64")
        protocol = step.fee_amount * config.protocol_fee_rate // FEE_RATE_DENOMINATOR
        fund = step.fee_amount * config.fund_fee_rate // FEE_RATE_DENOMINATOR
        protocol_total, fund_total = protocol_total + protocol, fund_total + fund
        fee_total += step.fee_amount
        if sqrt_price == sqrt_next:
            if next_tick.initialized:
                net = -next_tick.liquidity_net if zero_for_one else next_tick.liquidity_net
                liquidity += net
                if liquidity < 0:
                    raise ProgramArithmeticError("crossing a tick takes more liquidity than is in range")
                crossed += 1
            tick = tick_next - 1 if zero_for_one else tick_next
        elif sqrt_price != start_price:
            tick = get_tick_at_sqrt_price(sqrt_price)

    filled = amount - remaining
    paid, received = (filled, calculated) if is_base_input else (calculated, filled)
    if paid == 0 or received == 0:
        raise RejectedError(f"{amount} raw units are too small to swap (TooSmallInputOrOutputAmount)",
                            code="amount_too_small")  # fmt: skip
    if sqrt_price == pool.sqrt_price_x64:
        raise RejectedError(f"{amount} raw units do not move the price", code="amount_too_small")
    if sqrt_price_limit_x64 == 0 and remaining != 0:
        raise InsufficientLiquidity(f"the pool cannot fill {amount} raw units")
    return ClmmQuote(
        amount_in=paid, amount_out=received, fee=fee_total, protocol_fee=protocol_total,
        fund_fee=fund_total, sqrt_price_x64=sqrt_price, tick=tick, liquidity=liquidity, tick_arrays=tuple(walked),
        crossed=crossed,
    )  # fmt: skip


def quote_exact_in(
    pool: PoolState,
    config: AmmConfig,
    tick_arrays: Mapping[int, TickArrayState],
    amount_in: int,
    *,
    zero_for_one: bool,
    extension: TickArrayBitmapExtension | None = None,
    unix_time: int | None = None,
) -> ClmmQuote:
    """What ``amount_in`` buys (token 0 in when ``zero_for_one``)."""
    return swap(pool, config, tick_arrays, amount_in, zero_for_one=zero_for_one, is_base_input=True,
                extension=extension, unix_time=unix_time)  # fmt: skip


def quote_exact_out(
    pool: PoolState,
    config: AmmConfig,
    tick_arrays: Mapping[int, TickArrayState],
    amount_out: int,
    *,
    zero_for_one: bool,
    extension: TickArrayBitmapExtension | None = None,
    unix_time: int | None = None,
) -> ClmmQuote:
    """What buying exactly ``amount_out`` costs (token 0 in when ``zero_for_one``)."""
    return swap(pool, config, tick_arrays, amount_out, zero_for_one=zero_for_one, is_base_input=False,
                extension=extension, unix_time=unix_time)  # fmt: skip
