"""Raydium CLMM (CAMMCzo…grrKgrWqK): concentrated-liquidity pools whose liquidity sits in tick arrays of 60
ticks, read from a Solana cluster and swapped through the program.

Pure parts: :mod:`.layouts` (PoolState, AmmConfig, TickArrayState, the bitmap extension), :mod:`.math` (tick
math and the exact-in and exact-out swap across initialized ticks), :mod:`.instructions` (the PDAs and
``swap_v2``).
"""
