"""Fault injection for the localnet: dropped sends, late confirmations, 429 and 5xx answers.

Every decision draws from one seeded :class:`random.Random`, so a run with the same seed and the same
sequence of calls injects the same faults. Faults can be changed at run time through the non-standard
JSON-RPC method ``localnet_setFaults``.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TOO_MANY_REQUESTS = {"code": 429, "message": "Too many requests"}
SERVICE_UNAVAILABLE = {"code": 503, "message": "Service unavailable"}


class FaultConfig(BaseModel):
    """Which faults to inject. Rates are shares in ``[0, 1]``; every draw uses one RNG seeded by ``seed``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    drop_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of sendTransaction calls answered with the signature but dropped."
    )
    delay_slots: int = Field(
        default=0, ge=0, le=10_000, description="Slots a sent transaction waits before it executes (late landing)."
    )
    rate_429: float = Field(default=0.0, ge=0, le=1, description="Share of calls answered with HTTP 429.")
    rate_5xx: float = Field(default=0.0, ge=0, le=1, description="Share of calls answered with HTTP 503.")
    seed: int = Field(default=0, description="Seed of the fault RNG.")


# JSON-RPC spellings accepted by ``localnet_setFaults`` (camelCase) next to the field names.
_ALIASES = {"dropRate": "drop_rate", "delaySlots": "delay_slots", "rate429": "rate_429", "rate5xx": "rate_5xx"}


class FaultInjector:
    """Draws fault decisions from a seeded RNG. Not thread-safe: the localnet calls it from its event loop."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)

    def http_status(self) -> int | None:
        """The HTTP status to answer a call with instead of serving it (429 or 503), or ``None`` to serve it."""
        roll = self._rng.random()
        if roll < self.config.rate_429:
            return 429
        if roll < self.config.rate_429 + self.config.rate_5xx:
            return 503
        return None

    def drop_send(self) -> bool:
        """Whether to drop this sendTransaction: answer with the signature, never execute."""
        return self.config.drop_rate > 0 and self._rng.random() < self.config.drop_rate

    @property
    def delay_slots(self) -> int:
        return self.config.delay_slots

    def update(self, changes: dict[str, Any]) -> FaultConfig:
        """Apply changes (snake_case or camelCase keys); a new ``seed`` reseeds the RNG. Returns the new config."""
        normalised = {_ALIASES.get(key, key): value for key, value in changes.items()}
        merged = self.config.model_dump() | normalised
        new = FaultConfig.model_validate(merged)
        if "seed" in normalised:
            self._rng = random.Random(new.seed)
        self.config = new
        return new

    def as_json(self) -> dict[str, Any]:
        c = self.config
        return {
            "dropRate": c.drop_rate,
            "delaySlots": c.delay_slots,
            "rate429": c.rate_429,
            "rate5xx": c.rate_5xx,
            "seed": c.seed,
        }
