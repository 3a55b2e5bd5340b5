"""Meteora DAMM v2 (cp-amm, cpamdpZ…1sGG): constant-product and concentrated pools, read from a Solana
cluster and swapped through the program."""
