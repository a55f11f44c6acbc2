"""When to SUPPRESS and REVIVE offers, per role (invariant 5).

A role with no pending task is suppressed, so Mesos offers its resources to others. A role
whose work reappears is revived, and so is a role whose offers were declined (and so are
held back by refuse filters) when newer work arrives that might fit them: REVIVE clears
the role's filters. Revives of one role are spaced out, because each one makes the master
re-offer every agent.
"""

from __future__ import annotations

from collections.abc import Iterable

from cluster.framework.storage import PendingSummary


class Demand:
    def __init__(self, roles: Iterable[str], *, revive_min_interval: float) -> None:
        self.roles = tuple(roles)
        self.revive_min_interval = revive_min_interval
        self.suppressed: set[str] = set()
        self.filtered: set[str] = set()
        self.watermark = 0
        self._revived_at: dict[str, float] = {}
        self._owed: set[str] = set()

    def subscribed(self, suppressed: Iterable[str], watermark: int) -> None:
        """A new subscription starts with the roles it asked to be suppressed and no
        filters: the master drops a framework's filters when it fails over."""
        self.suppressed = set(suppressed)
        self.filtered = set()
        self._owed = set()
        self.watermark = max(self.watermark, watermark)

    def set_roles(self, roles: Iterable[str]) -> None:
        self.roles = tuple(roles)
        self.suppressed &= set(self.roles)
        self.filtered &= set(self.roles)

    def declined(self, roles: Iterable[str]) -> None:
        self.filtered.update(roles)

    def decide(self, summary: PendingSummary, now: float) -> tuple[list[str], list[str]]:
        """(roles to revive, roles to suppress) for this pending work."""
        waiting = {role for role, count in summary.by_role.items() if count}
        if summary.newest_pk > self.watermark:
            # Owed until done: a revive held back by the spacing must still happen.
            self._owed |= waiting & self.filtered
            self.watermark = summary.newest_pk
        self._owed &= waiting
        revive = [
            role
            for role in self.roles
            if (role in self.suppressed and role in waiting)
            or (role in self._owed and self._spaced(role, now))
        ]
        suppress = [r for r in self.roles if r not in waiting and r not in self.suppressed]
        return revive, suppress

    def _spaced(self, role: str, now: float) -> bool:
        return now - self._revived_at.get(role, -1e18) >= self.revive_min_interval

    def revived(self, roles: Iterable[str], now: float) -> None:
        for role in roles:
            self.suppressed.discard(role)
            self.filtered.discard(role)
            self._owed.discard(role)
            self._revived_at[role] = now

    def suppressed_now(self, roles: Iterable[str]) -> None:
        self.suppressed.update(roles)

    @property
    def all_suppressed(self) -> bool:
        return bool(self.roles) and set(self.roles) <= self.suppressed
