"""Signing keys: loaded once from settings, never logged, printed or returned."""

from wallets.keys import InvalidKey, load_keypair

__all__ = ["InvalidKey", "load_keypair"]
