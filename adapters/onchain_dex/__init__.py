"""What every on-chain DEX adapter shares: :class:`OnChainAdapter` (pool selection, discovery, the quote
and the swap's framing) and :mod:`.discovery` (the discovery cache and ``getProgramAccounts`` searches).

A DEX's own folder holds only what is its own: ``config.py`` (program IDs, slippage code, settings),
pure ``layouts.py``, ``math.py`` and ``instructions.py``, ``client.py`` (its reads), and ``adapter.py``,
a subclass of :class:`OnChainAdapter` filling in how its pools are read, priced and swapped.
"""

from __future__ import annotations

from adapters.onchain_dex.adapter import OnChainAdapter, OnChainConfig, Priced, check_decimals
from adapters.onchain_dex.discovery import DiscoveryCache, search_program

__all__ = ["DiscoveryCache", "OnChainAdapter", "OnChainConfig", "Priced", "check_decimals", "search_program"]
