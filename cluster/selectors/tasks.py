"""Berth's tasks as one reader may see them, filtered, with badges and reasons in words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from cluster.models import Task, TaskStatusRecord
from cluster.states import STATES, TERMINAL_STATES, StateInfo, describe
from portal import permissions
from portal.pagination import NEWER, OLDER, KeysetPage, decode_cursor, encode_cursor, keyset_page

if TYPE_CHECKING:
    from portal.models import Environment
    from portal.permissions import AnyUser

# Berth's own states before Mesos hears of a task; the TASK_* table knows nothing of them.
_PRE_MESOS = {
    Task.PENDING: StateInfo(Task.PENDING, False, False, "info", "Pending"),
    Task.LAUNCHING: StateInfo(Task.LAUNCHING, False, False, "info", "Launching"),
}
# A killed task ended because someone asked: it belongs with the ones that ended normally.
_ENDED_WELL = tuple(
    sorted(i.name for i in STATES.values() if i.terminal and (i.success or i.badge == "neutral"))
)
_ENDED_BADLY = tuple(sorted(TERMINAL_STATES - set(_ENDED_WELL)))

STATE_GROUPS: dict[str, str] = {
    "active": "Active",
    "pending": "Pending",
    "finished": "Finished or killed",
    "failed": "Failed or lost",
}

STATUS_TRAIL_LIMIT = 500
_ORDER = "created_at"

_WHY_RESOURCE = {
    "cpus": "too small in CPUs",
    "mem": "too small in memory",
    "disk": "too small in disk",
    "gpus": "without enough GPUs",
    "ports": "without the ports it needs",
    "role": "for another role",
}
_CONSTRAINT_PREFIXES = ("constraint ", "constraint:")


def state_info(state: str) -> StateInfo:
    return _PRE_MESOS.get(state) or describe(state)


def _group_q(group: str) -> Q:
    if group == "active":
        return ~Q(state__in=sorted(TERMINAL_STATES))
    if group == "pending":
        return Q(state__in=sorted(_PRE_MESOS))
    if group == "finished":
        return Q(state__in=_ENDED_WELL)
    if group == "failed":
        return Q(state__in=_ENDED_BADLY)
    raise ValueError(f"unknown state group {group!r}; use one of {', '.join(STATE_GROUPS)}")


@dataclass(frozen=True)
class TaskFilters:
    environment: Environment | None = None
    group: str = ""
    search: str = ""

    @property
    def active(self) -> bool:
        return bool(self.environment or self.group or self.search)


def task_visible(user: AnyUser) -> QuerySet[Task]:
    """Tasks of the reader's teams; team-less (ad-hoc) ones only for superusers."""
    tasks = Task.objects.select_related("environment", "team")
    if permissions.is_superuser(user):
        return tasks
    return tasks.filter(team__in=permissions.teams_for(user))


def task_list(user: AnyUser, filters: TaskFilters) -> QuerySet[Task]:
    return _filtered(task_visible(user), filters)


def _filtered(tasks: QuerySet[Task], filters: TaskFilters) -> QuerySet[Task]:
    if filters.environment is not None:
        tasks = tasks.filter(environment=filters.environment)
    if filters.group:
        tasks = tasks.filter(_group_q(filters.group))
    if filters.search:
        text = filters.search
        tasks = tasks.filter(Q(name__icontains=text) | Q(mesos_task_id__icontains=text))
    return tasks


def task_page(
    user: AnyUser, filters: TaskFilters, *, cursor: str | None, limit: int
) -> KeysetPage[Task]:
    """One page of task_list(), newest first; raises BadCursorError.

    A member's page is read team by team, each an index range on (team, created_at, id),
    and merged: one query over "team IN (...)" would sort every task of those teams.
    """
    if permissions.is_superuser(user):
        return keyset_page(task_list(user, filters), cursor=cursor, limit=limit, field=_ORDER)
    team_ids = list(permissions.teams_for(user).values_list("pk", flat=True))
    base = _filtered(Task.objects.select_related("environment", "team"), filters)
    pages = [
        keyset_page(base.filter(team_id=pk), cursor=cursor, limit=limit, field=_ORDER)
        for pk in team_ids
    ]
    return merge_pages(pages, cursor=cursor, limit=limit)


def _key(task: Task) -> tuple[datetime, int]:
    return task.created_at, task.pk


def merge_pages(
    pages: list[KeysetPage[Task]], *, cursor: str | None, limit: int
) -> KeysetPage[Task]:
    """The page keyset_page() would give over the union of disjoint querysets, from their
    own pages for the same cursor and limit."""
    items = sorted((task for page in pages for task in page.items), key=_key, reverse=True)
    if cursor and decode_cursor(cursor)[2] == NEWER:
        # Each page holds the rows just newer than the cursor: keep the closest `limit`.
        newer = len(items) > limit or any(page.prev_cursor for page in pages)
        items = items[-limit:]
        return KeysetPage(
            items=items,
            next_cursor=_cursor_of(items[-1], OLDER) if items else None,
            prev_cursor=_cursor_of(items[0], NEWER) if newer and items else None,
        )
    older = len(items) > limit or any(page.next_cursor for page in pages)
    items = items[:limit]
    return KeysetPage(
        items=items,
        next_cursor=_cursor_of(items[-1], OLDER) if older and items else None,
        prev_cursor=_cursor_of(items[0], NEWER) if cursor and items else None,
    )


def _cursor_of(task: Task, direction: str) -> str:
    return encode_cursor(task.created_at, task.pk, direction)


def task_get(user: AnyUser, mesos_task_id: str) -> Task:
    """404 for a task the reader may not see, so nobody can probe which ids exist."""
    return get_object_or_404(task_visible(user), mesos_task_id=mesos_task_id)


def status_trail(task: Task, limit: int = STATUS_TRAIL_LIMIT) -> list[TaskStatusRecord]:
    """The latest `limit` stored updates, oldest first (a flapping task can have thousands)."""
    newest = TaskStatusRecord.objects.filter(task=task).order_by("-id")[:limit]
    return list(reversed(newest))


def _count(raw: Any) -> int:
    try:
        return max(int(raw), 0)
    except (TypeError, ValueError):
        return 0


def _why_phrase(reason: str, count: int) -> str:
    offers = "offer" if count == 1 else "offers"
    if reason in _WHY_RESOURCE:
        return f"{count:,} {offers} {_WHY_RESOURCE[reason]}"
    for prefix in _CONSTRAINT_PREFIXES:
        if reason.startswith(prefix):
            return f"{count:,} broke constraint {reason[len(prefix) :]}"
    return f"{count:,} {offers} turned down: {reason}"


def why_not_placed_words(counts: Mapping[str, Any] | None) -> list[str]:
    """{"mem": 12, "constraint hostname:UNIQUE": 3} -> ["12 offers too small in memory",
    "3 broke constraint hostname:UNIQUE"], the commonest reason first."""
    if not isinstance(counts, Mapping):
        return []
    found = [
        (_count(raw), str(reason)) for reason, raw in counts.items() if str(reason) != "offers"
    ]
    ranked = sorted((item for item in found if item[0]), key=lambda item: -item[0])
    return [_why_phrase(reason, count) for count, reason in ranked]


def offers_seen(counts: Mapping[str, Any] | None) -> int:
    return _count(counts.get("offers")) if isinstance(counts, Mapping) else 0


def _port_text(port: Any) -> str:
    if isinstance(port, Mapping):
        host = port.get("host", port.get("host_port", port.get("number", port.get("port"))))
        container = port.get("container", port.get("container_port"))
        return f"{host}\u2192{container}" if container not in (None, host) else str(host)
    return str(port)


def ports_text(ports: Any) -> str:
    if not isinstance(ports, list | tuple):
        return ""
    return ", ".join(_port_text(port) for port in ports)


@dataclass(frozen=True)
class TaskRow:
    """A task with what the page shows about it worked out once."""

    task: Task
    state: StateInfo
    why_not_placed: list[str]
    offers_seen: int
    ports: str

    @property
    def is_pending(self) -> bool:
        return self.task.state == Task.PENDING


def task_row(task: Task) -> TaskRow:
    return TaskRow(
        task=task,
        state=state_info(task.state),
        why_not_placed=why_not_placed_words(task.why_not_placed),
        offers_seen=offers_seen(task.why_not_placed),
        ports=ports_text(task.ports),
    )


def task_rows(tasks: Iterable[Task]) -> list[TaskRow]:
    return [task_row(task) for task in tasks]
