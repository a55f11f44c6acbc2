"""The Django-backed store the framework engine calls (cluster.framework.storage.EngineStore).

Hot paths (marking a round's launches, storing a batch of updates) write with one
executemany per batch instead of a save() per row. The live and kill queries spell the
terminal-state list literally, exactly as the partial indexes do: SQLite only uses a
partial index whose WHERE terms appear verbatim in the query, not with bound parameters.

FrameworkRecord.metrics (for the dashboard) holds: offers_received/used/declined_per_min,
launches_per_min, updates_per_min, kills_per_min, launches_total, pending,
reconcile_lag_seconds, reconciling, slowest_offer_round_ms, subscribed_at (epoch seconds),
suppressed_roles.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, Field, JSONField, Max, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from cluster.framework.config import ClusterConfig, cluster_key_for
from cluster.framework.offers import running_attributes
from cluster.framework.storage import (
    KillOrder,
    LaunchRecord,
    PendingSummary,
    PendingWork,
    UpdateOutcome,
)
from cluster.framework.updates import exit_code_of, is_reconciliation, next_state
from cluster.models import Desired, FrameworkRecord, Task, TaskStatusRecord
from cluster.owners import owner_notify
from cluster.placement import RunningOn
from cluster.spec import SpecError, StoredSpec, spec_load
from cluster.states import TERMINAL_STATES, TaskState, is_terminal
from cluster.types import TaskStatus
from portal.config import mesos_credentials, resolve_environment_variables
from portal.models import Environment, Team

logger = logging.getLogger(__name__)

_TERMINAL_SQL = ", ".join(f"'{state}'" for state in sorted(TERMINAL_STATES))
LIVE_WHERE = f'NOT ("state" IN ({_TERMINAL_SQL}))'
# Berth's own trail entries (a kill before launch, a spec that cannot launch).
SOURCE_BERTH = "SOURCE_BERTH"
_UNCERTAIN = (TaskState.UNREACHABLE.value, TaskState.UNKNOWN.value)
_CHUNK = 500  # rows per IN (...) list: well under SQLite's variable limit


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def live(queryset: QuerySet[Task]) -> QuerySet[Task]:
    """Tasks not in a terminal state, in the shape the partial indexes are defined with."""
    return queryset.extra(where=[LIVE_WHERE])  # noqa: S610 (constant text, no input)


def _epoch(moment: float | None) -> datetime | None:
    return None if moment is None else datetime.fromtimestamp(moment, tz=UTC)


# -- configuration ------------------------------------------------------------------


def cluster_configs() -> list[ClusterConfig]:
    """One entry per distinct Mesos cluster the environments name, with their roles.

    Credentials and CA bundle come from the first environment (by position) that has
    them: one subscription can authenticate only once. An environment with unusable
    master URLs is logged and left out, never a reason to stop the others.
    """
    grouped: dict[str, list[Environment]] = {}
    for environment in Environment.objects.order_by("position", "name"):
        try:
            key = cluster_key_for(environment.master_url_list())
        except ValueError as error:
            logger.error("Environment %s is left out: %s", environment.slug, error)
            continue
        grouped.setdefault(key, []).append(environment)
    return [_cluster_config(key, environments) for key, environments in grouped.items()]


def _cluster_config(key: str, environments: list[Environment]) -> ClusterConfig:
    roles = tuple(sorted({e.mesos_role for e in environments}))
    principal = secret = None
    for environment in environments:
        credentials = mesos_credentials(environment)
        if credentials is not None:
            principal, secret = credentials
            break
    ca_bundle = next((e.mesos_ca_bundle for e in environments if e.mesos_ca_bundle.strip()), None)
    return ClusterConfig(
        key=key,
        masters=tuple(key.split(",")),
        roles=roles,
        principal=principal,
        secret=secret,
        ca_bundle=ca_bundle,
    )


# -- status trail and owner hook ------------------------------------------------------


def _record(task: Task, state: str, message: str, **fields: Any) -> TaskStatusRecord:
    return TaskStatusRecord(task=task, state=state, message=message, **fields)


def kill_pending(tasks: Iterable[Task], message: str) -> int:
    """PENDING tasks become TASK_KILLED without ever reaching Mesos; owners are told.

    Each row is claimed with a conditional update, so a framework marking it LAUNCHING at
    the same moment and this kill cannot both win. Call inside a transaction.
    """
    killed = 0
    now = timezone.now()
    for task in tasks:
        claimed = Task.objects.filter(pk=task.pk, state=Task.PENDING).update(
            state=TaskState.KILLED.value,
            desired=Desired.KILL,
            message=message,
            finished_at=now,
            status_at=now,
            updated_at=now,
        )
        if not claimed:
            continue
        task.refresh_from_db()
        _record(task, TaskState.KILLED.value, message, source=SOURCE_BERTH).save()
        owner_notify(task, Task.PENDING)
        killed += 1
    return killed


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
        rows = self._pending(cluster_key).values("role").annotate(n=Count("id")).order_by()
        newest = self._pending(cluster_key).filter(pk__gt=after_pk).aggregate(top=Max("pk"))["top"]
        return PendingSummary({row["role"]: row["n"] for row in rows}, newest or after_pk)

    def pending_pks(self, cluster_key: str, roles: Sequence[str], limit: int) -> list[int]:
        queryset = self._pending(cluster_key).filter(role__in=list(roles))
        return list(queryset.order_by("created_at", "id").values_list("pk", flat=True)[:limit])

    def pending_load(self, pks: Sequence[int]) -> tuple[list[PendingWork], dict[int, str]]:
        work: list[PendingWork] = []
        problems: dict[int, str] = {}
        fields = ("pk", "mesos_task_id", "role", "group", "environment_id", "team_id",
                  "owner_kind", "owner_id", "environment__slug", "team__slug")  # fmt: skip
        # The spec as stored text: the instances of one service share it, so it is
        # parsed once (see _parsed_spec) instead of once per task.
        text = Cast("spec", output_field=TextField())
        for chunk in _chunks(list(pks)):
            for row in Task.objects.filter(pk__in=chunk).values(*fields, spec_text=text):
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
                _record(task, task.state, task.message, source=SOURCE_BERTH).save()
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
            updated = _update_rows(rows, common=common, where_pending=True, where_run=True)
            if updated == len(pks):
                return set(pks)
            claimed: set[int] = set()
            for chunk in _chunks(pks):
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
        _update_rows(rows, where_pending=True)

    # -- updates ------------------------------------------------------------------

    def updates_store(self, statuses: Sequence[TaskStatus]) -> list[UpdateOutcome]:
        with transaction.atomic():
            return _UpdateBatch(statuses).store()

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
        ours = Task.objects.filter(cluster_key=cluster_key)
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
    )


def _concrete(name: str) -> Field[Any, Any]:
    field = Task._meta.get_field(name)
    assert isinstance(field, Field)
    return field


def _update_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    common: Mapping[str, Any] | None = None,
    where_pending: bool = False,
    where_run: bool = False,
) -> int:
    """UPDATE many Task rows by id with one executemany. Every row names the same fields;
    `common` holds values shared by all rows, prepared once.

    Values go through each field's own preparation, so JSON and datetimes are written
    exactly as save() would write them on this database; plain text and numbers need none.
    """
    if not rows:
        return 0
    db = connections[DEFAULT_DB_ALIAS]
    shared = {name: _prepare(_concrete(name), value, db) for name, value in (common or {}).items()}
    names = [name for name in rows[0] if name != "id"]
    fields = [_concrete(name) for name in names]
    quote = db.ops.quote_name
    columns = [*(_concrete(n) for n in shared), *fields]
    assignments = ", ".join(f"{quote(f.column or f.name)} = %s" for f in columns)
    sql = f"UPDATE {quote(Task._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"  # noqa: S608
    tail: list[Any] = []
    if where_pending:
        sql += f" AND {quote('state')} = %s"
        tail.append(Task.PENDING)
    if where_run:
        sql += f" AND {quote('desired')} = %s"
        tail.append(Desired.RUN.value)
    head = list(shared.values())
    # One agent's attributes are one dict for all its tasks: prepared (serialised) once.
    memo: dict[int, Any] = {}

    def prepare(field: Field[Any, Any], value: Any) -> Any:
        if not isinstance(value, dict):
            return _prepare(field, value, db)
        if id(value) not in memo:
            memo[id(value)] = _prepare(field, value, db)
        return memo[id(value)]

    params = [[*head, *(prepare(f, row[f.name]) for f in fields), row["id"], *tail] for row in rows]
    with db.cursor() as cursor:
        cursor.executemany(sql, params)
        return int(cursor.rowcount)


def _prepare(field: Field[Any, Any], value: Any, db: BaseDatabaseWrapper) -> Any:
    plain = value is None or type(value) in (str, int, float, bool)
    if plain and not isinstance(field, JSONField):
        return value
    return field.get_db_prep_save(value, db)


class _UpdateBatch:
    """One batch of status updates, applied in arrival order in the caller's transaction."""

    def __init__(self, statuses: Sequence[TaskStatus]) -> None:
        self.statuses = statuses
        self.now = timezone.now()
        self.tasks: dict[str, Task] = {}
        self.seen: set[tuple[int, str]] = set()
        self.before: dict[int, str] = {}
        self.records: list[list[Any]] = []
        self.relaunching: set[int] = set()

    def store(self) -> list[UpdateOutcome]:
        self._load()
        outcomes = [self._apply(status) for status in self.statuses]
        _insert_records(self.records, self.now)
        changed = [self.tasks_by_pk[pk] for pk in self.before]
        # Only tasks sent back to the queue lose their placement; the rest keep it as is.
        _update_rows(
            [_status_row(t) for t in changed if t.pk not in self.relaunching],
            common={"updated_at": self.now},
        )
        _update_rows(
            [_relaunch_row(t) for t in changed if t.pk in self.relaunching],
            common={"updated_at": self.now},
        )
        for task in changed:
            if task.state != self.before[task.pk]:
                # Once per task and batch, with the state it had before the batch.
                owner_notify(task, self.before[task.pk])
        return outcomes

    def _load(self) -> None:
        ids = sorted({status.task_id for status in self.statuses})
        # The spec and placement details are not needed here; an owner that reads them
        # loads them on access.
        light = Task.objects.defer("spec", "why_not_placed", "agent_attributes")
        for chunk in _chunks(ids):
            self.tasks.update((t.mesos_task_id, t) for t in light.filter(mesos_task_id__in=chunk))
        self.tasks_by_pk = {task.pk: task for task in self.tasks.values()}
        uuids = sorted({status.uuid for status in self.statuses if status.uuid})
        for chunk in _chunks(uuids):
            self.seen.update(
                TaskStatusRecord.objects.filter(uuid__in=chunk).values_list("task_id", "uuid")
            )

    def _apply(self, status: TaskStatus) -> UpdateOutcome:
        task = self.tasks.get(status.task_id)
        if task is None:
            return UpdateOutcome(status, known=False, changed=False)
        if status.uuid:
            if (task.pk, status.uuid) in self.seen:
                # At-least-once delivery: already stored, only the ACK is sent again.
                return UpdateOutcome(status, known=True, changed=False)
            self.seen.add((task.pk, status.uuid))
        self.records.append(_status_values(task, status))
        self.before.setdefault(task.pk, task.state)
        current = task.state
        state = next_state(current, status)
        if state == Task.PENDING:
            self.relaunching.add(task.pk)
        _apply_status(task, status, state, self.now)
        return UpdateOutcome(status, known=True, changed=state is not None and state != current)


_RECORD_FIELDS = ("task", "state", "source", "reason", "message", "healthy", "uuid",
                  "mesos_timestamp", "received_at")  # fmt: skip


def _status_values(task: Task, status: TaskStatus) -> list[Any]:
    """One TaskStatusRecord row in _RECORD_FIELDS order (received_at is added on insert)."""
    return [
        task.pk,
        status.state,
        status.source or "",
        status.reason or "",
        status.message or "",
        status.healthy,
        status.uuid or "",
        status.timestamp,
    ]


def _insert_records(rows: Sequence[list[Any]], now: datetime) -> None:
    """The trail rows of a batch in one executemany: bulk_create compiles SQL per 500."""
    if not rows:
        return
    db = connections[DEFAULT_DB_ALIAS]
    quote = db.ops.quote_name
    meta = TaskStatusRecord._meta
    columns = ", ".join(quote(meta.get_field(name).column or name) for name in _RECORD_FIELDS)  # type: ignore[union-attr]
    marks = ", ".join(["%s"] * len(_RECORD_FIELDS))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    received = meta.get_field("received_at").get_db_prep_save(now, db)
    with db.cursor() as cursor:
        cursor.executemany(sql, [[*row, received] for row in rows])


def _apply_status(task: Task, status: TaskStatus, state: str | None, now: datetime) -> None:
    task.status_at = now
    if status.healthy is not None and state is not None:
        task.healthy = status.healthy  # a missing `healthy` is "no news", not "unhealthy"
    if state is None:
        return
    if state == Task.PENDING:
        task.state = Task.PENDING
        task.message = (
            f"Launch refused ({status.message or status.reason}); waiting for another offer"
        )
        task.agent_id = task.hostname = task.agent_url = task.framework_id = ""
        task.ports, task.launched_at = [], None
        return
    task.state = state
    if status.agent_id and not task.agent_id:
        task.agent_id = status.agent_id
    if status.message and not is_reconciliation(status):
        task.message = status.message
    if status.reason and not is_reconciliation(status):
        task.reason = status.reason
    if state == TaskState.RUNNING and task.started_at is None:
        task.started_at = now
    if is_terminal(state):
        task.finished_at = now
        task.exit_code = exit_code_of(status.message)


def _status_row(task: Task) -> dict[str, Any]:
    return {
        "state": task.state,
        "agent_id": task.agent_id,
        "healthy": task.healthy,
        "message": task.message,
        "reason": task.reason,
        "exit_code": task.exit_code,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
        "status_at": task.status_at,
        "id": task.pk,
    }


def _relaunch_row(task: Task) -> dict[str, Any]:
    return {
        **_status_row(task),
        "hostname": task.hostname,
        "agent_url": task.agent_url,
        "framework_id": task.framework_id,
        "ports": task.ports,
        "agent_attributes": {},
        "launched_at": task.launched_at,
    }
