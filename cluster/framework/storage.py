"""What the engine asks of its store, and the values that cross that line.

The engine never imports Django; `manage.py run_framework` hands it cluster.store.DjangoStore,
and tests of pure decisions may hand it anything with these methods. Every method is one
short transaction at most: the engine commits before it tells Mesos (a launch is recorded
before its ACCEPT) and Mesos hears back only after a commit (an update is stored before
its ACKNOWLEDGE).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cluster.constraints import Constraint
from cluster.framework.config import ClusterConfig
from cluster.placement import PendingTask, PlacementSpec, RunningOn
from cluster.types import TaskSpec, TaskStatus


@dataclass(frozen=True, slots=True)
class PendingWork:
    """A task waiting for an offer, with what its launch needs (secrets excepted)."""

    pk: int
    task_id: str
    role: str
    group: str
    spec: TaskSpec  # ports are requests: 0 means any free port
    constraints: tuple[Constraint, ...] = ()
    environment_id: int = 0
    team_id: int | None = None
    # Owner and environment, put on the TaskInfo as labels.
    labels: Mapping[str, str] = field(default_factory=dict)
    # Why it is not placed yet, as last stored: counting goes on from there after a restart.
    why_not: Mapping[str, int] = field(default_factory=dict)

    def placement(
        self, shapes: dict[tuple[object, ...], PlacementSpec] | None = None
    ) -> PendingTask:
        """The task as placement sees it. Tasks with the same needs share one spec object
        (interned in `shapes`): the decision folds tasks by it and recognises an identical
        object without hashing it."""
        spec = self.spec
        key = (self.group, self.role, spec.cpus, spec.mem, spec.disk, spec.gpus, spec.ports,
               self.constraints)  # fmt: skip
        shape = None if shapes is None else shapes.get(key)
        if shape is None:
            shape = PlacementSpec(
                group=self.group,
                role=self.role,
                cpus=spec.cpus,
                mem=spec.mem,
                disk=spec.disk,
                gpus=spec.gpus,
                host_ports=spec.ports,
                constraints=self.constraints,
            )
            if shapes is not None:
                shapes[key] = shape
        return PendingTask(task_id=self.task_id, spec=shape, order=self.pk)


@dataclass(frozen=True, slots=True)
class LaunchRecord:
    """Where a task is about to go; stored (state LAUNCHING) before the ACCEPT is sent."""

    pk: int
    task_id: str
    agent_id: str
    hostname: str
    agent_url: str
    ports: tuple[int, ...]
    agent_attributes: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class UpdateOutcome:
    """What storing one status update meant."""

    status: TaskStatus
    known: bool  # a task of ours; False: an orphan Mesos runs for this framework
    changed: bool  # the task's state changed (duplicates and stale news do not)


@dataclass(frozen=True, slots=True)
class KillOrder:
    pk: int
    task_id: str
    agent_id: str | None
    state: str


@dataclass(frozen=True, slots=True)
class PendingSummary:
    """Pending work per role, and the newest pending task (to notice new work)."""

    by_role: Mapping[str, int]
    newest_pk: int
    # The sum of the pending pks per role: equal counts with a different sum mean the
    # queue changed.
    pk_sums: Mapping[str, int] | None = None

    @property
    def total(self) -> int:
        return sum(self.by_role.values())


class EngineStore(Protocol):
    # -- the subscription ---------------------------------------------------------

    def framework_id_get(self, cluster_key: str) -> str | None: ...

    def framework_id_save(self, cluster_key: str, framework_id: str | None) -> None:
        """None forgets it: the next SUBSCRIBE registers a new framework."""

    def framework_status_save(
        self,
        config: ClusterConfig,
        *,
        connected: bool,
        leader_url: str,
        last_heartbeat: float | None,
        suppressed: bool,
        metrics: Mapping[str, object],
        error: str = "",
    ) -> None: ...

    # -- pending work -------------------------------------------------------------

    def pending_summary(self, cluster_key: str, after_pk: int) -> PendingSummary:
        """Pending counts per role; newest_pk is the highest pending pk above after_pk,
        or after_pk itself when no newer task waits."""

    def pending_pks(self, cluster_key: str, roles: Sequence[str], limit: int) -> list[int]:
        """Pending tasks of these roles in queue order (oldest first)."""

    def pending_load(self, pks: Sequence[int]) -> tuple[list[PendingWork], dict[int, str]]:
        """The work for these pks, and {pk: problem} for rows whose spec cannot be read."""

    def running_placements(
        self, cluster_key: str, groups: Sequence[str]
    ) -> dict[str, list[RunningOn]]: ...

    def launch_environment(self, environment_id: int, team_id: int | None) -> dict[str, str]:
        """Configuration values with secrets decrypted, for one TaskInfo; never stored."""

    # -- launching ----------------------------------------------------------------

    def tasks_fail(self, problems: Mapping[int, str]) -> None:
        """Pending tasks that can never launch become TASK_ERROR; their owners hear of it."""

    def tasks_mark_launching(self, launches: Sequence[LaunchRecord], framework_id: str) -> set[int]:
        """Record the launches and commit; returns the pks actually marked (a task killed
        or launched meanwhile is left out and must not be sent)."""

    def tasks_unlaunch(self, pks: Sequence[int]) -> None:
        """LAUNCHING back to PENDING: the ACCEPT provably never reached the master."""

    def why_not_save(self, counts: Mapping[int, Mapping[str, int]]) -> None: ...

    # -- updates ------------------------------------------------------------------

    def updates_store(self, statuses: Sequence[TaskStatus]) -> list[UpdateOutcome]:
        """Store a batch in order in one transaction (task rows, the status trail, owner
        hooks); outcomes come back in the same order."""

    # -- kills and reconciliation -------------------------------------------------

    def kills_settle_pending(self, cluster_key: str) -> int:
        """Pending tasks whose owner wants them dead become TASK_KILLED at once."""

    def kills_due(self, cluster_key: str, limit: int) -> list[KillOrder]:
        """Launched, non-terminal tasks whose desired state is KILL."""

    def tasks_live(self, cluster_key: str) -> list[tuple[str, str | None]]:
        """(task id, agent id) of every launched, non-terminal task: what to reconcile."""

    def tasks_uncertain(
        self, cluster_key: str, older_than_seconds: float
    ) -> list[tuple[str, str | None]]:
        """Tasks whose fate Mesos owes an answer on, silent for that long: LAUNCHING with
        no update yet, and UNREACHABLE or UNKNOWN (a healed partition reports nothing by
        itself; only reconciliation brings the RUNNING back)."""

    # -- housekeeping -------------------------------------------------------------

    def recover(self) -> None:
        """After an error: drop a broken database connection so the next call reconnects."""
