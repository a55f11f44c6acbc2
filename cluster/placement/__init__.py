"""Offer placement: a pure decision of which pending tasks go on which offers.

No ORM, no network: the framework converts parsed offers and its task queue into these
values, calls `place_tasks`, and turns the result into ACCEPT and DECLINE calls.
"""

from __future__ import annotations

from cluster.placement.engine import place_tasks
from cluster.placement.model import (
    COMMAND_EXECUTOR,
    NO_OVERHEAD,
    ExecutorOverhead,
    Launch,
    OfferPlan,
    PendingTask,
    Placement,
    PlacementOffer,
    PlacementSpec,
    RunningOn,
    WhyNot,
    milli,
)

__all__ = [
    "COMMAND_EXECUTOR",
    "NO_OVERHEAD",
    "ExecutorOverhead",
    "Launch",
    "OfferPlan",
    "PendingTask",
    "Placement",
    "PlacementOffer",
    "PlacementSpec",
    "RunningOn",
    "WhyNot",
    "milli",
    "place_tasks",
]
