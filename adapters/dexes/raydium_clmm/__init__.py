"""Raydium CLMM (CAMMCzo…grrKgrWqK): concentrated-liquidity pools whose liquidity sits in tick arrays of 60
ticks, read from a Solana cluster and swapped through the program.

Pure parts: :mod:`.layouts` (PoolState, AmmConfig, TickArrayState, the bitmap extension), :mod:`.math` (tick
math and the exact-in and exact-out swap across initialized ticks), :mod:`.instructions` (the PDAs and
``swap_v2``). I/O: :mod:`.client`. :mod:`.config` holds the program IDs and error codes; :mod:`.pricing` prices
pools already read. :class:`RaydiumClmmAdapter` joins them on :class:`~adapters.onchain_dex.OnChainAdapter`;
:mod:`.watch` watches pairs for waiting orders.
"""

from __future__ import annotations

from adapters.dexes.raydium_clmm.adapter import RaydiumClmmAdapter
from adapters.dexes.raydium_clmm.config import DEX_NAME, SLIPPAGE, RaydiumClmmConfig
from adapters.dexes.raydium_clmm.math import quote_exact_in, quote_exact_out

__all__ = ["DEX_NAME", "SLIPPAGE", "RaydiumClmmAdapter", "RaydiumClmmConfig", "quote_exact_in", "quote_exact_out"]
