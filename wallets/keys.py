"""Loading the engine's keypair from ``SOLANA_PRIVATE_KEY`` or ``SOLANA_KEYPAIR_PATH``.

Accepted forms: a base58 secret key (64 bytes, as wallets export it, or a 32-byte seed), or the JSON
byte array of a Solana CLI keypair file. Errors never include any part of the key.
"""

from __future__ import annotations

import json
from pathlib import Path

import based58
from solders.keypair import Keypair

from kernel.settings import Settings


class InvalidKey(ValueError):
    """The configured key is malformed. The message names the setting, never the key."""


def parse_secret(text: str, source: str) -> Keypair:
    value = text.strip()
    if not value:
        raise InvalidKey(f"{source} is empty")
    if value.startswith("["):
        try:
            numbers = json.loads(value)
        except ValueError:
            raise InvalidKey(f"{source} looks like a JSON array but is not valid JSON") from None
        if not isinstance(numbers, list) or not all(isinstance(n, int) and 0 <= n <= 255 for n in numbers):
            raise InvalidKey(f"{source} must be a JSON array of bytes (0 to 255)")
        raw = bytes(numbers)
    else:
        try:
            raw = based58.b58decode(value.encode())
        except ValueError:
            raise InvalidKey(f"{source} is neither base58 nor a JSON byte array") from None
    if len(raw) == 64:
        try:
            keypair = Keypair.from_bytes(raw)
        except ValueError:
            raise InvalidKey(f"{source} is 64 bytes but not a valid ed25519 keypair") from None
        return keypair
    if len(raw) == 32:
        return Keypair.from_seed(raw)
    raise InvalidKey(f"{source} decodes to {len(raw)} bytes; a secret key has 64 (or a 32-byte seed)")


def load_keypair(settings: Settings) -> Keypair | None:
    """The configured keypair, or None when neither setting is present."""
    if settings.solana_private_key is not None:
        return parse_secret(settings.solana_private_key.get_secret_value(), "SOLANA_PRIVATE_KEY")
    if settings.solana_keypair_path is not None:
        path = Path(settings.solana_keypair_path).expanduser()
        try:
            text = path.read_text()
        except OSError as exc:
            raise InvalidKey(f"SOLANA_KEYPAIR_PATH {path} cannot be read: {exc.strerror}") from None
        return parse_secret(text, f"the keypair file {path}")
    return None
