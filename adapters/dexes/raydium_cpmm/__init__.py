"""Raydium CPMM (cp-swap): constant-product pools, read from a Solana cluster and swapped through the program.

Pure parts: :mod:`.layouts` (account bytes), :mod:`.math` (the exact-in quote), :mod:`.instructions` (PDAs
and ``swap_base_input``). I/O: :mod:`.client`. :mod:`.config` holds the program IDs and its slippage
code. :class:`RaydiumCpmmAdapter` joins them on :class:`~adapters.onchain_dex.OnChainAdapter`.
"""

from __future__ import annotations

from adapters.dexes.raydium_cpmm.adapter import RaydiumCpmmAdapter
from adapters.dexes.raydium_cpmm.config import DEX_NAME, SLIPPAGE, RaydiumCpmmConfig
from adapters.dexes.raydium_cpmm.math import quote_exact_in

__all__ = ["DEX_NAME", "SLIPPAGE", "RaydiumCpmmAdapter", "RaydiumCpmmConfig", "quote_exact_in"]
