"""Orca Whirlpool (whirLbMi…uctyCc): concentrated-liquidity pools, read from a Solana cluster and swapped through
the program.

Pure parts: :mod:`.layouts` (the Whirlpool and TickArray accounts), :mod:`.math` (tick math and the exact-in and
exact-out swap walk), :mod:`.instructions` (the PDAs and ``swap_v2``). I/O: :mod:`.client`. :mod:`.config` holds
the program ID and its slippage codes. :class:`OrcaWhirlpoolAdapter` joins them on
:class:`~adapters.onchain_dex.OnChainAdapter`; :mod:`.watch` watches pairs for waiting orders.
"""

from __future__ import annotations

from adapters.dexes.orca_whirlpool.adapter import OrcaWhirlpoolAdapter
from adapters.dexes.orca_whirlpool.config import DEX_NAME, SLIPPAGE, OrcaWhirlpoolConfig
from adapters.dexes.orca_whirlpool.math import quote_exact_in, quote_exact_out

__all__ = ["DEX_NAME", "SLIPPAGE", "OrcaWhirlpoolAdapter", "OrcaWhirlpoolConfig", "quote_exact_in", "quote_exact_out"]
