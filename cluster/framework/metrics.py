"""The framework's own numbers for the dashboard: rates per minute and a few gauges."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

WINDOW_SECONDS = 60


class RateCounter:
    """Events in the last minute, kept in one-second buckets (constant memory)."""

    def __init__(self) -> None:
        self._buckets: deque[list[float]] = deque()  # [second, count]
        self.total = 0

    def add(self, count: int, now: float) -> None:
        if count <= 0:
            return
        self.total += count
        second = math.floor(now)
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += count
        else:
            self._buckets.append([second, count])
        self._trim(now)

    def per_minute(self, now: float) -> int:
        self._trim(now)
        return int(sum(count for _, count in self._buckets))

    def _trim(self, now: float) -> None:
        while self._buckets and self._buckets[0][0] <= now - WINDOW_SECONDS:
            self._buckets.popleft()


@dataclass(frozen=True, slots=True)
class OfferRound:
    started: float  # the engine's clock when the offers were taken in hand
    offers: int
    launched: int
    decide_seconds: float  # offers in hand -> launches committed, TaskInfos built
    sent_seconds: float  # ... -> every ACCEPT written to the master
    total_seconds: float  # ... -> every ACCEPT and DECLINE answered
    placed_seconds: float = 0.0  # ... -> the placement decided (before recording it)


@dataclass
class EngineMetrics:
    offers_received: RateCounter = field(default_factory=RateCounter)
    offers_used: RateCounter = field(default_factory=RateCounter)
    offers_declined: RateCounter = field(default_factory=RateCounter)
    launches: RateCounter = field(default_factory=RateCounter)
    updates: RateCounter = field(default_factory=RateCounter)
    kills: RateCounter = field(default_factory=RateCounter)
    # Recent offer rounds, for benchmarks and the slowest-round gauge.
    rounds: deque[OfferRound] = field(default_factory=lambda: deque(maxlen=1000))
    pending: int = 0
    # Launches the next offer round may make: what fits in its time budget.
    launch_limit: int = 0
    subscribed_at: float | None = None

    def snapshot(
        self, now: float, *, reconcile_lag: float | None, reconciling: int
    ) -> dict[str, object]:
        recent = list(self.rounds)[-50:]
        return {
            "offers_received_per_min": self.offers_received.per_minute(now),
            "offers_used_per_min": self.offers_used.per_minute(now),
            "offers_declined_per_min": self.offers_declined.per_minute(now),
            "launches_per_min": self.launches.per_minute(now),
            "updates_per_min": self.updates.per_minute(now),
            "kills_per_min": self.kills.per_minute(now),
            "launches_total": self.launches.total,
            "pending": self.pending,
            "reconcile_lag_seconds": None if reconcile_lag is None else round(reconcile_lag, 3),
            "reconciling": reconciling,
            # Offers in hand to every offer answered: the latency the round budget bounds.
            "slowest_offer_round_ms": round(
                max((r.sent_seconds for r in recent), default=0) * 1000, 1
            ),
            "launch_limit": self.launch_limit,
            "subscribed_at": self.subscribed_at,
        }
