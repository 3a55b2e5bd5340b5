"""Orca Whirlpool (whirLbMi…uctyCc): concentrated-liquidity pools, read from a Solana cluster and swapped through
the program.

Pure parts: :mod:`.layouts` (the Whirlpool and TickArray accounts), :mod:`.math` (tick math and the exact-in and
exact-out swap walk), :mod:`.instructions` (the PDAs and ``swap_v2``). :mod:`.config` holds the program ID and
its slippage codes.
"""
