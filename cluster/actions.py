"""Writes of desired state: what services, jobs and commands call to run or kill a task.

Nothing here talks to Mesos (STYLE rule 16): a submitted task waits as PENDING until the
framework process finds an offer for it, and a kill sets desired=KILL for the framework
to carry out. Both are idempotent, so a retried decision cannot launch or kill twice.
Each change also nudges the framework once it is committed (cluster.nudge), so it acts
at once rather than at its next poll.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from cluster.constraints import ConstraintError, parse_constraints
from cluster.framework.config import cluster_key_for
from cluster.framework.offers import launch_spec
from cluster.framework.storage import PendingWork
from cluster.framework.taskinfo import stand_in_ports
from cluster.models import Desired, Task
from cluster.nudge import nudge
from cluster.spec import spec_dump
from cluster.store import kill_pending
from cluster.translate import InvalidTaskSpec, task_info, validate_task_id
from cluster.types import TaskSpec
from portal.models import Environment, Team

_KIND = re.compile(r"[a-z][a-z0-9_]{0,39}")
_INSTANCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class TaskRejected(ValueError):
    """The task cannot be submitted as it is; the message says what is wrong."""


def task_id_for(*, owner_kind: str, owner_id: int | None, instance: str, attempt: int) -> str:
    """Deterministic: the same owner, instance and attempt always give the same id, so a
    decision that is retried reuses it and Mesos refuses a second launch."""
    if not _KIND.fullmatch(owner_kind):
        raise TaskRejected(f"owner kind {owner_kind!r} must be lower-case letters, digits or _")
    if not _INSTANCE.fullmatch(instance):
        raise TaskRejected(f"instance {instance!r} must be 1-100 letters, digits, '.', '_' or '-'")
    if attempt < 0:
        raise TaskRejected(f"attempt must be >= 0, got {attempt}")
    owner = "x" if owner_id is None else str(owner_id)
    return f"berth.{owner_kind}.{owner}.{instance}.{attempt}"


def task_submit(
    *,
    owner_kind: str,
    owner_id: int | None,
    instance: str,
    attempt: int = 0,
    environment: Environment,
    team: Team | None = None,
    spec: TaskSpec,
    constraints: Sequence[object] = (),
    group: str = "",
) -> Task:
    """Ask for `spec` to run in `environment`; returns the (possibly already existing) task.

    `spec.ports` are requests (0: any free port). The spec is checked the way the master
    checks a TaskInfo, so bad input is refused here with a message rather than turning
    into TASK_ERROR later. Configuration and secrets are not part of it: the framework
    resolves them at launch.
    """
    task_id = task_id_for(
        owner_kind=owner_kind, owner_id=owner_id, instance=instance, attempt=attempt
    )
    try:
        parsed = parse_constraints(list(constraints))
    except ConstraintError as error:
        raise TaskRejected(str(error)) from None
    _check_launchable(task_id, spec)
    try:
        cluster_key = cluster_key_for(environment.master_url_list())
    except ValueError as error:
        raise TaskRejected(f"environment {environment.slug}: {error}") from None
    defaults = {
        "name": spec.name[:200],
        "owner_kind": owner_kind,
        "owner_id": owner_id,
        "environment": environment,
        "team": team,
        "spec": spec_dump(dataclasses.replace(spec, task_id=""), parsed),
        "group": group or f"{owner_kind}.{'x' if owner_id is None else owner_id}",
        "role": environment.mesos_role,
        "cluster_key": cluster_key,
    }
    with transaction.atomic():
        task, created = Task.objects.get_or_create(mesos_task_id=task_id, defaults=defaults)
        if created:
            nudge(cluster_key)
    return task


def task_spec_check(*, spec: TaskSpec) -> None:
    """Refuse a spec the master would refuse, before anything is stored or sent."""
    _check_launchable("check", spec)


def _check_launchable(task_id: str, spec: TaskSpec) -> None:
    """Build the TaskInfo it would get, with made-up ports and no configuration."""
    try:
        validate_task_id(task_id)
        fake = stand_in_ports(spec.ports)
        work = PendingWork(pk=0, task_id=task_id, role="*", group="", spec=spec)
        task_info(launch_spec(work, fake, "localhost", {}), agent_id="check")
    except (InvalidTaskSpec, ValueError) as error:
        raise TaskRejected(str(error)) from None


def task_kill(*, task: Task) -> Task:
    """Ask for the task to die. A task still waiting for an offer is killed at once (Mesos
    never heard of it); a launched one gets KILL from the framework. Idempotent."""
    with transaction.atomic():
        current = Task.objects.select_for_update().get(pk=task.pk)
        if current.is_terminal():
            return current
        if current.state == Task.PENDING and kill_pending(
            [current], "Killed before it was launched"
        ):
            current.refresh_from_db()
            return current
        if current.desired != Desired.KILL:
            current.desired = Desired.KILL
            current.kill_requested_at = timezone.now()
            current.save(update_fields=["desired", "kill_requested_at", "updated_at"])
            nudge(current.cluster_key)
    return current
