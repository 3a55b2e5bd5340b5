"""Where Meteora DAMM v2 lives on a network and how the adapter looks for pools, from the :class:`PoolBook`."""

from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

from adapters.pools import METEORA_DAMM_V2
from adapters.solana.errors import declare_slippage
from kernel.venues import SlippageCode

DEX_NAME = "meteora_damm_v2"
PROGRAM_NAME = METEORA_DAMM_V2
# The one deployment of cp-amm, on mainnet and devnet alike.
PROGRAM_IDS = frozenset({Pubkey.from_string("cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG")})
# PoolError::ExceededSlippage, the third of the program's errors (Anchor numbers them from 6000): exact in
# below minimum_amount_out, exact out above maximum_amount_in.
EXCEEDED_SLIPPAGE = 6002
# PoolError::PoolDisabled: swaps off, or the pool not activated yet.
POOL_DISABLED = 6003
SLIPPAGE = declare_slippage(SlippageCode(PROGRAM_IDS, EXCEEDED_SLIPPAGE))

# getMultipleAccounts takes at most 100 keys: the clock plus 5 accounts per pool (the pool, two vaults, two
# mints) leaves room for 19 pools; 16 keeps the same bound as the other DEXes.
MAX_POOLS_PER_QUOTE = 16


@dataclass(frozen=True, slots=True)
class MeteoraDammV2Config:
    """The DAMM v2 program on this network and how pools are found.

    Pools are found by ``getProgramAccounts`` (Pool size and both mints, in either A/B order) unless
    ``discover`` is off, when only configured pools are traded. Where the node refuses that search, the pair's
    customizable pool PDA and its pool PDA under each of ``discovery_configs`` are read instead. Discovered
    pools are remembered for ``discovery_ttl_s``; a pair with none is asked again after ``miss_ttl_s``.
    """

    program_id: Pubkey
    discovery_configs: tuple[Pubkey, ...] = ()
    discover: bool = True
    discovery_ttl_s: float = 600.0
    miss_ttl_s: float = 30.0

    def __post_init__(self) -> None:
        if self.discovery_ttl_s < 0 or self.miss_ttl_s < 0:
            raise ValueError("discovery TTLs cannot be negative")
