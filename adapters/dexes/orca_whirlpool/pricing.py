"""Pricing Whirlpools already read: the one place a quote is computed from a :class:`WhirlpoolSnapshot`, for the
adapter's quotes and the watcher's snapshots alike (so the two always agree). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapters.dexes.orca_whirlpool.client import WhirlpoolSnapshot
from adapters.dexes.orca_whirlpool.math import WhirlpoolQuote, quote_exact_in, quote_exact_out
from adapters.onchain_dex.adapter import Priced, check_decimals
from kernel.errors import PoolNotTradable, RejectedError
from kernel.tokens import Token


@dataclass(frozen=True, slots=True)
class PricedPool:
    """A pool's fresh snapshot and its quote for one request."""

    snapshot: WhirlpoolSnapshot
    quote: WhirlpoolQuote


def a_to_b(snapshot: WhirlpoolSnapshot, token_in: Token) -> bool:
    """Whether ``token_in`` is the pool's token A."""
    return str(snapshot.state.token_mint_a) == token_in.mint


def check_transfers(snapshot: WhirlpoolSnapshot) -> None:
    """A Token-2022 mint with a transfer fee is not priced here: such a pool is refused, not guessed."""
    for mint, key in ((snapshot.mint_a, snapshot.state.token_mint_a), (snapshot.mint_b, snapshot.state.token_mint_b)):
        if mint.transfer_fee is not None:
            raise PoolNotTradable(f"mint {key} charges a transfer fee, which Whirlpool quotes here do not price")


def price_snapshots(
    snapshots: Sequence[WhirlpoolSnapshot], token_in: Token, token_out: Token, amount: int
) -> list[Priced[PricedPool] | RejectedError]:
    """Quote ``amount`` of ``token_in`` on each pool as read; a pool that cannot take it maps to its refusal. The
    fee reported is the trading fee, always in the input mint."""
    results: list[Priced[PricedPool] | RejectedError] = []
    for snap in snapshots:
        forward = a_to_b(snap, token_in)
        mint_in, mint_out = (snap.mint_a, snap.mint_b) if forward else (snap.mint_b, snap.mint_a)
        check_decimals(token_in, mint_in.decimals, token_out, mint_out.decimals)
        try:
            check_transfers(snap)
            result = quote_exact_in(snap.state, snap.arrays, amount, a_to_b=forward)
        except RejectedError as exc:
            results.append(exc)
            continue
        detail = PricedPool(snap, result)
        results.append(Priced(snap.address, result.amount_in, result.amount_out, result.fee, True,
                              result.price_impact_pct, detail))  # fmt: skip
    return results


def price_exact_out(snap: WhirlpoolSnapshot, token_in: Token, amount_out: int) -> WhirlpoolQuote:
    """What buying exactly ``amount_out`` with ``token_in`` costs on the pool as read."""
    check_transfers(snap)
    return quote_exact_out(snap.state, snap.arrays, amount_out, a_to_b=a_to_b(snap, token_in))
