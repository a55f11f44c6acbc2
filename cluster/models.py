"""The engine's tables: tasks Berth wants run, what Mesos says of them, and the framework.

The database is the source of truth for *desired* state. Services and jobs only write rows
that say "this task should run with this spec" (a Task in PENDING) or "this task should die"
(desired=KILL); the framework process launches, kills and records what Mesos reports.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from cluster.states import TERMINAL_STATES


class Desired(models.TextChoices):
    RUN = "run", "Run"
    KILL = "kill", "Kill"


class Task(models.Model):
    """One launch attempt of a task spec.

    `state` holds Berth's own PENDING and LAUNCHING before Mesos knows the task, then the
    Mesos TASK_* state exactly as last reported.
    """

    PENDING = "PENDING"  # waiting for an offer that fits
    LAUNCHING = "LAUNCHING"  # id recorded, ACCEPT sent or about to be; no update yet

    # Deterministic from owner, instance and attempt, so a retried decision reuses it.
    mesos_task_id = models.CharField(max_length=255)
    name = models.CharField(max_length=200)
    # The owner decides what follows a terminal state (restart, retry, mark a run done).
    owner_kind = models.CharField(max_length=40)
    owner_id = models.BigIntegerField(null=True, blank=True)
    # Both foreign keys are indexed by the (x, -created_at, -id) indexes below.
    environment = models.ForeignKey(
        "portal.Environment", on_delete=models.PROTECT, related_name="tasks", db_index=False
    )
    team = models.ForeignKey(
        "portal.Team",
        on_delete=models.PROTECT,
        related_name="tasks",
        null=True,
        blank=True,
        db_index=False,
    )
    # What to run, without secrets: see cluster.spec.TaskSpec. Secrets are resolved into the
    # TaskInfo at launch and never stored here.
    spec = models.JSONField()
    # Tasks of one group are placed with respect to each other (constraints).
    group = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=80)
    cluster_key = models.CharField(max_length=400)

    desired = models.CharField(max_length=8, choices=Desired.choices, default=Desired.RUN)
    state = models.CharField(max_length=32, default=PENDING)
    agent_id = models.CharField(max_length=255, blank=True)
    hostname = models.CharField(max_length=255, blank=True)
    agent_url = models.CharField(max_length=255, blank=True)
    ports = models.JSONField(default=list, blank=True)
    # The agent's attributes (and @region/@zone) when launched: constraints of later tasks of
    # the group count against them, also after a framework restart.
    agent_attributes = models.JSONField(default=dict, blank=True)
    healthy = models.BooleanField(null=True, blank=True)
    message = models.TextField(blank=True)
    reason = models.CharField(max_length=80, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    # Offers rejected per reason while pending ({"cpus": 12, "constraint:hostname": 3}).
    why_not_placed = models.JSONField(default=dict, blank=True)
    framework_id = models.CharField(max_length=255, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    kill_requested_at = models.DateTimeField(null=True, blank=True)
    # When the last status update was stored: reconciliation re-asks for tasks not heard of.
    status_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Every index costs each launch and status update a write (a state change is never
        # a heap-only update), so there is no index a query below does not need: the
        # framework's reads use the partial indexes, the pages the recent-first ones.
        constraints = [
            # A constraint, not unique=True, which on PostgreSQL adds a second, LIKE index.
            models.UniqueConstraint(fields=["mesos_task_id"], name="task_mesos_id_unique"),
        ]
        indexes = [
            # The framework's hot queries: pending work, and tasks to kill or reconcile.
            models.Index(
                fields=["cluster_key", "created_at"],
                name="task_pending_idx",
                condition=Q(state="PENDING", desired="run"),
            ),
            models.Index(
                fields=["cluster_key", "state"],
                name="task_live_idx",
                condition=~Q(state__in=sorted(TERMINAL_STATES)),
            ),
            models.Index(
                fields=["cluster_key"],
                name="task_kill_idx",
                condition=Q(desired="kill") & ~Q(state__in=sorted(TERMINAL_STATES)),
            ),
            models.Index(
                fields=["cluster_key", "group"],
                name="task_group_live_idx",
                condition=~Q(state__in=sorted(TERMINAL_STATES)),
            ),
            models.Index(fields=["owner_kind", "owner_id"], name="task_owner_idx"),
            models.Index(fields=["-created_at", "-id"], name="task_recent_idx"),
            # The cluster page pages one team's or one environment's tasks newest first; without
            # these the planner picks the foreign-key index and sorts every row of the team.
            models.Index(fields=["team", "-created_at", "-id"], name="task_team_recent_idx"),
            models.Index(fields=["environment", "-created_at", "-id"], name="task_env_recent_idx"),
        ]

    def __str__(self) -> str:
        return self.mesos_task_id

    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def is_launched(self) -> bool:
        return self.state not in (self.PENDING,)


class TaskStatusRecord(models.Model):
    """Every status update Berth stored, in arrival order: the 'why did it fail' trail."""

    # Indexed by status_task_idx, which also keeps a task's trail in order.
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="statuses", db_index=False
    )
    state = models.CharField(max_length=32)
    source = models.CharField(max_length=32, blank=True)
    reason = models.CharField(max_length=80, blank=True)
    message = models.TextField(blank=True)
    healthy = models.BooleanField(null=True, blank=True)
    uuid = models.CharField(max_length=32, blank=True)
    mesos_timestamp = models.FloatField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["task", "id"], name="status_task_idx"),
            # Duplicate deliveries are found by uuid; master-made updates have none.
            models.Index(fields=["uuid"], name="status_uuid_idx", condition=~Q(uuid="")),
        ]

    def __str__(self) -> str:
        return f"{self.task_id} {self.state}"


class FrameworkRecord(models.Model):
    """One subscription per distinct Mesos cluster; its id must survive restarts."""

    cluster_key = models.CharField(max_length=400, unique=True)
    master_urls = models.JSONField(default=list)
    roles = models.JSONField(default=list)
    framework_id = models.CharField(max_length=255, blank=True)
    connected = models.BooleanField(default=False)
    leader_url = models.CharField(max_length=255, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    suppressed = models.BooleanField(default=False)
    # Rolling counters the dashboard shows; the keys are listed in cluster.store.
    metrics = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.cluster_key} ({self.framework_id or 'not registered'})"


class LeaderLease(models.Model):
    """At most one active framework process: the holder renews, a standby takes over on expiry."""

    name = models.CharField(max_length=40, unique=True)
    holder = models.CharField(max_length=200)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder}"
