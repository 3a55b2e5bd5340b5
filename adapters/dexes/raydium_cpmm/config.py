"""Where Raydium CPMM lives on a network and how the adapter looks for pools, from the :class:`PoolBook`."""

from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

from adapters.pools import RAYDIUM_CPMM
from adapters.solana.errors import declare_slippage
from kernel.venues import SlippageCode

DEX_NAME = "raydium"
PROGRAM_NAME = RAYDIUM_CPMM
# Every deployment of cp-swap: mainnet, then the devnet ones.
PROGRAM_IDS = frozenset(
    Pubkey.from_string(p)
    for p in (
        "CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C",
        "DRaycpLY18LhpbydsBWbVJtxpNv9oXPgjRSfpF2bWpYb",
        "CPMDWBwJDtYax9qW7AyRuVC19Cc4L4Vcy4n2BHAbHkCW",
    )
)
# cp-swap fails with ExceededSlippage (Anchor numbers custom errors from 6000) below minimum_amount_out.
EXCEEDED_SLIPPAGE = 6005
SLIPPAGE = declare_slippage(SlippageCode(PROGRAM_IDS, EXCEEDED_SLIPPAGE))

# AmmConfig accounts are PDAs of ("amm_config", index as u16 big-endian). Index 0 is the 0.25% tier on
# mainnet (trade 2500, protocol 120000, fund 40000 ppm); ``instructions.config_address`` derives any index.
MAINNET_CONFIG_0 = Pubkey.from_string("D4FPEruKEHrG5TenZ2mpDGEfu1iUvTiqBxvpU8HLBvC2")
# getMultipleAccounts takes at most 100 keys: the clock plus 6 accounts per pool leaves room for 16 pools.
MAX_POOLS_PER_QUOTE = 16


@dataclass(frozen=True, slots=True)
class RaydiumCpmmConfig:
    """The CPMM program on this network and how pools are found.

    ``discovery_config_indexes``: the AmmConfig indexes whose canonical pool PDA is checked for a pair when no
    pool is configured and the node cannot search by ``getProgramAccounts``. ``discover`` off means only
    configured pools are traded. Discovered pools are remembered for ``discovery_ttl_s``; a pair with none is
    asked again after ``miss_ttl_s``.
    """

    program_id: Pubkey
    discovery_config_indexes: tuple[int, ...] = (0,)
    discover: bool = True
    discovery_ttl_s: float = 600.0
    miss_ttl_s: float = 30.0

    def __post_init__(self) -> None:
        if any(not 0 <= i <= 0xFFFF for i in self.discovery_config_indexes):
            raise ValueError("AmmConfig indexes are u16")
        if self.discovery_ttl_s < 0 or self.miss_ttl_s < 0:
            raise ValueError("discovery TTLs cannot be negative")
