"""Where Meteora DLMM lives on a network and how the adapter reads its pools, from the :class:`PoolBook`."""

from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

from adapters.pools import METEORA_DLMM
from adapters.solana.errors import declare_slippage
from kernel.venues import SlippageCode

DEX_NAME = "meteora"
PROGRAM_NAME = METEORA_DLMM
# lb_clmm has one deployment, the same on mainnet and devnet.
MAINNET_PROGRAM_ID = Pubkey.from_string("LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo")
PROGRAM_IDS = frozenset((MAINNET_PROGRAM_ID,))
# lb_clmm fails with ExceededAmountSlippageTolerance (Anchor numbers custom errors from 6000) below min_amount_out.
EXCEEDED_SLIPPAGE = 6003
SLIPPAGE = declare_slippage(SlippageCode(PROGRAM_IDS, EXCEEDED_SLIPPAGE))
# getMultipleAccounts takes at most 100 keys.
MAX_ACCOUNTS_PER_CALL = 100


@dataclass(frozen=True, slots=True)
class MeteoraDlmmConfig:
    """The DLMM program on this network and how the adapter reads pools.

    ``prefetch_arrays``: how many bin arrays (those that exist, in the swap's walk direction) one
    ``getMultipleAccounts`` round asks for; a swap that walks further takes another round, at most
    ``max_fetch_rounds`` in all. ``spare_arrays``: how many existing arrays past the last one the quote
    crosses ``swap2`` lists too, so a price that moved a little before the swap lands does not fail it
    (the program reads an array only when its walk gets there). ``discover`` off means only configured
    pools are traded; discovered pools are remembered for ``discovery_ttl_s``, a pair with none is asked
    again after ``miss_ttl_s``, and at most ``max_pools_per_quote`` pools are priced per quote.
    """

    program_id: Pubkey = MAINNET_PROGRAM_ID
    prefetch_arrays: int = 3
    max_fetch_rounds: int = 6
    spare_arrays: int = 1
    discover: bool = True
    discovery_ttl_s: float = 600.0
    miss_ttl_s: float = 30.0
    max_pools_per_quote: int = 8

    def __post_init__(self) -> None:
        if not 1 <= self.prefetch_arrays <= MAX_ACCOUNTS_PER_CALL - 5:
            raise ValueError(f"prefetch_arrays must be within [1, {MAX_ACCOUNTS_PER_CALL - 5}]")
        if self.max_fetch_rounds < 2 or self.max_pools_per_quote < 1 or self.spare_arrays < 0:
            raise ValueError("max_fetch_rounds must be at least 2, max_pools_per_quote 1, spare_arrays 0")
        if self.discovery_ttl_s < 0 or self.miss_ttl_s < 0:
            raise ValueError("discovery TTLs cannot be negative")
