"""Where Orca Whirlpool lives on a network, the program's slippage codes and how the adapter looks for pools, from
the :class:`PoolBook`."""

from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

from adapters.pools import ORCA_WHIRLPOOL
from adapters.solana.errors import declare_slippage
from kernel.venues import SlippageCode

DEX_NAME = "orca_whirlpool"
PROGRAM_NAME = ORCA_WHIRLPOOL
# The one deployment of the Whirlpool program, on mainnet and devnet alike.
PROGRAM_IDS = frozenset({Pubkey.from_string("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc")})
# ErrorCode::AmountOutBelowMinimum and AmountInAboveMaximum, the 37th and 38th of the program's errors (Anchor
# numbers them from 6000): exact in below other_amount_threshold, exact out above it.
AMOUNT_OUT_BELOW_MINIMUM = 6036
AMOUNT_IN_ABOVE_MAXIMUM = 6037
SLIPPAGE = declare_slippage(SlippageCode(PROGRAM_IDS, AMOUNT_OUT_BELOW_MINIMUM))
SLIPPAGE_EXACT_OUT = declare_slippage(SlippageCode(PROGRAM_IDS, AMOUNT_IN_ABOVE_MAXIMUM))

# A quote reads, per pool, the pool, its two mints and the tick arrays around its price (the three each way a
# swap may walk, and one more on each side should the price have moved since: 7). getMultipleAccounts takes at
# most 100 keys: 10 per pool leaves room for 10 pools; 8 keeps a margin for a price that moved further.
TICK_ARRAYS_READ_PER_SIDE = 3
MAX_POOLS_PER_QUOTE = 8


@dataclass(frozen=True, slots=True)
class OrcaWhirlpoolConfig:
    """The Whirlpool program on this network and how pools are found.

    Pools are found by ``getProgramAccounts`` (Whirlpool size and both mints; token A's mint is always the lower)
    unless ``discover`` is off, when only configured pools are traded. Where the node refuses that search, the
    pair's pool PDA under each of ``discovery_configs`` at each of ``discovery_tick_spacings`` is read instead.
    Discovered pools are remembered for ``discovery_ttl_s``; a pair with none is asked again after ``miss_ttl_s``.
    """

    program_id: Pubkey
    discovery_configs: tuple[Pubkey, ...] = ()
    discovery_tick_spacings: tuple[int, ...] = (1, 2, 4, 8, 16, 64, 96, 128, 256)
    discover: bool = True
    discovery_ttl_s: float = 600.0
    miss_ttl_s: float = 30.0

    def __post_init__(self) -> None:
        if self.discovery_ttl_s < 0 or self.miss_ttl_s < 0:
            raise ValueError("discovery TTLs cannot be negative")
