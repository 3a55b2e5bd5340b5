"""Where Raydium CLMM lives, the program's error codes a swap can fail with, and how the adapter looks for pools."""

from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

from adapters.pools import RAYDIUM_CLMM
from adapters.solana.errors import declare_slippage
from kernel.venues import SlippageCode

DEX_NAME = "raydium_clmm"
PROGRAM_NAME = RAYDIUM_CLMM
MAINNET_PROGRAM_ID = Pubkey.from_string("CAMMCzo5YL8w4VFF8KVHrK22GGUsp5VTaW7grrKgrWqK")
DEVNET_PROGRAM_ID = Pubkey.from_string("DRayAUgENGQBKVaX8owNhgzkEDyoHTGVEGHVJT1E9pfH")
PROGRAM_IDS = frozenset({MAINNET_PROGRAM_ID, DEVNET_PROGRAM_ID})
# ErrorCode variants, numbered from Anchor's 6000 in the order of the program's error.rs.
NOT_APPROVED = 6001  # swaps disabled by the pool's status
SQRT_PRICE_LIMIT_OVERFLOW = 6013
LIQUIDITY_INSUFFICIENT = 6019  # the walk found no further initialized tick array
TOO_LITTLE_OUTPUT_RECEIVED = 6022  # exact in: below other_amount_threshold
TOO_MUCH_INPUT_PAID = 6023  # exact out: above other_amount_threshold
ZERO_AMOUNT_SPECIFIED = 6024
TOO_SMALL_INPUT_OR_OUTPUT_AMOUNT = 6026
NOT_ENOUGH_TICK_ARRAY_ACCOUNT = 6027
INVALID_FIRST_TICK_ARRAY_ACCOUNT = 6028
MISSING_TICK_ARRAY_BITMAP_EXTENSION_ACCOUNT = 6040
SLIPPAGE = declare_slippage(SlippageCode(PROGRAM_IDS, TOO_LITTLE_OUTPUT_RECEIVED))
EXACT_OUT_SLIPPAGE = declare_slippage(SlippageCode(PROGRAM_IDS, TOO_MUCH_INPUT_PAID))

# A quote reads, per pool: the pool, its config, the bitmap extension, both mints and the tick arrays of its
# walk (the current one, the one behind it and TICK_ARRAYS_AHEAD ahead): 16 keys. getMultipleAccounts takes
# at most 100, with the clock: six pools.
TICK_ARRAYS_AHEAD = 9
MAX_POOLS_PER_QUOTE = 6


@dataclass(frozen=True, slots=True)
class RaydiumClmmConfig:
    """The CLMM program on this network and how pools are found.

    Pools are found by ``getProgramAccounts`` (PoolState size and both mints, in byte order) unless
    ``discover`` is off, when only configured pools are traded. Where the node refuses that search, the pair's
    pool PDA under each of ``discovery_configs`` (AmmConfig addresses) is read instead. Discovered pools are
    remembered for ``discovery_ttl_s``; a pair with none is asked again after ``miss_ttl_s``.
    """

    program_id: Pubkey
    discovery_configs: tuple[Pubkey, ...] = ()
    discover: bool = True
    discovery_ttl_s: float = 600.0
    miss_ttl_s: float = 30.0

    def __post_init__(self) -> None:
        if self.discovery_ttl_s < 0 or self.miss_ttl_s < 0:
            raise ValueError("discovery TTLs cannot be negative")
