"""DLMM exact-in quotes: the ``meteora-dlmm`` package's bin walk, plus what the swap needs around it. Pure.

The package prices the swap (lamport-exact against the program). It only sees the bin arrays it is
given and raises ``InsufficientBinArrays`` when the walk leaves them; here that becomes
:class:`NeedBinArrays`, naming the next arrays *with liquidity* in the walk direction (from the pair's
bitmap, and its extension beyond ``[-512, 511]``), so the caller fetches exactly those. Arrays that
were never created lie in the gaps between and count as empty, as the program skips them.

Around the package's answer, a replay of the same walk (with the package's fee functions) gives what
the package does not report: the trading fee, the price impact, and the bin arrays the swap crosses,
which ``swap2`` must list. The replay's amount out must equal the package's, or the quote is refused.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import meteora_dlmm
from meteora_dlmm import InsufficientBinArrays, MintInfo
from meteora_dlmm import fees as package_fees
from solders.pubkey import Pubkey

from adapters.dexes.meteora_dlmm.layouts import (
    ACTIVATION_BY_SLOT,
    BITMAP_ARRAYS,
    EXTENSION_WORDS,
    PAIR_CUSTOMIZABLE_PERMISSIONLESS,
    PAIR_PERMISSION,
    BitmapExtension,
    LbPair,
    bin_array_index,
    decode_bitmap_extension,
    decode_lb_pair,
)
from adapters.dexes.meteora_dlmm.package import pool_state
from adapters.solana.accounts import Clock
from kernel.errors import FatalError, InsufficientLiquidity, PoolNotTradable
from kernel.money import ceil_div

Q64 = 1 << 64
FEE_PRECISION = 1_000_000_000
_U128_MAX = (1 << 128) - 1
_MAX_EXPONENT = 0x80000
# The extension's reach: 13 words of 512 arrays on each side, the LbPair's own word included.
_REACH = BITMAP_ARRAYS * (EXTENSION_WORDS + 1)

# The package's functions carry no annotations: typed aliases keep strict mypy meaningful here.
_package_quote: Any = meteora_dlmm.quote
_update_reference: Any = package_fees.update_reference
_update_va: Any = package_fees.update_va
_total_fee: Any = package_fees.total_fee


class NeedBinArrays(Exception):
    """The walk needs bin arrays that were not given: fetch ``indexes`` (walk order) and quote again."""

    def __init__(self, indexes: tuple[int, ...]) -> None:
        super().__init__(f"the swap needs bin arrays {list(indexes)}")
        self.indexes = indexes


def price_from_id(bin_id: int, bin_step: int) -> int:
    """The Q64.64 price of ``bin_id`` exactly as the program computes it (``get_price_from_id``):
    ``(1 + bin_step / 10_000) ** bin_id`` by binary exponentiation in Q64.64, inverting the base when
    it is above one so no product overflows 128 bits."""
    base = Q64 + (bin_step << 64) // 10_000
    if bin_id == 0:
        return Q64
    invert = bin_id < 0
    exponent = abs(bin_id)
    if exponent >= _MAX_EXPONENT:
        raise ValueError(f"bin id {bin_id} is out of range")
    squared, result = base, Q64
    if squared >= result:
        squared = _U128_MAX // squared
        invert = not invert
    for bit in range(19):
        if bit:
            squared = (squared * squared) >> 64
        if exponent & (1 << bit):
            result = (result * squared) >> 64
    if result == 0:
        raise ValueError(f"bin id {bin_id} underflows at bin step {bin_step}")
    return _U128_MAX // result if invert else result


# --- which bin arrays exist -------------------------------------------------------------------------


class Bitmap:
    """Which of a pair's bin arrays exist, from the LbPair's bitmap and the optional extension.

    Held as one integer whose bit ``k + 13 * 512`` stands for array ``k``, so the next array in either
    direction is a couple of big-integer operations away.
    """

    def __init__(self, pair: LbPair, extension: BitmapExtension | None = None) -> None:
        bits = pair.bin_array_bitmap << (_REACH - BITMAP_ARRAYS)
        if extension is not None:
            for word, value in enumerate(extension.positive):
                bits |= value << (_REACH + BITMAP_ARRAYS * (word + 1))
            for word, value in enumerate(extension.negative):
                # Bit b of negative word w is array -(512 (w + 1) + b) - 1: reversed order, below -512.
                low = _REACH - BITMAP_ARRAYS * (word + 2)
                bits |= _reverse_bits(value, BITMAP_ARRAYS) << low
        self._bits = bits

    @staticmethod
    def in_default_range(index: int) -> bool:
        """Whether the LbPair's own bitmap covers array ``index`` (else the extension must be passed)."""
        return -BITMAP_ARRAYS <= index < BITMAP_ARRAYS

    def has(self, index: int) -> bool:
        return -_REACH <= index < _REACH and bool(self._bits >> (index + _REACH) & 1)

    def next_from(self, start: int, swap_for_y: bool) -> int | None:
        """The first existing array at ``start`` or beyond it in the walk direction (down selling X)."""
        position = start + _REACH
        if swap_for_y:
            if position < 0:
                return None
            below = self._bits & ((1 << (min(position, 2 * _REACH - 1) + 1)) - 1)
            return below.bit_length() - 1 - _REACH if below else None
        position = max(position, 0)
        above = self._bits >> position
        return position + ((above & -above).bit_length() - 1) - _REACH if above else None

    def walk(self, start: int, swap_for_y: bool) -> Iterator[int]:
        """Every existing array from ``start`` on, in walk order."""
        step = -1 if swap_for_y else 1
        index = self.next_from(start, swap_for_y)
        while index is not None:
            yield index
            index = self.next_from(index + step, swap_for_y)


def _reverse_bits(value: int, width: int) -> int:
    return int(format(value, f"0{width}b")[::-1], 2)


# --- the pair as fetched ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairAccounts:
    """An LbPair as fetched: its address, raw bytes (the package reads those) and decoded form, and its
    bitmap extension when one exists."""

    address: Pubkey
    data: bytes
    pair: LbPair
    extension: BitmapExtension | None = None

    @classmethod
    def from_bytes(cls, address: Pubkey, data: bytes, extension: bytes | None = None) -> PairAccounts:
        ext = decode_bitmap_extension(extension) if extension is not None else None
        return cls(address, bytes(data), decode_lb_pair(data), ext)

    @property
    def bitmap(self) -> Bitmap:
        return Bitmap(self.pair, self.extension)

    @property
    def active_array(self) -> int:
        return bin_array_index(self.pair.active_id)

    def arrays_ahead(self, swap_for_y: bool, count: int, skip: frozenset[int] = frozenset()) -> tuple[int, ...]:
        """The first ``count`` existing arrays from the active one in the walk direction, minus ``skip``."""
        out: list[int] = []
        for index in self.bitmap.walk(self.active_array, swap_for_y):
            if len(out) == count:
                break
            if index not in skip:
                out.append(index)
        return tuple(out)


def check_tradable(pair: LbPair, clock: Clock) -> None:
    """Raise :class:`PoolNotTradable` when the program would refuse a swap on ``pair`` now."""
    if pair.status != 0:
        raise PoolNotTradable("the pair is disabled")
    if pair.pair_type in (PAIR_PERMISSION, PAIR_CUSTOMIZABLE_PERMISSIONLESS):
        now = clock.slot if pair.activation_type == ACTIVATION_BY_SLOT else clock.unix_timestamp
        if now < pair.activation_point:
            raise PoolNotTradable(f"the pair activates at {pair.activation_point}, now is {now}")


# --- the quote -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExactInQuote:
    """An exact-in DLMM swap. ``fee`` is the trading fee, in raw units of the input token when
    ``fee_on_input``, else of the output token (collect-fee mode 1 selling X). ``bin_arrays`` are the
    indexes of the existing arrays the swap crosses, in walk order: ``swap2``'s remaining accounts."""

    amount_in: int
    amount_out: int
    fee: int
    fee_on_input: bool
    price_impact_pct: Decimal
    bin_arrays: tuple[int, ...]
    bins_crossed: int
    swap_for_y: bool
    needs_extension: bool


def quote_exact_in(
    pool: PairAccounts,
    arrays: Mapping[int, bytes],
    amount_in: int,
    swap_for_y: bool,
    *,
    clock: Clock,
    mint_in: MintInfo | None = None,
    mint_out: MintInfo | None = None,
    prefetch: int = 3,
) -> ExactInQuote:
    """Quote selling ``amount_in`` raw units of X (``swap_for_y``) or Y, given bin arrays by index.

    Raises :class:`NeedBinArrays` (with up to ``prefetch`` indexes) when the walk goes past the arrays
    given, ``InsufficientLiquidity`` when the pool cannot fill it (the program would fail the swap), and
    :class:`PoolNotTradable` when swaps are refused now. Token-2022 transfer fees of ``mint_in`` and
    ``mint_out`` apply outside the walk, as the package applies them.
    """
    if amount_in <= 0:
        raise ValueError(f"amount_in must be positive, got {amount_in}")
    pair = pool.pair
    check_tradable(pair, clock)
    start = pool.active_array
    path = pool.bitmap.walk(start, swap_for_y)
    loaded: list[int] = []
    missing: list[int] = []
    for index in path:
        if index in arrays:
            loaded.append(index)
            continue
        missing.append(index)
        missing.extend(itertools.islice(path, prefetch - 1))
        break
    if not loaded:
        if missing:
            raise NeedBinArrays(tuple(missing))
        raise InsufficientLiquidity("the pool has no liquidity in this direction")

    state = pool_state(pool.data, [arrays[i] for i in loaded], pool.address)
    # Arrays never created, between the active bin and the last array given, hold no liquidity.
    low, high = sorted((start, loaded[-1]))
    state.loaded_arrays.update(range(low, high + 1))
    state.exhaustive = not missing
    fee_in = mint_in.transfer_fee if mint_in is not None else None
    fee_out = mint_out.transfer_fee if mint_out is not None else None
    support_limit_order = pair.support_limit_order
    try:
        result = _package_quote(
            state,
            amount_in,
            swap_for_y,
            timestamp=clock.unix_timestamp,
            support_limit_order=support_limit_order,
            strict=True,
            fee_in=fee_in,
            fee_out=fee_out,
        )
    except InsufficientBinArrays:
        raise NeedBinArrays(tuple(missing)) from None
    if result.remaining_in > 0:
        raise InsufficientLiquidity(
            f"the pool runs out of liquidity with {result.remaining_in} of {amount_in} raw units unfilled"
        )

    pool_in = amount_in - (fee_in.fee_on(amount_in) if fee_in is not None else 0)
    walk = _replay(state, pair, pool_in, swap_for_y, clock.unix_timestamp, support_limit_order)
    amount_out = walk.out - (fee_out.fee_on(walk.out) if fee_out is not None else 0)
    if amount_out != result.amount_out:
        raise FatalError(f"fee replay paid {amount_out}, meteora-dlmm {result.amount_out}: refusing the quote")
    last_array = bin_array_index(walk.last_bin)
    crossed = tuple(i for i in loaded if (i >= last_array if swap_for_y else i <= last_array))
    start_price = price_from_id(pair.active_id, pair.bin_step)
    ideal = walk.net_in * start_price >> 64 if swap_for_y else (walk.net_in << 64) // start_price
    gross = walk.out + (walk.fee if not walk.fee_on_input else 0)
    impact = Decimal(ideal - gross) * 100 / Decimal(ideal) if ideal > gross else Decimal(0)
    return ExactInQuote(
        amount_in=amount_in,
        amount_out=amount_out,
        fee=walk.fee,
        fee_on_input=walk.fee_on_input,
        price_impact_pct=impact,
        bin_arrays=crossed,
        bins_crossed=walk.bins,
        swap_for_y=swap_for_y,
        needs_extension=not all(Bitmap.in_default_range(i) for i in (start, *crossed)),
    )


@dataclass(frozen=True, slots=True)
class _Walk:
    out: int  # after the trading fee when it is taken from the output; before any transfer fee
    fee: int
    fee_on_input: bool
    net_in: int  # what went into bins, fees excluded
    last_bin: int
    bins: int


def _replay(state: Any, pair: LbPair, amount: int, swap_for_y: bool, timestamp: int, limit_orders: bool) -> _Walk:
    """The package's walk again, bin by bin, keeping the fee and the last bin touched."""
    params = state.static_params
    variable = copy.copy(state.variable_params)
    _update_reference(pair.active_id, variable, params, timestamp)
    fee_on_input = pair.fee_on_input(swap_for_y)
    step = -1 if swap_for_y else 1
    low, high = state.loaded_bin_range()
    current, remaining = pair.active_id, amount
    out_total = fee_total = net_total = bins = 0
    last = current
    while remaining > 0:
        if not low <= current <= high:
            raise FatalError(f"the fee replay left the loaded bins at {current}")
        b = state.bins.get(current)
        reserves = _reserves(b, swap_for_y, limit_orders) if b is not None else (0, 0, 0)
        if not any(reserves):
            current += step
            continue
        _update_va(current, variable, params)
        rate = int(_total_fee(pair.bin_step, params, variable))
        fee = ceil_div(remaining * rate, FEE_PRECISION) if fee_on_input else 0
        left = remaining - fee
        used = out = 0
        for reserve in reserves:
            if left <= 0:
                break
            tier_in, left, tier_out = _fill(b.price_x64, left, reserve, swap_for_y)
            used += tier_in
            out += tier_out
        if left > 0:  # the bin is drained: it took only what buys all of it, plus the fee on that
            consumed = used + ceil_div(used * rate, FEE_PRECISION - rate) if fee_on_input else used
            fee = consumed - used
            remaining -= consumed
        else:
            remaining = 0
        if not fee_on_input:
            fee = ceil_div(out * rate, FEE_PRECISION)
            out -= fee
        out_total += out
        fee_total += fee
        net_total += used
        bins += 1
        last = current
        if remaining > 0:
            current += step
    return _Walk(out_total, fee_total, fee_on_input, net_total, last, bins)


def _reserves(b: Any, swap_for_y: bool, limit_orders: bool) -> tuple[int, int, int]:
    """The bin's liquidity in fill order: market making, processed limit orders, open limit orders."""
    market = int(b.amount_y if swap_for_y else b.amount_x)
    if limit_orders and bool(b.ask_side) != swap_for_y:
        return market, int(b.processed_order), int(b.open_order)
    return market, 0, 0


def _fill(price: int, amount: int, reserve: int, swap_for_y: bool) -> tuple[int, int, int]:
    """``(amount used, amount left, out)`` filling ``amount`` against ``reserve`` at ``price``."""
    if reserve <= 0:
        return 0, amount, 0
    max_in = ceil_div(reserve * Q64, price) if swap_for_y else ceil_div(reserve * price, Q64)
    if amount >= max_in:
        return max_in, amount - max_in, reserve
    return amount, 0, (amount * price) // Q64 if swap_for_y else (amount * Q64) // price
