"""API keys: what a key looks like, how it is stored, and how a presented key is checked.

A key is ``oee_<id>_<secret>``: ``id`` (12 characters, public, shown by ``oee keys list``) finds the
row, ``secret`` (32 random bytes) proves the holder. Only a SHA-256 digest of the whole key is stored:
the secret is shown once, at creation, and never again. A plain digest is enough (no slow KDF) because
the secret is 256 random bits, not a password; the comparison is constant-time.

Checking a key on every request must not cost a database query: :class:`KeyVerifier` caches each
looked-up ``id`` for ``ttl_s`` seconds (found or not), so a revoked key stops working within that time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

PREFIX = "oee_"
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
ID_LENGTH = 12
# oee_ + id + _ + 43 characters of unpadded url-safe base64 (32 bytes).
KEY_PATTERN = re.compile(rf"^{PREFIX}([a-z2-7]{{{ID_LENGTH}}})_([A-Za-z0-9_-]{{43}})$")
MAX_KEY_LENGTH = 100  # a presented key longer than this is refused before any work


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key as created: ``secret`` is the whole key, to be shown once."""

    key_id: str
    secret: str
    digest: bytes


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, as the API sees it when the key is presented."""

    id: uuid.UUID
    key_id: str
    name: str
    digest: bytes
    rate_per_s: float | None
    burst: int | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def digest_of(key: str) -> bytes:
    return hashlib.sha256(key.encode("ascii")).digest()


def generate_key() -> NewKey:
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))
    body = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    secret = f"{PREFIX}{key_id}_{body}"
    return NewKey(key_id, secret, digest_of(secret))


def key_id_of(presented: str) -> str | None:
    """The public id of a well-formed key, or None for anything that is not one."""
    if len(presented) > MAX_KEY_LENGTH:
        return None
    match = KEY_PATTERN.match(presented)
    return match.group(1) if match else None


Lookup = Callable[[str], Awaitable[ApiKey | None]]


class KeyVerifier:
    """Checks presented keys against the store, caching each id's row for ``ttl_s`` seconds."""

    def __init__(self, lookup: Lookup, *, ttl_s: float = 5.0, max_entries: int = 100_000) -> None:
        self._lookup = lookup
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    async def verify(self, presented: str | None) -> ApiKey | None:
        """The active key ``presented`` proves, or None."""
        if not presented:
            return None
        key_id = key_id_of(presented)
        if key_id is None:
            return None
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is None or cached[0] < now:
            record = await self._lookup(key_id)
            if len(self._cache) >= self._max_entries:
                self._cache.clear()  # bounded: a flood of made-up ids cannot grow it without end
            self._cache[key_id] = (now + self._ttl_s, record)
        else:
            record = cached[1]
        if record is None or not record.active:
            return None
        return record if hmac.compare_digest(record.digest, digest_of(presented)) else None

    def forget(self, key_id: str) -> None:
        self._cache.pop(key_id, None)
