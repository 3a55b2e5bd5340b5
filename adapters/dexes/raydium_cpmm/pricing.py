"""Pricing CPMM pools already read: the one place a quote is computed from a :class:`PoolSnapshot`, for the
adapter's quotes and the watcher's snapshots alike (so the two always agree). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapters.dexes.raydium_cpmm.client import PoolSnapshot
from adapters.dexes.raydium_cpmm.math import CpmmQuote, quote_exact_in
from adapters.onchain_dex.adapter import Priced, check_decimals
from adapters.solana.accounts import Clock
from kernel.errors import RejectedError
from kernel.tokens import Token


@dataclass(frozen=True, slots=True)
class PricedPool:
    """A pool's fresh snapshot and its quote for one request."""

    snapshot: PoolSnapshot
    quote: CpmmQuote


def price_snapshots(
    clock: Clock, snapshots: Sequence[PoolSnapshot], token_in: Token, token_out: Token, amount: int
) -> list[Priced[PricedPool] | RejectedError]:
    """Quote ``amount`` of ``token_in`` on each pool as read at ``clock``; a pool that cannot take it maps
    to its refusal. The fee reported is all the trader pays in the input mint."""
    results: list[Priced[PricedPool] | RejectedError] = []
    for snap in snapshots:
        zero_for_one = str(snap.state.token_0_mint) == token_in.mint
        mint_in, mint_out = (snap.mint_0, snap.mint_1) if zero_for_one else (snap.mint_1, snap.mint_0)
        check_decimals(token_in, mint_in.decimals, token_out, mint_out.decimals)
        try:
            result = quote_exact_in(
                snap.state, snap.config, snap.vault_0_amount, snap.vault_1_amount, amount,
                zero_for_one=zero_for_one, now=clock.unix_timestamp, epoch=clock.epoch,
                transfer_fee_0=snap.mint_0.transfer_fee, transfer_fee_1=snap.mint_1.transfer_fee,
            )  # fmt: skip
        except RejectedError as exc:
            results.append(exc)
            continue
        fee, impact = result.fees.input_side, result.price_impact_pct
        detail = PricedPool(snap, result)
        results.append(Priced(snap.address, result.amount_in, result.amount_out, fee, True, impact, detail))
    return results
