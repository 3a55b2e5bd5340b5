"""Pricing DLMM pairs already read: the one place a quote is computed from a pair and its bin arrays, for the
adapter's quotes and the watcher's snapshots alike (so the two always agree). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from meteora_dlmm import MintInfo
from solders.pubkey import Pubkey

from adapters.dexes.meteora_dlmm.math import ExactInQuote, PairAccounts, quote_exact_in
from adapters.onchain_dex.adapter import Priced, check_decimals
from adapters.solana.accounts import Clock
from kernel.errors import PoolNotTradable, RejectedError
from kernel.tokens import Token


@dataclass(frozen=True, slots=True)
class PoolQuote:
    """One pair's quote and the accounts it was read from (the swap instruction names them)."""

    pool: PairAccounts
    quote: ExactInQuote
    clock: Clock
    mint_in: MintInfo
    mint_out: MintInfo

    @property
    def address(self) -> Pubkey:
        return self.pool.address

    @property
    def amount_in(self) -> int:
        return self.quote.amount_in

    @property
    def amount_out(self) -> int:
        return self.quote.amount_out

    @property
    def fee(self) -> int:
        return self.quote.fee

    @property
    def fee_on_input(self) -> bool:
        return self.quote.fee_on_input

    @property
    def price_impact_pct(self) -> Decimal:
        return self.quote.price_impact_pct


def quote_pair(
    pool: PairAccounts,
    arrays: Mapping[int, bytes],
    amount_in: int,
    swap_for_y: bool,
    *,
    clock: Clock,
    mint_in: MintInfo,
    mint_out: MintInfo,
    prefetch: int,
) -> PoolQuote | RejectedError:
    """One pair's quote, or its refusal (named by the pair when it is closed to swaps). Raises
    :class:`~adapters.dexes.meteora_dlmm.math.NeedBinArrays` when ``arrays`` stop short of the walk."""
    try:
        result = quote_exact_in(
            pool, arrays, amount_in, swap_for_y, clock=clock, mint_in=mint_in, mint_out=mint_out, prefetch=prefetch
        )
    except PoolNotTradable as exc:
        return PoolNotTradable(f"pair {pool.address}: {exc}")
    except RejectedError as exc:
        return exc
    return PoolQuote(pool, result, clock, mint_in, mint_out)


def priced(
    result: PoolQuote | RejectedError, token_in: Token, token_out: Token, amount: int
) -> Priced[PoolQuote] | RejectedError:
    """A pair's quote in what every DEX reports; a quote that buys nothing is refused."""
    if isinstance(result, RejectedError):
        return result
    check_decimals(token_in, result.mint_in.decimals, token_out, result.mint_out.decimals)
    q = result.quote
    if q.amount_out <= 0:
        return RejectedError(
            f"{amount} raw {token_in.symbol} is too small to buy any {token_out.symbol}", code="amount_too_small"
        )
    return Priced(result.address, amount, q.amount_out, q.fee, q.fee_on_input, q.price_impact_pct, result)
