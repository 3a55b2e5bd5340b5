"""Meteora DLMM (lb_clmm): liquidity in price bins, read from a Solana cluster and swapped through ``swap2``.

Pure parts: :mod:`.layouts` (account bytes, both ways, over :mod:`.codec`), :mod:`.math` (the exact-in
quote, through the ``meteora-dlmm`` package, :mod:`.package`), :mod:`.instructions` (PDAs and ``swap2``).
I/O: :mod:`.client`. :mod:`.config` holds the program ID and its slippage code.
:class:`MeteoraDlmmAdapter` joins them on :class:`~adapters.onchain_dex.OnChainAdapter`.
"""

from __future__ import annotations

from adapters.dexes.meteora_dlmm.adapter import MeteoraDlmmAdapter
from adapters.dexes.meteora_dlmm.client import MeteoraDlmmClient
from adapters.dexes.meteora_dlmm.config import DEX_NAME, SLIPPAGE, MeteoraDlmmConfig
from adapters.dexes.meteora_dlmm.math import ExactInQuote, NeedBinArrays, PairAccounts, quote_exact_in
from adapters.dexes.meteora_dlmm.pricing import PoolQuote

__all__ = [
    "DEX_NAME",
    "SLIPPAGE",
    "ExactInQuote",
    "MeteoraDlmmAdapter",
    "MeteoraDlmmClient",
    "MeteoraDlmmConfig",
    "NeedBinArrays",
    "PairAccounts",
    "PoolQuote",
    "quote_exact_in",
]
