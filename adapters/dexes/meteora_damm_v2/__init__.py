"""Meteora DAMM v2 (cp-amm, cpamdpZ…1sGG): constant-product and concentrated pools, read from a Solana
cluster and swapped through the program.

Pure parts: :mod:`.layouts` (the Pool account), :mod:`.math` (the exact-in and exact-out quotes, fee schedules
and the dynamic fee included), :mod:`.instructions` (the PDAs and ``swap2``). I/O: :mod:`.client`. :mod:`.config`
holds the program ID and its slippage code. :class:`MeteoraDammV2Adapter` joins them on
:class:`~adapters.onchain_dex.OnChainAdapter`; :mod:`.watch` watches pairs for waiting orders.
"""

from __future__ import annotations

from adapters.dexes.meteora_damm_v2.adapter import MeteoraDammV2Adapter
from adapters.dexes.meteora_damm_v2.config import DEX_NAME, SLIPPAGE, MeteoraDammV2Config
from adapters.dexes.meteora_damm_v2.math import quote_exact_in, quote_exact_out

__all__ = ["DEX_NAME", "SLIPPAGE", "MeteoraDammV2Adapter", "MeteoraDammV2Config", "quote_exact_in", "quote_exact_out"]
