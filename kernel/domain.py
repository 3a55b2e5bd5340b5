"""Order vocabulary shared by the API, the worker and storage."""

from __future__ import annotations

from enum import StrEnum


class OrderType(StrEnum):
    MARKET = "market"


class OrderStatus(StrEnum):
    PENDING = "pending"
    ROUTING = "routing"
    BUILDING = "building"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (OrderStatus.CONFIRMED, OrderStatus.FAILED)


TERMINAL_STATUSES = frozenset({OrderStatus.CONFIRMED.value, OrderStatus.FAILED.value})


class EventKind(StrEnum):
    """What an event says. Most events are a status change; ``retrying`` and ``settlement`` annotate."""

    STATUS = "status"
    RETRYING = "retrying"
    SETTLEMENT = "settlement"


class AttemptOutcome(StrEnum):
    """How one attempt at an order ended: ``retry`` when another attempt follows."""

    RETRY = "retry"
    CONFIRMED = "confirmed"
    FAILED = "failed"
