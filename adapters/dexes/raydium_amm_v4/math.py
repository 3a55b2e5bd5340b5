"""The AMM v4 exact-in and exact-out quotes in the program's integer arithmetic. Pure: no I/O.

The steps are raydium-amm's ``process_swap_base_in`` / ``process_swap_base_out`` for a pool that swaps
without its order book (status 6, 7 once ``pool_open_time`` has passed, and 1 on builds without the order
book), checked against the program binary:

1. Reserves: each vault's amount less the PnL the protocol has yet to take from it
   (``x = vault_in - need_take_pnl_in``, ``y`` likewise).
2. Exact in: ``fee = ceil(amount_in * swap_fee_numerator / swap_fee_denominator)``, ``a' = amount_in - fee``,
   ``out = floor(y * a' / (x + a'))``. The program fails with 30 (ExceededSlippage) when ``out`` is below
   ``minimum_amount_out``, and with InvalidInput when it is 0.
3. Exact out: ``a' = ceil(x * out / (y - out))``, ``in = ceil(a' * den / (den - num))``, ``fee = in - a'``;
   30 when ``in`` is above ``max_amount_in``.

Every "ceil" is the program's ``checked_ceil_div``, whose rounding of a quotient below one depends on the
build (:class:`~adapters.dexes.raydium_amm_v4.config.ProgramBuild`). The fee is ``swap_fee``, not
``trade_fee`` (which prices the order book's orders); both are 25/10000 on a fresh pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from adapters.dexes.raydium_amm_v4.config import CHECKED_BUILD, CeilRounding, ProgramBuild
from adapters.dexes.raydium_amm_v4.layouts import AmmInfo, AmmStatus
from kernel.errors import InsufficientLiquidity, PoolNotTradable, RejectedError
from kernel.money import U64_MAX, ceil_div

IMPACT_QUANTUM = Decimal("0.000001")
_U128_MAX = 2**128 - 1


def program_ceil_div(numerator: int, denominator: int, rounding: CeilRounding) -> int:
    """raydium-amm's ``checked_ceil_div`` of non-negative integers (``denominator`` > 0)."""
    if rounding is CeilRounding.NEAREST_BELOW_ONE and numerator < denominator:
        return 1 if 2 * numerator >= denominator else 0
    return ceil_div(numerator, denominator)


@dataclass(frozen=True, slots=True)
class AmmV4Quote:
    """An exact-in quote. ``swap_fee`` is in the input mint and stays in the pool; ``price_impact_pct`` is
    ``a'/(x+a')`` in percent."""

    coin_to_pc: bool
    amount_in: int
    swap_fee: int
    amount_swapped_in: int
    amount_out: int
    reserve_in: int
    reserve_out: int
    price_impact_pct: Decimal


@dataclass(frozen=True, slots=True)
class AmmV4ExactOut:
    """What ``swap_base_out`` spends for an exact output: ``amount_in`` leaves the trader's account, of which
    ``swap_fee`` is the fee and ``amount_swapped_in`` what the curve takes."""

    coin_to_pc: bool
    amount_out: int
    amount_in: int
    amount_swapped_in: int
    swap_fee: int


def swaps_without_book(status: int, build: ProgramBuild = CHECKED_BUILD) -> bool:
    """Whether a pool in ``status`` can swap on ``build`` without its OpenBook market (status 7 once open)."""
    if status == AmmStatus.INITIALIZED:
        return not build.book_for_initialized
    return status in (AmmStatus.SWAP_ONLY, AmmStatus.WAITING_TRADE)


def check_swappable(amm: AmmInfo, now: int, build: ProgramBuild = CHECKED_BUILD) -> None:
    """Raise :class:`PoolNotTradable` unless the pool swaps without its order book at unix time ``now``.

    On builds with the order book, status 1 (and 5, which the first swap past ``orderbook_to_init_time`` turns
    into 1) trade through the pool's OpenBook market: the program then reads the market, its open orders and
    its queue, and the reserves include the orders' funds, which this adapter does not read. Without it, 5
    refuses swaps and 1 swaps as 6 does.
    """
    status = amm.status
    if status == AmmStatus.SWAP_ONLY or (status == AmmStatus.INITIALIZED and not build.book_for_initialized):
        return
    if status == AmmStatus.WAITING_TRADE:
        if now < amm.state_data.pool_open_time:
            raise PoolNotTradable(f"the pool opens at unix time {amm.state_data.pool_open_time}, it is {now}")
        return
    if status == AmmStatus.INITIALIZED or (status == AmmStatus.ORDER_BOOK_ONLY and build.book_for_initialized):
        raise PoolNotTradable(f"the pool trades through its OpenBook market (status {status}), which is not read here")
    raise PoolNotTradable(f"the pool has swaps disabled (status {status})")


def reserves(amm: AmmInfo, coin_vault_amount: int, pc_vault_amount: int, coin_to_pc: bool) -> tuple[int, int]:
    """The input and output reserves the curve sees: each vault less the PnL yet to be taken from it."""
    coin = coin_vault_amount - amm.state_data.need_take_pnl_coin
    pc = pc_vault_amount - amm.state_data.need_take_pnl_pc
    if coin < 0 or pc < 0:
        raise PoolNotTradable("the pool owes more PnL than its vaults hold")  # the program's CheckedSubOverflow
    return (coin, pc) if coin_to_pc else (pc, coin)


def _fee(amm: AmmInfo) -> tuple[int, int]:
    numerator, denominator = amm.fees.swap_fee_numerator, amm.fees.swap_fee_denominator
    if denominator <= 0 or not 0 <= numerator < denominator:
        raise PoolNotTradable(f"the pool's swap fee {numerator}/{denominator} is not a fraction below one")
    return numerator, denominator


def quote_exact_in(
    amm: AmmInfo,
    coin_vault_amount: int,
    pc_vault_amount: int,
    amount_in: int,
    *,
    coin_to_pc: bool,
    now: int,
    build: ProgramBuild = CHECKED_BUILD,
) -> AmmV4Quote:
    """What ``swap_base_in`` of ``amount_in`` coin (``coin_to_pc``) or pc pays against the vault amounts.

    ``now`` is the cluster's unix time; ``build`` the deployed program's (:class:`ProgramBuild`). Raises
    :class:`PoolNotTradable`, ``InsufficientLiquidity``, or ``RejectedError`` (``amount_too_small``) where the
    program would refuse the swap.
    """
    if not 0 < amount_in <= U64_MAX:
        raise RejectedError(f"amount_in must be a positive u64, got {amount_in}", code="invalid_amount")
    check_swappable(amm, now, build)
    rounding = build.rounding
    numerator, denominator = _fee(amm)
    reserve_in, reserve_out = reserves(amm, coin_vault_amount, pc_vault_amount, coin_to_pc)
    if reserve_in <= 0 or reserve_out <= 0:
        raise InsufficientLiquidity("the pool holds no liquidity beyond the PnL it owes")
    fee = program_ceil_div(amount_in * numerator, denominator, rounding)
    swapped_in = amount_in - fee
    amount_out = reserve_out * swapped_in // (reserve_in + swapped_in)
    if amount_out <= 0:
        raise RejectedError(f"{amount_in} raw units are too small to buy anything", code="amount_too_small")
    impact = Decimal(swapped_in) * 100 / Decimal(reserve_in + swapped_in)
    return AmmV4Quote(
        coin_to_pc, amount_in, fee, swapped_in, amount_out, reserve_in, reserve_out, impact.quantize(IMPACT_QUANTUM)
    )


def quote_exact_out(
    amm: AmmInfo,
    coin_vault_amount: int,
    pc_vault_amount: int,
    amount_out: int,
    *,
    coin_to_pc: bool,
    now: int,
    build: ProgramBuild = CHECKED_BUILD,
) -> AmmV4ExactOut:
    """What ``swap_base_out`` spends for exactly ``amount_out`` pc (``coin_to_pc``) or coin. Raises as
    :func:`quote_exact_in`; an input beyond a u64 (or the program's u128 intermediate) is ``amount_too_large``."""
    if not 0 < amount_out <= U64_MAX:
        raise RejectedError(f"amount_out must be a positive u64, got {amount_out}", code="invalid_amount")
    check_swappable(amm, now, build)
    rounding = build.rounding
    numerator, denominator = _fee(amm)
    reserve_in, reserve_out = reserves(amm, coin_vault_amount, pc_vault_amount, coin_to_pc)
    if reserve_in <= 0 or amount_out >= reserve_out:
        raise InsufficientLiquidity(f"the pool cannot pay out {amount_out} raw units")
    swapped_in = program_ceil_div(reserve_in * amount_out, reserve_out - amount_out, rounding)
    if swapped_in * denominator > _U128_MAX:
        raise RejectedError(f"{amount_out} raw units out cost more than a u64", code="amount_too_large")
    amount_in = program_ceil_div(swapped_in * denominator, denominator - numerator, rounding)
    if amount_in > U64_MAX:
        raise RejectedError(f"{amount_out} raw units out cost more than a u64", code="amount_too_large")
    if amount_in <= 0:
        raise RejectedError(f"{amount_out} raw units out cost nothing: the program refuses", code="amount_too_small")
    return AmmV4ExactOut(coin_to_pc, amount_out, amount_in, swapped_in, amount_in - swapped_in)
