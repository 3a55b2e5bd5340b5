"""Pricing CLMM pools already read: the one place a quote is computed from a :class:`PoolSnapshot`, for the
adapter's quotes and the watcher's snapshots alike (so the two always agree). Pure: no I/O.

The fee is the trade fee, taken on the input. Price impact is how far the swap's own price falls short of the
pool's price before it, fee included: ``1 - (out / in) / spot``. A mint with a Token-2022 transfer fee is
refused (``PoolNotTradable``): the quote does not model it. A walk past the tick arrays one snapshot reads
(more than a transaction can name) is refused as ``InsufficientLiquidity``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from adapters.dexes.raydium_clmm.client import PoolSnapshot
from adapters.dexes.raydium_clmm.config import TICK_ARRAYS_AHEAD
from adapters.dexes.raydium_clmm.math import ClmmQuote, TickArrayMissing, swap
from adapters.onchain_dex.adapter import Priced, check_decimals
from adapters.solana.accounts import Clock
from kernel.errors import InsufficientLiquidity, PoolNotTradable, RejectedError
from kernel.tokens import Token


@dataclass(frozen=True, slots=True)
class PricedPool:
    """A pool's fresh snapshot and its quote for one request."""

    snapshot: PoolSnapshot
    quote: ClmmQuote
    zero_for_one: bool


def zero_for_one(snapshot: PoolSnapshot, token_in: Token) -> bool:
    """Whether ``token_in`` is the pool's token 0."""
    return str(snapshot.state.token_mint_0) == token_in.mint


def _impact(snap: PoolSnapshot, q: ClmmQuote, down: bool) -> Decimal:
    spot = Decimal(snap.state.sqrt_price_x64) ** 2 / Decimal(2**128)  # token 1 per token 0, raw
    if not down:
        spot = 1 / spot
    paid = Decimal(q.amount_out) / Decimal(q.amount_in)
    return max(Decimal(0), (1 - paid / spot) * 100)


def _quote(clock: Clock, snap: PoolSnapshot, amount: int, down: bool, exact_in: bool) -> ClmmQuote:
    if snap.mint_0.transfer_fee is not None or snap.mint_1.transfer_fee is not None:
        raise PoolNotTradable(f"pool {snap.address} trades a mint with a Token-2022 transfer fee")
    try:
        return swap(snap.state, snap.config, snap.tick_arrays, amount, zero_for_one=down, is_base_input=exact_in,
                    extension=snap.extension, unix_time=clock.unix_timestamp)  # fmt: skip
    except TickArrayMissing as exc:
        raise InsufficientLiquidity(
            f"pool {snap.address}: {amount} raw units walk past {TICK_ARRAYS_AHEAD + 1} tick arrays"
        ) from exc


def price_snapshots(
    clock: Clock, snapshots: Sequence[PoolSnapshot], token_in: Token, token_out: Token, amount: int
) -> list[Priced[PricedPool] | RejectedError]:
    """Quote ``amount`` of ``token_in`` on each pool as read at ``clock``; a pool that cannot take it maps to
    its refusal."""
    results: list[Priced[PricedPool] | RejectedError] = []
    for snap in snapshots:
        down = zero_for_one(snap, token_in)
        mint_in, mint_out = (snap.mint_0, snap.mint_1) if down else (snap.mint_1, snap.mint_0)
        check_decimals(token_in, mint_in.decimals, token_out, mint_out.decimals)
        try:
            q = _quote(clock, snap, amount, down, exact_in=True)
        except RejectedError as exc:
            results.append(exc)
            continue
        detail = PricedPool(snap, q, down)
        results.append(Priced(snap.address, q.amount_in, q.amount_out, q.fee, True, _impact(snap, q, down), detail))
    return results


def price_exact_out(clock: Clock, snap: PoolSnapshot, token_in: Token, amount_out: int) -> ClmmQuote:
    """What buying exactly ``amount_out`` with ``token_in`` costs on the pool as read at ``clock``."""
    return _quote(clock, snap, amount_out, zero_for_one(snap, token_in), exact_in=False)
