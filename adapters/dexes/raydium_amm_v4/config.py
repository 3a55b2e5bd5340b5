"""Where Raydium AMM v4 lives on a network and how the adapter looks for pools, from the :class:`PoolBook`."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from solders.pubkey import Pubkey

from adapters.pools import RAYDIUM_AMM_V4
from adapters.solana.errors import declare_slippage
from kernel.venues import SlippageCode

DEX_NAME = "raydium_amm_v4"
PROGRAM_NAME = RAYDIUM_AMM_V4
# Every deployment of the AMM v4 program: mainnet, then devnet (before July 2025 devnet's was HWy1…DHB8).
PROGRAM_IDS = frozenset(
    Pubkey.from_string(p)
    for p in (
        "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8",
        "DRaya7Kj3aMWQSy19kSjvmuwq9docCHofyP9kanQGaav",
        "HWy1jotHpo6UqeQxx49dpYYdQB8wj9Qk9MdxwjLvDHB8",
    )
)
# AmmError::ExceededSlippage, the 31st variant of the program's error enum (numbered from 0, no Anchor offset):
# swap_base_in below minimum_amount_out, swap_base_out above max_amount_in.
EXCEEDED_SLIPPAGE = 30
SLIPPAGE = declare_slippage(SlippageCode(PROGRAM_IDS, EXCEEDED_SLIPPAGE))

# getMultipleAccounts takes at most 100 keys: the clock plus 5 accounts per pool (the pool, two vaults, two
# mints) leaves room for 19 pools; 16 keeps the same bound as the other DEXes.
MAX_POOLS_PER_QUOTE = 16


class CeilRounding(enum.Enum):
    """How the program's ``checked_ceil_div`` rounds, which changed between builds.

    ``NEAREST_BELOW_ONE``: builds before August 2025 (raydium-amm up to 2cda268): the ceiling, except that a
    quotient below one rounds to the nearest (0 when ``2 * numerator < denominator``, else 1). So an input
    under 200 raw units pays no swap fee at the default 25/10000. ``CEIL``: raydium-amm from 78c6a81 on, the
    plain ceiling. Only amounts whose fee or curve input is below one unit tell them apart.
    """

    NEAREST_BELOW_ONE = "nearest_below_one"
    CEIL = "ceil"


@dataclass(frozen=True, slots=True)
class ProgramBuild:
    """What differs between the builds of the program that a quote depends on.

    ``rounding``: its ``checked_ceil_div`` (:class:`CeilRounding`). ``book_for_initialized``: a pool in status 1
    (Initialized) swaps through its OpenBook market, whose accounts the swap must then name and whose orders'
    funds count as reserves (builds before raydium-amm 27f461d, July 2026); off, such a pool swaps on its vaults
    alone, as in status 6 (that build removed the order book). The default is the build the adapter was
    checked against, unit for unit (raydium-amm 2cda268); :data:`NO_ORDER_BOOK_BUILD` is the current source's.
    """

    rounding: CeilRounding = CeilRounding.NEAREST_BELOW_ONE
    book_for_initialized: bool = True


CHECKED_BUILD = ProgramBuild()
NO_ORDER_BOOK_BUILD = ProgramBuild(CeilRounding.CEIL, book_for_initialized=False)


@dataclass(frozen=True, slots=True)
class RaydiumAmmV4Config:
    """The AMM v4 program on this network and how pools are found.

    Pools are found by ``getProgramAccounts`` (AmmInfo size and both mints, in either coin/pc order) unless
    ``discover`` is off, when only configured pools are traded. Discovered pools are remembered for
    ``discovery_ttl_s``; a pair with none is asked again after ``miss_ttl_s``. ``build`` says how the deployed
    program rounds and which pools it swaps without the order book (:class:`ProgramBuild`).
    """

    program_id: Pubkey
    discover: bool = True
    discovery_ttl_s: float = 600.0
    miss_ttl_s: float = 30.0
    build: ProgramBuild = CHECKED_BUILD

    def __post_init__(self) -> None:
        if self.discovery_ttl_s < 0 or self.miss_ttl_s < 0:
            raise ValueError("discovery TTLs cannot be negative")
