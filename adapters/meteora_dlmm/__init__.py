"""Meteora DLMM (lb_clmm): liquidity in price bins, read from a Solana cluster and swapped through ``swap2``.

Pure parts: :mod:`.layouts` (account bytes, both ways), :mod:`.math` (the exact-in quote, through the
``meteora-dlmm`` package), :mod:`.instructions` (PDAs and ``swap2``). I/O: :mod:`.client`.
:class:`MeteoraDlmmAdapter` joins them.
"""

from __future__ import annotations

from adapters.meteora_dlmm.adapter import MeteoraDlmmAdapter
from adapters.meteora_dlmm.client import DiscoveryRefused, MeteoraDlmmClient, PairRefused, PoolQuote
from adapters.meteora_dlmm.config import DEX_NAME, MeteoraDlmmConfig
from adapters.meteora_dlmm.layouts import LayoutError
from adapters.meteora_dlmm.math import ExactInQuote, NeedBinArrays, PairAccounts, PairNotTradable, quote_exact_in

__all__ = [
    "DEX_NAME",
    "DiscoveryRefused",
    "ExactInQuote",
    "LayoutError",
    "MeteoraDlmmAdapter",
    "MeteoraDlmmClient",
    "MeteoraDlmmConfig",
    "NeedBinArrays",
    "PairAccounts",
    "PairNotTradable",
    "PairRefused",
    "PoolQuote",
    "quote_exact_in",
]
