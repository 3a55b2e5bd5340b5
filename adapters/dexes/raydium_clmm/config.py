"""Where Raydium CLMM lives and the program's error codes a swap can fail with."""

from __future__ import annotations

from solders.pubkey import Pubkey

from adapters.solana.errors import declare_slippage
from kernel.venues import SlippageCode

DEX_NAME = "raydium_clmm"
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
