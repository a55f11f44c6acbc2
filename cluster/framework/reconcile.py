"""Explicit reconciliation rounds (mesos docs/reconciliation.md, "the algorithm").

After every (re)subscribe the engine asks about every task it believes non-terminal. A
task counts as answered by any update about it; the rest are asked again with capped
exponential backoff, because the master stays silent about tasks on agents that have not
re-registered after a failover (silence is not "lost"). Only one round runs at a time:
tasks found later (a launch that heard nothing) join the open round.
"""

from __future__ import annotations

from collections.abc import Iterable


class Reconciler:
    def __init__(self, *, retry_seconds: float, retry_cap: float) -> None:
        self.retry_seconds = retry_seconds
        self.retry_cap = retry_cap
        self.outstanding: dict[str, str | None] = {}
        self.started_at: float | None = None
        self.attempt = 0
        self.next_at = 0.0
        self.last_duration: float | None = None

    def begin(
        self, tasks: Iterable[tuple[str, str | None]], now: float
    ) -> list[tuple[str, str | None]]:
        """A new round replaces any open one (a new subscription makes it moot)."""
        self.outstanding = dict(tasks)
        self.attempt = 0
        self.started_at = now if self.outstanding else None
        self.next_at = now + self.retry_seconds
        if not self.outstanding:
            self.last_duration = 0.0
        return list(self.outstanding.items())

    def add(
        self, tasks: Iterable[tuple[str, str | None]], now: float
    ) -> list[tuple[str, str | None]]:
        """Join the open round (or open one); returns the tasks not already asked about."""
        fresh = [(task, agent) for task, agent in tasks if task not in self.outstanding]
        if not fresh:
            return []
        if not self.outstanding:
            self.started_at = now
            self.attempt = 0
            self.next_at = now + self.retry_seconds
        self.outstanding.update(fresh)
        return fresh

    def answered(self, task_id: str, now: float) -> None:
        if task_id not in self.outstanding:
            return
        del self.outstanding[task_id]
        if not self.outstanding and self.started_at is not None:
            self.last_duration = now - self.started_at
            self.started_at = None

    def due(self, now: float) -> list[tuple[str, str | None]]:
        """The tasks to ask again now, if the backoff has run out."""
        if not self.outstanding or now < self.next_at:
            return []
        self.attempt += 1
        delay = min(self.retry_cap, self.retry_seconds * 2.0 ** min(self.attempt, 30))
        self.next_at = now + delay
        return list(self.outstanding.items())

    def lag(self, now: float) -> float | None:
        """How long the open round has waited, else how long the last one took."""
        if self.started_at is not None:
            return now - self.started_at
        return self.last_duration

    def reset(self) -> None:
        self.outstanding = {}
        self.started_at = None
