"""Raydium AMM v4 (the legacy AMM, 675kPX9…1Mp8): constant-product pools, read from a Solana cluster and
swapped through the program.

Pure parts: :mod:`.layouts` (the AmmInfo account), :mod:`.math` (the exact-in and exact-out quotes),
:mod:`.instructions` (the authority PDA, ``swap_base_in`` and ``swap_base_out``). I/O: :mod:`.client`.
:mod:`.config` holds the program IDs and its slippage code. :class:`RaydiumAmmV4Adapter` joins them on
:class:`~adapters.onchain_dex.OnChainAdapter`. Only pools that swap without their OpenBook market (status 6,
or 7 once open) are traded.
"""

from __future__ import annotations

from adapters.dexes.raydium_amm_v4.adapter import RaydiumAmmV4Adapter
from adapters.dexes.raydium_amm_v4.config import (
    CHECKED_BUILD,
    DEX_NAME,
    NO_ORDER_BOOK_BUILD,
    SLIPPAGE,
    CeilRounding,
    ProgramBuild,
    RaydiumAmmV4Config,
)
from adapters.dexes.raydium_amm_v4.math import quote_exact_in, quote_exact_out

__all__ = [
    "CHECKED_BUILD",
    "DEX_NAME",
    "NO_ORDER_BOOK_BUILD",
    "SLIPPAGE",
    "CeilRounding",
    "ProgramBuild",
    "RaydiumAmmV4Adapter",
    "RaydiumAmmV4Config",
    "quote_exact_in",
    "quote_exact_out",
]
