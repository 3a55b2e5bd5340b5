"""Routing: quote every enabled DEX, weigh single pools, splits and hops, and plan the route that pays most."""

from engine.routing.decision import Candidate, QuoteFailure, RoutingDecision, plan_label
from engine.routing.router import RoutePolicy, Router

__all__ = ["Candidate", "QuoteFailure", "RoutePolicy", "Router", "RoutingDecision", "plan_label"]
