"""Pool math of the simulated DEXes: integer amounts in, integer amounts out, no I/O.

Two curves, one per simulated DEX:

- :class:`ConstantProductPool`, Raydium-like: ``x * y = k`` with the trade fee taken from the input.
- :class:`BinPool`, Meteora-DLMM-like: liquidity sits in discrete price bins, constant-sum inside a
  bin; a swap walks bins away from the active one and pays a fee that grows with the bins it crosses.

Amounts are raw token units (``int``). Prices are raw ``y`` units per raw ``x`` unit. ``x_to_y`` says
which way a swap goes. Only ``Decimal`` is used for ratios (impact, log prices), never ``float``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext

from kernel.errors import InsufficientLiquidity
from kernel.money import ceil_div

PPM = 1_000_000
Q64 = 1 << 64
# Enough digits that a Q64.64 price (up to ~40 digits for extreme pairs) is exact to the last bit.
_PREC = 60


@dataclass(frozen=True, slots=True)
class SwapResult:
    """An exact-in swap: ``fee`` is in raw units of the input token and is part of ``amount_in``."""

    amount_in: int
    amount_out: int
    fee: int
    price_impact_pct: Decimal
    bins_crossed: int = 0


def _check_amount(amount_in: int) -> None:
    if amount_in <= 0:
        raise ValueError(f"amount_in must be positive, got {amount_in}")


def _impact_pct(ideal_out: int, amount_out: int) -> Decimal:
    """How much worse than the starting spot price the fill is, in percent (fees excluded)."""
    if ideal_out <= 0 or amount_out >= ideal_out:
        return Decimal(0)
    return Decimal(ideal_out - amount_out) * 100 / Decimal(ideal_out)


class ConstantProductPool:
    """A constant-product pool with reserves ``reserve_x``/``reserve_y`` and a fee in parts per million.

    The fee stays in the pool (it accrues to liquidity providers), so ``k`` grows with every fill.
    """

    __slots__ = ("fee_ppm", "reserve_x", "reserve_y")

    def __init__(self, reserve_x: int, reserve_y: int, fee_ppm: int = 2500) -> None:
        if reserve_x <= 0 or reserve_y <= 0:
            raise ValueError("reserves must be positive")
        if not 0 <= fee_ppm < PPM:
            raise ValueError(f"fee_ppm must be within [0, {PPM}), got {fee_ppm}")
        self.reserve_x = reserve_x
        self.reserve_y = reserve_y
        self.fee_ppm = fee_ppm

    @classmethod
    def at_price(cls, price: Decimal, reserve_x: int, fee_ppm: int = 2500) -> ConstantProductPool:
        """A pool holding ``reserve_x`` whose spot price is ``price`` (raw y per raw x)."""
        reserve_y = int((Decimal(reserve_x) * price).to_integral_value(ROUND_FLOOR))
        return cls(reserve_x, reserve_y, fee_ppm)

    def spot_price(self) -> Decimal:
        """Raw y per raw x, before fees."""
        with localcontext() as ctx:
            ctx.prec = _PREC
            return Decimal(self.reserve_y) / Decimal(self.reserve_x)

    def log_price(self) -> Decimal:
        """``ln(spot_price)``: the coordinate the market relaxes toward its target."""
        with localcontext() as ctx:
            ctx.prec = _PREC
            return (Decimal(self.reserve_y) / Decimal(self.reserve_x)).ln()

    def quote(self, amount_in: int, x_to_y: bool) -> SwapResult:
        """Exact-in: ``fee = ceil(a*t/1e6)``, ``a' = a - fee``, ``out = floor(a' * R_out / (R_in + a'))``."""
        _check_amount(amount_in)
        r_in, r_out = (self.reserve_x, self.reserve_y) if x_to_y else (self.reserve_y, self.reserve_x)
        fee = ceil_div(amount_in * self.fee_ppm, PPM)
        net = amount_in - fee
        out = net * r_out // (r_in + net)
        impact = Decimal(net) * 100 / Decimal(r_in + net)
        return SwapResult(amount_in, out, fee, impact)

    def apply(self, amount_in: int, x_to_y: bool) -> SwapResult:
        """Fill the swap: the whole input (fee included) enters the pool, the output leaves it."""
        result = self.quote(amount_in, x_to_y)
        if x_to_y:
            self.reserve_x += amount_in
            self.reserve_y -= result.amount_out
        else:
            self.reserve_y += amount_in
            self.reserve_x -= result.amount_out
        return result


@functools.lru_cache(maxsize=1 << 16)
def bin_price_q64(bin_step_bps: int, bin_id: int) -> int:
    """``(1 + bin_step/10_000) ** bin_id`` as a Q64.64 integer (raw y per raw x, times 2**64)."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        base = Decimal(1) + Decimal(bin_step_bps) / 10_000
        return int((base**bin_id * Q64).to_integral_value(ROUND_FLOOR))


def bin_step_log(bin_step_bps: int) -> Decimal:
    """``ln(1 + bin_step/10_000)``: the width of one bin in log-price."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        return (Decimal(1) + Decimal(bin_step_bps) / 10_000).ln()


class BinPool:
    """Discrete-bin liquidity (Meteora DLMM-like).

    Bin ``i`` trades at ``bin_price_q64(bin_step_bps, i)``. Bins below the active one hold only y, bins
    above only x, the active bin both. Selling x (``x_to_y``) takes y from the active bin and walks down;
    selling y walks up. Inside a bin the price is constant. The fee rate in the n-th bin a swap reaches
    after fully draining ``n`` bins is ``base_fee_ppm + variable_fee_ppm * n**2`` (capped at
    ``max_fee_ppm``): the further a swap pushes the price, the more it pays, like DLMM's variable fee.
    Fees are kept out of the bins (liquidity providers claim them separately).
    """

    __slots__ = ("active_id", "base_fee_ppm", "bin_step_bps", "bins", "max_fee_ppm", "variable_fee_ppm")

    def __init__(
        self,
        bin_step_bps: int,
        active_id: int,
        bins: Mapping[int, tuple[int, int]],
        *,
        base_fee_ppm: int = 2000,
        variable_fee_ppm: int = 10,
        max_fee_ppm: int = 100_000,
    ) -> None:
        if bin_step_bps <= 0:
            raise ValueError("bin_step_bps must be positive")
        if not 0 <= base_fee_ppm <= max_fee_ppm < PPM:
            raise ValueError("fees must satisfy 0 <= base_fee_ppm <= max_fee_ppm < 1e6")
        self.bin_step_bps = bin_step_bps
        self.active_id = active_id
        self.bins: dict[int, tuple[int, int]] = dict(bins)
        self.base_fee_ppm = base_fee_ppm
        self.variable_fee_ppm = variable_fee_ppm
        self.max_fee_ppm = max_fee_ppm

    @classmethod
    def at_price(
        cls,
        price: Decimal,
        depth_x: int,
        depth_y: int,
        *,
        bin_step_bps: int = 10,
        bins_per_side: int = 100,
        base_fee_ppm: int = 2000,
        variable_fee_ppm: int = 10,
        max_fee_ppm: int = 100_000,
    ) -> BinPool:
        """A pool whose price is ``price`` (raw y per raw x), ``depth_x``/``depth_y`` spread evenly over
        ``bins_per_side`` bins above/below the active bin.

        ``price`` usually falls inside a bin: the active bin's mix of x and y says where, so that the
        pool's continuous :meth:`position` equals ``ln(price)`` in bins and moves smoothly with it.
        """
        if price <= 0 or depth_x <= 0 or depth_y <= 0 or bins_per_side <= 0:
            raise ValueError("price, depths and bins_per_side must be positive")
        with localcontext() as ctx:
            ctx.prec = _PREC
            position = price.ln() / bin_step_log(bin_step_bps)
            active = int((position + Decimal("0.5")).to_integral_value(ROUND_FLOOR))
            share_y = position - active + Decimal("0.5")
            y_per_bin = depth_y // bins_per_side
            x_per_bin = depth_x // bins_per_side
            bins: dict[int, tuple[int, int]] = {}
            for i in range(1, bins_per_side + 1):
                bins[active - i] = (0, y_per_bin)
                bins[active + i] = (x_per_bin, 0)
            # The active bin holds one bin's worth of value (in y), split by where the price sits in it.
            active_y = int((y_per_bin * share_y).to_integral_value(ROUND_FLOOR))
            active_x = (y_per_bin - active_y) * Q64 // bin_price_q64(bin_step_bps, active)
            bins[active] = (active_x, active_y)
        return cls(
            bin_step_bps,
            active,
            bins,
            base_fee_ppm=base_fee_ppm,
            variable_fee_ppm=variable_fee_ppm,
            max_fee_ppm=max_fee_ppm,
        )

    def fee_ppm(self, bins_crossed: int) -> int:
        """The fee rate in the bin reached after draining ``bins_crossed`` bins."""
        return min(self.base_fee_ppm + self.variable_fee_ppm * bins_crossed * bins_crossed, self.max_fee_ppm)

    def position(self) -> Decimal:
        """Where the price sits, in bins, continuously: ``active_id - 1/2 + (y's share of the active bin)``.

        Draining y from the active bin lowers it smoothly until the bin below takes over, so fills and
        relaxation can both be measured in this one coordinate.
        """
        amount_x, amount_y = self.bins.get(self.active_id, (0, 0))
        with localcontext() as ctx:
            ctx.prec = _PREC
            value_x = Decimal(amount_x) * bin_price_q64(self.bin_step_bps, self.active_id) / Q64
            total = value_x + amount_y
            share_y = Decimal(amount_y) / total if total else Decimal("0.5")
            return self.active_id - Decimal("0.5") + share_y

    def log_price(self) -> Decimal:
        """``position`` in log-price units, comparable with ``ln(target price)``."""
        with localcontext() as ctx:
            ctx.prec = _PREC
            return self.position() * bin_step_log(self.bin_step_bps)

    def spot_price(self) -> Decimal:
        """The active bin's price, raw y per raw x."""
        with localcontext() as ctx:
            ctx.prec = _PREC
            return Decimal(bin_price_q64(self.bin_step_bps, self.active_id)) / Q64

    def quote(self, amount_in: int, x_to_y: bool) -> SwapResult:
        """Walk the bins for an exact-in swap without changing the pool."""
        result, _, _ = self._walk(amount_in, x_to_y)
        return result

    def apply(self, amount_in: int, x_to_y: bool) -> SwapResult:
        """Fill the swap: drained bins change hands and the active bin moves to where the walk ended."""
        result, touched, active = self._walk(amount_in, x_to_y)
        self.bins.update(touched)
        self.active_id = active
        return result

    def _walk(self, amount_in: int, x_to_y: bool) -> tuple[SwapResult, dict[int, tuple[int, int]], int]:
        _check_amount(amount_in)
        step = -1 if x_to_y else 1
        bin_id = self.active_id
        start_price = bin_price_q64(self.bin_step_bps, bin_id)
        remaining, out_total, fee_total, crossed = amount_in, 0, 0, 0
        touched: dict[int, tuple[int, int]] = {}
        while remaining > 0:
            if bin_id not in self.bins:
                raise InsufficientLiquidity(
                    f"the pool ran out of bins after {crossed} crossed; {remaining} of {amount_in} left unfilled"
                )
            amount_x, amount_y = self.bins[bin_id]
            available = amount_y if x_to_y else amount_x
            if available == 0:
                bin_id += step
                continue
            price = bin_price_q64(self.bin_step_bps, bin_id)
            fee_rate = self.fee_ppm(crossed)
            # Net input that takes everything out of this bin, then the input including the fee on it.
            drain_net = ceil_div(available * Q64, price) if x_to_y else ceil_div(available * price, Q64)
            drain_gross = ceil_div(drain_net * PPM, PPM - fee_rate)
            if remaining >= drain_gross:
                net, fee, out = drain_net, drain_gross - drain_net, available
                remaining -= drain_gross
            else:
                fee = ceil_div(remaining * fee_rate, PPM)
                net = remaining - fee
                out = min(net * price >> 64 if x_to_y else (net << 64) // price, available)
                remaining = 0
            fee_total += fee
            out_total += out
            touched[bin_id] = (amount_x + net, amount_y - out) if x_to_y else (amount_x - out, amount_y + net)
            if remaining > 0:
                crossed += 1
                bin_id += step
        net_total = amount_in - fee_total
        ideal = net_total * start_price >> 64 if x_to_y else (net_total << 64) // start_price
        result = SwapResult(amount_in, out_total, fee_total, _impact_pct(ideal, out_total), crossed)
        return result, touched, bin_id
