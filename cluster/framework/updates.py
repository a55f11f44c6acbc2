"""How one status update changes a task: pure rules, applied by the store in its transaction."""

from __future__ import annotations

import re

from cluster.states import TaskState, is_terminal
from cluster.types import TaskStatus

# Berth's own states before Mesos knows a task (cluster.models.Task uses the same words).
PENDING = "PENDING"
LAUNCHING = "LAUNCHING"

# The command executor says "Command exited with status 3"; the Docker executor says
# "Container exited with status 3". Neither sets a reason (03-launch-fail).
_EXITED = re.compile(r"\b(?:Command|Container) exited with status (-?\d+)")
_SIGNALLED = re.compile(r"\bterminated with signal (\w[\w ]*)")
_NEVER_LAUNCHED = frozenset({TaskState.DROPPED.value, TaskState.LOST.value})


def exit_code_of(message: str | None) -> int | None:
    """The process's exit status, when the executor reported one; None for signals."""
    match = _EXITED.search(message or "")
    return int(match.group(1)) if match else None


def signal_of(message: str | None) -> str | None:
    """'Terminated', 'Killed', ... when the process died of a signal."""
    match = _SIGNALLED.search(message or "")
    return match.group(1).strip() if match else None


def next_state(current: str, status: TaskStatus) -> str | None:
    """The task's new state, or None when the update must not change it.

    1. A terminal state is final: a reconciliation answer or a late duplicate that
       arrives after it (TASK_GONE for a finished, acknowledged task) changes nothing.
    2. A launch refused because its offer was gone (rescinded, or from an ended
       subscription) never reached an agent, and its id was never used: back to PENDING,
       to go out again under the same id with the next offer.
    3. "Task has duplicate ID" for a task that already runs says only that a launch was
       retried; the running task is untouched (05-launch-errors), so neither is its row.
    """
    if current != PENDING and is_terminal(current):
        return None
    if (
        current == LAUNCHING
        and status.state in _NEVER_LAUNCHED
        and status.reason == "REASON_INVALID_OFFERS"
    ):
        return PENDING
    if (
        status.state == TaskState.ERROR
        and current not in (PENDING, LAUNCHING)
        and "duplicate ID" in (status.message or "")
    ):
        return None
    return status.state


def is_reconciliation(status: TaskStatus) -> bool:
    return status.reason == "REASON_RECONCILIATION"
