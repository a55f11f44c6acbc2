"""DjangoStore: the queries and writes of cluster.framework.storage.EngineStore."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, QuerySet, Sum, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from cluster.framework.config import ClusterConfig
from cluster.framework.offers import running_attributes
from cluster.framework.storage import (
    KillOrder,
    LaunchRecord,
    PendingSummary,
    PendingWork,
    UpdateOutcome,
)
from cluster.models import Desired, FrameworkRecord, Task
from cluster.owners import owner_notify
from cluster.placement import RunningOn
from cluster.spec import SpecError, StoredSpec, spec_load
from cluster.states import TERMINAL_STATES, TaskState
from cluster.store.rows import chunks, update_tasks
from cluster.store.updates import SOURCE_BERTH, UpdateBatch, kill_pending, record
from cluster.types import TaskStatus
from portal.config import resolve_environment_variables
from portal.models import Environment, Team

logger = logging.getLogger(__name__)

_TERMINAL_SQL = ", ".join(f"'{state}'" for state in sorted(TERMINAL_STATES))
LIVE_WHERE = f'NOT ("state" IN ({_TERMINAL_SQL}))'
_UNCERTAIN = (TaskState.UNREACHABLE.value, TaskState.UNKNOWN.value)


def live(queryset: QuerySet[Task]) -> QuerySet[Task]:
    """Tasks not in a terminal state, in the shape the partial indexes are defined with."""
    return queryset.extra(where=[LIVE_WHERE])  # noqa: S610 (constant text, no input)


def _epoch(moment: float | None) -> datetime | None:
    return None if moment is None else datetime.fromtimestamp(moment, tz=UTC)


class DjangoStore:
    """EngineStore on the Django ORM. Stateless: safe to create one per engine thread."""

    # -- the subscription ---------------------------------------------------------

    def framework_id_get(self, cluster_key: str) -> str | None:
        found = FrameworkRecord.objects.filter(cluster_key=cluster_key).values_list(
            "framework_id", flat=True
        )
        return next((fid for fid in found if fid), None)

    def framework_id_save(self, cluster_key: str, framework_id: str | None) -> None:
        FrameworkRecord.objects.update_or_create(
            cluster_key=cluster_key, defaults={"framework_id": framework_id or ""}
        )

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
    ) -> None:
        FrameworkRecord.objects.update_or_create(
            cluster_key=config.key,
            defaults={
                "master_urls": list(config.masters),
                "roles": list(config.roles),
                "connected": connected,
                "leader_url": leader_url,
                "last_heartbeat_at": _epoch(last_heartbeat),
                "suppressed": suppressed,
                "metrics": dict(metrics),
                "last_error": error[:2000],
            },
        )

    # -- pending work -------------------------------------------------------------

    def _pending(self, cluster_key: str) -> QuerySet[Task]:
        return Task.objects.filter(cluster_key=cluster_key, state=Task.PENDING, desired=Desired.RUN)

    def pending_summary(self, cluster_key: str, after_pk: int) -> PendingSummary:
        pending = self._pending(cluster_key).values("role").order_by()
        rows = list(pending.annotate(n=Count("id"), total=Sum("id")))
        newest = self._pending(cluster_key).filter(pk__gt=after_pk).aggregate(top=Max("pk"))["top"]
        return PendingSummary(
            {row["role"]: row["n"] for row in rows},
            newest or after_pk,
            pk_sums={row["role"]: int(row["total"] or 0) for row in rows},
        )

    def pending_pks(self, cluster_key: str, roles: Sequence[str], limit: int) -> list[int]:
        queryset = self._pending(cluster_key).filter(role__in=list(roles))
        return list(queryset.order_by("created_at", "id").values_list("pk", flat=True)[:limit])

    def pending_load(self, pks: Sequence[int]) -> tuple[list[PendingWork], dict[int, str]]:
        work: list[PendingWork] = []
        problems: dict[int, str] = {}
        fields = ("pk", "mesos_task_id", "role", "group", "environment_id", "team_id",
                  "owner_kind", "owner_id", "environment__slug", "team__slug",
                  "why_not_placed")  # fmt: skip
        # The spec as stored text: the instances of one service share it, so it is
        # parsed once (see _parsed_spec) instead of once per task.
        text = Cast("spec", output_field=TextField())
        for chunk in chunks(list(pks)):
            rows = Task.objects.filter(pk__in=chunk).order_by("pk").values(*fields, spec_text=text)
            for row in rows:
                try:
                    work.append(_pending_work(row))
                except SpecError as error:
                    problems[row["pk"]] = f"the stored spec cannot be read: {error}"
        return work, problems

    def running_placements(
        self, cluster_key: str, groups: Sequence[str]
    ) -> dict[str, list[RunningOn]]:
        rows = (
            live(Task.objects.filter(cluster_key=cluster_key, group__in=list(groups)))
            .exclude(state=Task.PENDING)
            .values_list("group", "hostname", "agent_attributes")
        )
        counted: Counter[tuple[str, str, tuple[tuple[str, str], ...]]] = Counter()
        for group, hostname, attributes in rows:
            counted[(group, hostname, tuple(sorted((attributes or {}).items())))] += 1
        running: dict[str, list[RunningOn]] = {}
        for (group, hostname, attributes), count in counted.items():
            plain, region, zone = running_attributes(dict(attributes))
            running.setdefault(group, []).append(
                RunningOn(hostname, plain, count=count, region=region, zone=zone)
            )
        return running

    def launch_environment(self, environment_id: int, team_id: int | None) -> dict[str, str]:
        environment = Environment.objects.get(pk=environment_id)
        team = Team.objects.get(pk=team_id) if team_id is not None else None
        return resolve_environment_variables(environment, team)

    # -- launching ----------------------------------------------------------------

    def tasks_fail(self, problems: Mapping[int, str]) -> None:
        with transaction.atomic():
            for task in Task.objects.filter(pk__in=list(problems), state=Task.PENDING):
                previous = task.state
                now = timezone.now()
                task.state = TaskState.ERROR.value
                task.message = problems[task.pk]
                task.finished_at = task.status_at = now
                task.save(
                    update_fields=["state", "message", "finished_at", "status_at", "updated_at"]
                )
                record(task, task.state, task.message, source=SOURCE_BERTH).save()
                owner_notify(task, previous)

    def tasks_mark_launching(self, launches: Sequence[LaunchRecord], framework_id: str) -> set[int]:
        """1. UPDATE every row on condition that it is still PENDING with desired RUN (a
           kill or another launcher may have got there first: the row lock decides).
        2. If every row was updated, all are ours; else ask which ones carry our mark."""
        if not launches:
            return set()
        now = timezone.now()
        rows = [
            {
                "agent_id": launch.agent_id,
                "hostname": launch.hostname,
                "agent_url": launch.agent_url,
                "ports": list(launch.ports),
                "agent_attributes": launch.agent_attributes,
                "id": launch.pk,
            }
            for launch in launches
        ]
        common = {
            "state": Task.LAUNCHING,
            "framework_id": framework_id,
            "why_not_placed": {},
            "launched_at": now,
            "updated_at": now,
        }
        pks = [launch.pk for launch in launches]
        with transaction.atomic():
            updated = update_tasks(rows, common=common, where_pending=True, where_run=True)
            if updated == len(pks):
                return set(pks)
            claimed: set[int] = set()
            for chunk in chunks(pks):
                mine = Task.objects.filter(pk__in=chunk, state=Task.LAUNCHING, launched_at=now)
                claimed.update(mine.values_list("pk", flat=True))
        return claimed

    def tasks_unlaunch(self, pks: Sequence[int]) -> None:
        Task.objects.filter(pk__in=list(pks), state=Task.LAUNCHING).update(
            state=Task.PENDING,
            agent_id="",
            hostname="",
            agent_url="",
            ports=[],
            agent_attributes={},
            framework_id="",
            launched_at=None,
            updated_at=timezone.now(),
        )

    def why_not_save(self, counts: Mapping[int, Mapping[str, int]]) -> None:
        rows = [{"why_not_placed": dict(c), "id": pk} for pk, c in counts.items()]
        update_tasks(rows, where_pending=True)

    # -- updates ------------------------------------------------------------------

    def updates_store(self, statuses: Sequence[TaskStatus]) -> list[UpdateOutcome]:
        with transaction.atomic():
            return UpdateBatch(statuses).store()

    # -- kills and reconciliation -------------------------------------------------

    def kills_settle_pending(self, cluster_key: str) -> int:
        queryset = live(Task.objects.filter(cluster_key=cluster_key, desired=Desired.KILL))
        pks = list(queryset.filter(state=Task.PENDING).values_list("pk", flat=True)[:500])
        if not pks:
            return 0
        with transaction.atomic():
            tasks = Task.objects.select_for_update().filter(pk__in=pks)
            return kill_pending(tasks, "Killed before it was launched")

    def kills_due(self, cluster_key: str, limit: int) -> list[KillOrder]:
        queryset = live(Task.objects.filter(cluster_key=cluster_key, desired=Desired.KILL))
        rows = queryset.exclude(state=Task.PENDING).values_list(
            "pk", "mesos_task_id", "agent_id", "state"
        )
        return [KillOrder(pk, tid, agent or None, state) for pk, tid, agent, state in rows[:limit]]

    def tasks_live(self, cluster_key: str) -> list[tuple[str, str | None]]:
        rows = live(Task.objects.filter(cluster_key=cluster_key)).exclude(state=Task.PENDING)
        return [
            (tid, agent or None) for tid, agent in rows.values_list("mesos_task_id", "agent_id")
        ]

    def tasks_uncertain(
        self, cluster_key: str, older_than_seconds: float
    ) -> list[tuple[str, str | None]]:
        before = timezone.now() - timedelta(seconds=older_than_seconds)
        # Both states are live: said explicitly, so the query matches task_live_idx.
        ours = live(Task.objects.filter(cluster_key=cluster_key))
        fields = ("mesos_task_id", "agent_id")
        silent = ours.filter(state=Task.LAUNCHING, launched_at__lt=before).values_list(*fields)
        doubtful = ours.filter(state__in=_UNCERTAIN, status_at__lt=before).values_list(*fields)
        return [(tid, agent or None) for tid, agent in silent.union(doubtful)]

    def recover(self) -> None:
        if not connection.in_atomic_block:
            connection.close()


@lru_cache(maxsize=4096)
def _parsed_spec(text: str) -> StoredSpec:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise SpecError(f"spec: not JSON ({error})") from None
    return spec_load(data)


def _pending_work(row: Mapping[str, Any]) -> PendingWork:
    stored = _parsed_spec(row["spec_text"])
    labels = {
        "berth.owner_kind": row["owner_kind"],
        "berth.environment": row["environment__slug"],
    }
    if row["owner_id"] is not None:
        labels["berth.owner_id"] = str(row["owner_id"])
    if row["team__slug"]:
        labels["berth.team"] = row["team__slug"]
    return PendingWork(
        pk=row["pk"],
        task_id=row["mesos_task_id"],
        role=row["role"],
        group=row["group"],
        spec=stored.spec,
        constraints=stored.constraints,
        environment_id=row["environment_id"],
        team_id=row["team_id"],
        labels=labels,
        why_not=_counts(row["why_not_placed"]),
    )


def _counts(stored: Any) -> dict[str, int]:
    """Stored why-not counts; anything else there (hand-edited, older shapes) is dropped."""
    if not isinstance(stored, dict):
        return {}
    return {str(k): v for k, v in stored.items() if isinstance(v, int) and v >= 0}
