"""Status updates into Task rows, the status trail and the owner hook, a batch at a time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from cluster.framework.storage import UpdateOutcome
from cluster.framework.updates import exit_code_of, is_reconciliation, next_state
from cluster.models import Desired, Task, TaskStatusRecord
from cluster.owners import owner_notify
from cluster.states import TaskState, is_terminal
from cluster.store.rows import chunks, concrete, insert_rows, update_tasks
from cluster.types import TaskStatus

# Berth's own trail entries (a kill before launch, a spec that cannot launch).
SOURCE_BERTH = "SOURCE_BERTH"


def record(task: Task, state: str, message: str, **fields: Any) -> TaskStatusRecord:
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
        record(task, TaskState.KILLED.value, message, source=SOURCE_BERTH).save()
        owner_notify(task, Task.PENDING)
        killed += 1
    return killed


class UpdateBatch:
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
        update_tasks(
            [_status_row(t) for t in changed if t.pk not in self.relaunching],
            common={"updated_at": self.now},
        )
        update_tasks(
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
        for chunk in chunks(ids):
            self.tasks.update((t.mesos_task_id, t) for t in light.filter(mesos_task_id__in=chunk))
        self.tasks_by_pk = {task.pk: task for task in self.tasks.values()}
        uuids = sorted({status.uuid for status in self.statuses if status.uuid})
        for chunk in chunks(uuids):
            self.seen.update(
                # exclude(uuid=""), though no uuid here is empty: it lets the partial
                # index status_uuid_idx serve the query, instead of a scan of the history.
                TaskStatusRecord.objects.filter(uuid__in=chunk)
                .exclude(uuid="")
                .values_list("task_id", "uuid")
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
    db = connections[DEFAULT_DB_ALIAS]
    received = concrete(TaskStatusRecord, "received_at").get_db_prep_save(now, db)
    insert_rows(TaskStatusRecord, _RECORD_FIELDS, [[*row, received] for row in rows])


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
