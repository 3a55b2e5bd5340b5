"""How waiting orders reach the watchers: a Redis notification per batch, after the commit that stored them.

Notifications only hurry things along: a watcher that missed one (restarting, or Redis down) finds the
orders on its next re-read of PostgreSQL, which stays the record of what waits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis

from kernel.settings import Settings

log = logging.getLogger("oee.watcher")

NEW = "new"
CANCELLED = "cancelled"


def waiting_channel(settings: Settings) -> str:
    """The deployment's channel for waiting orders that were placed or cancelled."""
    return f"{settings.namespace}:waiting"


def lease_prefix(settings: Settings) -> str:
    """The prefix of the deployment's per-pair watcher leases."""
    return f"{settings.namespace}:watch-lease:"


@dataclass(frozen=True, slots=True)
class Notice:
    """Orders of one pair (token in, token out mints) that were placed (``new``) or ``cancelled``."""

    kind: str
    pair: tuple[str, str]
    ids: tuple[uuid.UUID, ...]

    def encode(self) -> bytes:
        return orjson.dumps({"kind": self.kind, "pair": list(self.pair), "ids": [str(i) for i in self.ids]})

    @classmethod
    def decode(cls, raw: bytes) -> Notice | None:
        try:
            doc = orjson.loads(raw)
            pair = (str(doc["pair"][0]), str(doc["pair"][1]))
            return cls(str(doc["kind"]), pair, tuple(uuid.UUID(i) for i in doc["ids"]))
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError):
            log.warning("ignoring a malformed waiting-order notice")
            return None


async def notify(redis: aioredis.Redis, channel: str, notices: Iterable[Notice]) -> None:
    """Publish ``notices`` in one round trip."""
    payloads = [n.encode() for n in notices]
    if not payloads:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for payload in payloads:
            pipe.publish(channel, payload)
        await pipe.execute()


def by_pair(kind: str, orders: Sequence[tuple[uuid.UUID, str, str]]) -> list[Notice]:
    """One notice per pair for ``(order id, token in, token out)`` triples."""
    grouped: dict[tuple[str, str], list[uuid.UUID]] = {}
    for order_id, token_in, token_out in orders:
        grouped.setdefault((token_in, token_out), []).append(order_id)
    return [Notice(kind, pair, tuple(ids)) for pair, ids in grouped.items()]
