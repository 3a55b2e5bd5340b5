"""Pricing DAMM v2 pools already read: the one place a quote is computed from a :class:`PoolSnapshot`, for the
adapter's quotes and the watcher's snapshots alike (so the two always agree). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapters.dexes.meteora_damm_v2.client import PoolSnapshot
from adapters.dexes.meteora_damm_v2.math import DammExactOut, DammQuote, quote_exact_in, quote_exact_out
from adapters.onchain_dex.adapter import Priced, check_decimals
from adapters.solana.accounts import Clock
from kernel.errors import RejectedError
from kernel.tokens import Token


@dataclass(frozen=True, slots=True)
class PricedPool:
    """A pool's fresh snapshot and its quote for one request."""

    snapshot: PoolSnapshot
    quote: DammQuote


def a_to_b(snapshot: PoolSnapshot, token_in: Token) -> bool:
    """Whether ``token_in`` is the pool's token A."""
    return str(snapshot.state.token_a_mint) == token_in.mint


def price_snapshots(
    clock: Clock, snapshots: Sequence[PoolSnapshot], token_in: Token, token_out: Token, amount: int
) -> list[Priced[PricedPool] | RejectedError]:
    """Quote ``amount`` of ``token_in`` on each pool as read at ``clock``; a pool that cannot take it maps to its
    refusal. The fee reported is the trading fee, in the mint the pool takes it in (the input or the output)."""
    results: list[Priced[PricedPool] | RejectedError] = []
    for snap in snapshots:
        forward = a_to_b(snap, token_in)
        mint_in, mint_out = (snap.mint_a, snap.mint_b) if forward else (snap.mint_b, snap.mint_a)
        check_decimals(token_in, mint_in.decimals, token_out, mint_out.decimals)
        try:
            result = quote_exact_in(
                snap.state, amount, a_to_b=forward, slot=clock.slot, unix_time=clock.unix_timestamp,
                epoch=clock.epoch, transfer_fee_a=snap.mint_a.transfer_fee, transfer_fee_b=snap.mint_b.transfer_fee,
            )  # fmt: skip
        except RejectedError as exc:
            results.append(exc)
            continue
        fee = result.fee + (result.transfer_fee_in if result.fee_on_input else result.transfer_fee_out)
        detail = PricedPool(snap, result)
        results.append(
            Priced(snap.address, result.amount_in, result.amount_out, fee, result.fee_on_input,
                   result.price_impact_pct, detail)
        )  # fmt: skip
    return results


def price_exact_out(clock: Clock, snap: PoolSnapshot, token_in: Token, amount_out: int) -> DammExactOut:
    """What buying exactly ``amount_out`` with ``token_in`` costs on the pool as read at ``clock``."""
    return quote_exact_out(
        snap.state, amount_out, a_to_b=a_to_b(snap, token_in), slot=clock.slot, unix_time=clock.unix_timestamp,
        epoch=clock.epoch, transfer_fee_a=snap.mint_a.transfer_fee, transfer_fee_b=snap.mint_b.transfer_fee,
    )  # fmt: skip
