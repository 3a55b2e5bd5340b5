"""Pricing AMM v4 pools already read: the one place a quote is computed from a :class:`PoolSnapshot`, for the
adapter's quotes and the watcher's snapshots alike (so the two always agree). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapters.dexes.raydium_amm_v4.client import PoolSnapshot
from adapters.dexes.raydium_amm_v4.config import ProgramBuild
from adapters.dexes.raydium_amm_v4.math import AmmV4Quote, quote_exact_in
from adapters.onchain_dex.adapter import Priced, check_decimals
from adapters.solana.accounts import Clock
from kernel.errors import RejectedError
from kernel.tokens import Token


@dataclass(frozen=True, slots=True)
class PricedPool:
    """A pool's fresh snapshot and its quote for one request."""

    snapshot: PoolSnapshot
    quote: AmmV4Quote


def coin_to_pc(snapshot: PoolSnapshot, token_in: Token) -> bool:
    """Whether ``token_in`` is the pool's coin side."""
    return str(snapshot.state.coin_vault_mint) == token_in.mint


def price_snapshots(
    clock: Clock,
    snapshots: Sequence[PoolSnapshot],
    token_in: Token,
    token_out: Token,
    amount: int,
    build: ProgramBuild,
) -> list[Priced[PricedPool] | RejectedError]:
    """Quote ``amount`` of ``token_in`` on each pool as read at ``clock``; a pool that cannot take it maps
    to its refusal. The fee reported is the swap fee, in the input mint."""
    results: list[Priced[PricedPool] | RejectedError] = []
    for snap in snapshots:
        forward = coin_to_pc(snap, token_in)
        mint_in, mint_out = (snap.coin_mint, snap.pc_mint) if forward else (snap.pc_mint, snap.coin_mint)
        check_decimals(token_in, mint_in.decimals, token_out, mint_out.decimals)
        try:
            result = quote_exact_in(
                snap.state, snap.coin_vault_amount, snap.pc_vault_amount, amount, coin_to_pc=forward,
                now=clock.unix_timestamp, build=build,
            )  # fmt: skip
        except RejectedError as exc:
            results.append(exc)
            continue
        detail = PricedPool(snap, result)
        results.append(
            Priced(snap.address, result.amount_in, result.amount_out, result.swap_fee, True, result.price_impact_pct,
                   detail)
        )  # fmt: skip
    return results
