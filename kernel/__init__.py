"""The kernel: errors, tokens, integer money, settings, the order domain, logs and the venue protocols.

Every other layer builds on it; it imports nothing of ours.
"""
