"""The CPMM exact-in quote (and, last, the exact-out one) in the program's integer arithmetic. Pure: no I/O.

The steps are cp-swap's ``swap_base_input`` (checked against the program binary):

1. Swaps need status bit 4 clear and ``now >= open_time``.
2. A Token-2022 input mint's transfer fee comes off first: ``a = amount_in - transfer_fee(amount_in)``.
3. Reserves exclude the protocol, fund and creator fees accrued in each vault.
4. The creator fee rate ``c`` (when the pool enables it) is charged on the input side when ``creator_fee_on``
   is 0, or 1 and the trade is token 0 to 1, or 2 and it is token 1 to 0; otherwise on the output side.
5. Input side: ``total = ceil(a*(t+c)/1e6)``, ``creator = floor(total*c/(t+c))``, ``trade = total - creator``;
   else ``trade = ceil(a*t/1e6)``. ``a' = a - total`` (or ``a - trade``).
6. ``protocol = floor(trade*p/1e6)``, ``fund = floor(trade*f/1e6)``: they accrue in the pool state.
7. ``out = floor(a'*y/(x+a'))``; an output-side creator fee ``ceil(out*c/1e6)`` comes off it, then the
   output mint's transfer fee. The program fails with 6005 when what the trader receives is below the minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from adapters.dexes.raydium_cpmm.layouts import AmmConfig, PoolState
from adapters.solana.accounts import TransferFeeConfig
from kernel.errors import InsufficientLiquidity, PoolNotTradable, RejectedError
from kernel.money import U64_MAX, ceil_div

FEE_RATE_DENOMINATOR = 1_000_000
IMPACT_QUANTUM = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class CurveResult:
    """One pass through the fee schedule and the constant-product curve (no transfer fees)."""

    amount_in: int
    amount_in_less_fees: int
    amount_swapped_out: int
    amount_out: int
    trade_fee: int
    protocol_fee: int
    fund_fee: int
    creator_fee: int
    creator_fee_on_input: bool


def swap_base_input(
    amount_in: int,
    reserve_in: int,
    reserve_out: int,
    *,
    trade_fee_rate: int,
    protocol_fee_rate: int,
    fund_fee_rate: int,
    creator_fee_rate: int = 0,
    creator_fee_on_input: bool = True,
) -> CurveResult:
    """Steps 5 to 7 on effective reserves; ``amount_out`` is after the output-side creator fee."""
    creator_fee = 0
    if creator_fee_on_input:
        total = ceil_div(amount_in * (trade_fee_rate + creator_fee_rate), FEE_RATE_DENOMINATOR)
        if creator_fee_rate:
            creator_fee = total * creator_fee_rate // (trade_fee_rate + creator_fee_rate)
        trade_fee = total - creator_fee
        less_fees = amount_in - total
    else:
        trade_fee = ceil_div(amount_in * trade_fee_rate, FEE_RATE_DENOMINATOR)
        less_fees = amount_in - trade_fee
    protocol_fee = trade_fee * protocol_fee_rate // FEE_RATE_DENOMINATOR
    fund_fee = trade_fee * fund_fee_rate // FEE_RATE_DENOMINATOR
    swapped_out = less_fees * reserve_out // (reserve_in + less_fees)
    amount_out = swapped_out
    if not creator_fee_on_input:
        creator_fee = ceil_div(swapped_out * creator_fee_rate, FEE_RATE_DENOMINATOR)
        amount_out = swapped_out - creator_fee
    return CurveResult(
        amount_in, less_fees, swapped_out, amount_out, trade_fee, protocol_fee, fund_fee, creator_fee,
        creator_fee_on_input,
    )  # fmt: skip


def is_creator_fee_on_input(creator_fee_on: int, zero_for_one: bool) -> bool:
    """Step 4. A ``creator_fee_on`` outside 0..2 makes the program refuse the swap (InvalidFeeModel)."""
    if creator_fee_on == 0:
        return True
    if creator_fee_on == 1:
        return zero_for_one
    if creator_fee_on == 2:
        return not zero_for_one
    raise PoolNotTradable(f"the pool's creator fee model {creator_fee_on} is unknown")


@dataclass(frozen=True, slots=True)
class SwapFees:
    """Every fee of one swap, in raw units. ``trade``, ``protocol``, ``fund`` and ``transfer_in`` are in the
    input mint; ``creator`` in the input mint when ``creator_on_input``, else the output mint; ``transfer_out``
    in the output mint. Protocol and fund fees are shares of the trade fee, not extra."""

    trade: int
    protocol: int
    fund: int
    creator: int
    creator_on_input: bool
    transfer_in: int
    transfer_out: int

    @property
    def input_side(self) -> int:
        """What the trader pays in fees in the input mint."""
        return self.trade + self.transfer_in + (self.creator if self.creator_on_input else 0)


@dataclass(frozen=True, slots=True)
class CpmmQuote:
    """An exact-in quote. ``amount_out`` is what the trader's account receives, after every fee;
    ``price_impact_pct`` is ``a'/(x+a')`` in percent."""

    zero_for_one: bool
    amount_in: int
    amount_in_after_transfer_fee: int
    amount_swapped_in: int
    amount_swapped_out: int
    amount_out: int
    reserve_in: int
    reserve_out: int
    fees: SwapFees
    price_impact_pct: Decimal


def _check_open(pool: PoolState, now: int) -> None:
    """The program's first check of any swap: swaps enabled and ``now`` past the pool's ``open_time``."""
    if not pool.swap_enabled:
        raise PoolNotTradable(f"the pool has swaps disabled (status {pool.status})")
    if now < pool.open_time:
        raise PoolNotTradable(f"the pool opens at unix time {pool.open_time}, it is {now}")


def _reserves(pool: PoolState, vault_0_amount: int, vault_1_amount: int, zero_for_one: bool) -> tuple[int, int]:
    """The input and output reserves the curve sees: each vault less the fees accrued in it."""
    vault_in, vault_out = (vault_0_amount, vault_1_amount) if zero_for_one else (vault_1_amount, vault_0_amount)
    accrued_in, accrued_out = (
        (pool.accrued_fees_token_0, pool.accrued_fees_token_1)
        if zero_for_one
        else (pool.accrued_fees_token_1, pool.accrued_fees_token_0)
    )
    return vault_in - accrued_in, vault_out - accrued_out


def quote_exact_in(
    pool: PoolState,
    config: AmmConfig,
    vault_0_amount: int,
    vault_1_amount: int,
    amount_in: int,
    *,
    zero_for_one: bool,
    now: int,
    epoch: int = 0,
    transfer_fee_0: TransferFeeConfig | None = None,
    transfer_fee_1: TransferFeeConfig | None = None,
) -> CpmmQuote:
    """Quote ``amount_in`` of token 0 (``zero_for_one``) or token 1 against the vault amounts.

    ``now`` is the cluster's unix time and ``epoch`` its epoch (for Token-2022 fees). Raises
    :class:`PoolNotTradable`, ``InsufficientLiquidity``, or ``RejectedError`` (``amount_too_small``) where the
    program would refuse the swap.
    """
    if not 0 < amount_in <= U64_MAX:
        raise RejectedError(f"amount_in must be a positive u64, got {amount_in}", code="invalid_amount")
    _check_open(pool, now)
    fee_in, fee_out = (transfer_fee_0, transfer_fee_1) if zero_for_one else (transfer_fee_1, transfer_fee_0)
    transfer_in = fee_in.fee(amount_in, epoch) if fee_in is not None else 0
    net_in = amount_in - transfer_in
    if net_in <= 0:
        raise RejectedError(f"{amount_in} raw units are all taken by the transfer fee", code="amount_too_small")

    reserve_in, reserve_out = _reserves(pool, vault_0_amount, vault_1_amount, zero_for_one)
    if reserve_in <= 0 or reserve_out <= 0:
        raise InsufficientLiquidity("the pool holds no liquidity beyond its accrued fees")

    creator_rate = config.creator_fee_rate if pool.enable_creator_fee else 0
    on_input = is_creator_fee_on_input(pool.creator_fee_on, zero_for_one)
    curve = swap_base_input(
        net_in, reserve_in, reserve_out,
        trade_fee_rate=config.trade_fee_rate, protocol_fee_rate=config.protocol_fee_rate,
        fund_fee_rate=config.fund_fee_rate, creator_fee_rate=creator_rate, creator_fee_on_input=on_input,
    )  # fmt: skip
    if curve.amount_in_less_fees < 0 or curve.amount_out < 0:
        raise RejectedError("fees exceed the amount", code="amount_too_small")
    transfer_out = fee_out.fee(curve.amount_out, epoch) if fee_out is not None else 0
    received = curve.amount_out - transfer_out
    if received <= 0:
        raise RejectedError(f"{amount_in} raw units are too small to buy anything", code="amount_too_small")
    impact = Decimal(curve.amount_in_less_fees) * 100 / Decimal(reserve_in + curve.amount_in_less_fees)
    fees = SwapFees(
        curve.trade_fee, curve.protocol_fee, curve.fund_fee, curve.creator_fee, on_input, transfer_in, transfer_out
    )
    return CpmmQuote(
        zero_for_one=zero_for_one,
        amount_in=amount_in,
        amount_in_after_transfer_fee=net_in,
        amount_swapped_in=curve.amount_in_less_fees,
        amount_swapped_out=curve.amount_swapped_out,
        amount_out=received,
        reserve_in=reserve_in,
        reserve_out=reserve_out,
        fees=fees,
        price_impact_pct=impact.quantize(IMPACT_QUANTUM),
    )


# --- exact out ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CpmmExactOut:
    """What ``swap_base_output`` spends for an exact output: ``amount_in`` is what leaves the trader's account
    (the curve's input with the trade fee); ``trade_fee``, ``protocol_fee`` and ``fund_fee`` as for exact in."""

    zero_for_one: bool
    amount_out: int
    amount_in: int
    amount_swapped_in: int
    trade_fee: int
    protocol_fee: int
    fund_fee: int


def _program_ceil_div(numerator: int, denominator: int) -> int:
    """cp-swap's ``checked_ceil_div``: the ceiling, except that a quotient below one rounds to the nearest
    (0 when ``2 * numerator < denominator``, else 1)."""
    if numerator < denominator:
        return 1 if 2 * numerator >= denominator else 0
    return ceil_div(numerator, denominator)


def quote_exact_out(
    pool: PoolState,
    config: AmmConfig,
    vault_0_amount: int,
    vault_1_amount: int,
    amount_out: int,
    *,
    zero_for_one: bool,
    now: int,
) -> CpmmExactOut:
    """What ``swap_base_output`` spends for exactly ``amount_out``, in the program's integer arithmetic:

    ``in' = checked_ceil_div(x * out, y - out)`` (the curve), then the trade fee grossed up,
    ``in = ceil(in' * 1e6 / (1e6 - t))``, and ``trade = ceil(in * t / 1e6)``, protocol and fund shares floored.

    Checked against the cp-swap build from before creator fees: pools charging a creator fee, and Token-2022
    mints with a transfer fee, are refused (``PoolNotTradable``) rather than priced by a guess.
    """
    if not 0 < amount_out <= U64_MAX:
        raise RejectedError(f"amount_out must be a positive u64, got {amount_out}", code="invalid_amount")
    _check_open(pool, now)
    if pool.enable_creator_fee and config.creator_fee_rate:
        raise PoolNotTradable("exact-out swaps of pools with a creator fee are not priced here")
    reserve_in, reserve_out = _reserves(pool, vault_0_amount, vault_1_amount, zero_for_one)
    if reserve_in <= 0 or amount_out >= reserve_out:
        raise InsufficientLiquidity(f"the pool cannot pay out {amount_out} raw units")
    swapped_in = _program_ceil_div(reserve_in * amount_out, reserve_out - amount_out)
    rate = config.trade_fee_rate
    amount_in = ceil_div(swapped_in * FEE_RATE_DENOMINATOR, FEE_RATE_DENOMINATOR - rate) if rate else swapped_in
    trade_fee = ceil_div(amount_in * rate, FEE_RATE_DENOMINATOR)
    if amount_in <= 0 or amount_in > U64_MAX:
        raise RejectedError(f"{amount_out} raw units out cannot be bought", code="amount_too_small")
    protocol_fee = trade_fee * config.protocol_fee_rate // FEE_RATE_DENOMINATOR
    fund_fee = trade_fee * config.fund_fee_rate // FEE_RATE_DENOMINATOR
    return CpmmExactOut(zero_for_one, amount_out, amount_in, swapped_in, trade_fee, protocol_fee, fund_fee)
