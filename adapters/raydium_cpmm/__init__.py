"""Raydium CPMM (cp-swap): constant-product pools, read from a Solana cluster and swapped through the program.

Pure parts: :mod:`.layouts` (account bytes), :mod:`.math` (the exact-in quote), :mod:`.instructions` (PDAs
and ``swap_base_input``). I/O: :mod:`.client`. :class:`RaydiumCpmmAdapter` joins them.
"""

from __future__ import annotations

from adapters.raydium_cpmm.adapter import RaydiumCpmmAdapter
from adapters.raydium_cpmm.config import DEX_NAME, RaydiumCpmmConfig
from adapters.raydium_cpmm.layouts import MalformedAccount
from adapters.raydium_cpmm.math import PoolNotTradable, quote_exact_in

__all__ = [
    "DEX_NAME",
    "MalformedAccount",
    "PoolNotTradable",
    "RaydiumCpmmAdapter",
    "RaydiumCpmmConfig",
    "quote_exact_in",
]
