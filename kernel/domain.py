"""Order vocabulary shared by the API, the worker and storage."""

from __future__ import annotations

from enum import StrEnum


class OrderType(StrEnum):
    """``market`` executes at once; ``limit`` and ``takeProfit`` wait until their size pays their price;
    ``sniper`` waits for its pair's pool to open and fires at the first executable quote; ``stop`` waits until
    its size pays no more than its stop price; ``trailingStop`` until its size pays a distance below the best
    seen since it was placed; ``oco`` (one cancels the other) is a take-profit and a stop on one amount,
    firing once at whichever is met first; ``dca`` places its amount as a series of market orders, one
    every interval."""

    MARKET = "market"
    LIMIT = "limit"
    SNIPER = "sniper"
    STOP = "stop"
    TAKE_PROFIT = "takeProfit"
    TRAILING_STOP = "trailingStop"
    OCO = "oco"
    DCA = "dca"

    @property
    def waits(self) -> bool:
        """Whether the order waits in ``waiting`` for a trigger before it executes."""
        return self is not OrderType.MARKET


class OrderStatus(StrEnum):
    """Where an order stands. A limit or sniper order starts ``waiting``; a trigger moves it to ``pending``
    (then on like a market order), its expiry to ``expired``, its owner's cancel to ``cancelled``."""

    WAITING = "waiting"
    PENDING = "pending"
    ROUTING = "routing"
    BUILDING = "building"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self.value in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({"confirmed", "failed", "expired", "cancelled"})


class EventKind(StrEnum):
    """What an event says. Most events are a status change; ``retrying`` and ``settlement`` annotate, and
    ``dca`` is a DCA placing one of its children."""

    STATUS = "status"
    RETRYING = "retrying"
    SETTLEMENT = "settlement"
    DCA = "dca"


class AttemptOutcome(StrEnum):
    """How one attempt at an order ended: ``retry`` when another attempt follows."""

    RETRY = "retry"
    CONFIRMED = "confirmed"
    FAILED = "failed"
