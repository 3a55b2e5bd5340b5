"""Signing keys: loaded once from settings, never logged, printed or returned."""

from wallets.keys import KeyError_, load_keypair

__all__ = ["KeyError_", "load_keypair"]
