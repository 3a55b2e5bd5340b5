"""Where Orca Whirlpool lives on a network, and the program's slippage codes."""

from __future__ import annotations

from solders.pubkey import Pubkey

from adapters.solana.errors import declare_slippage
from kernel.venues import SlippageCode

DEX_NAME = "orca_whirlpool"
# The one deployment of the Whirlpool program, on mainnet and devnet alike.
PROGRAM_IDS = frozenset({Pubkey.from_string("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc")})
# ErrorCode::AmountOutBelowMinimum and AmountInAboveMaximum, the 37th and 38th of the program's errors (Anchor
# numbers them from 6000): exact in below other_amount_threshold, exact out above it.
AMOUNT_OUT_BELOW_MINIMUM = 6036
AMOUNT_IN_ABOVE_MAXIMUM = 6037
SLIPPAGE = declare_slippage(SlippageCode(PROGRAM_IDS, AMOUNT_OUT_BELOW_MINIMUM))
SLIPPAGE_EXACT_OUT = declare_slippage(SlippageCode(PROGRAM_IDS, AMOUNT_IN_ABOVE_MAXIMUM))
