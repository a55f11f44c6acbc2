"""The one table of Mesos task states.

Run outcomes, restart decisions and the UI's status badges all derive from ``STATES``;
nothing else in the project lists TASK_* names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

Badge = Literal["ok", "warn", "bad", "info", "neutral"]


class TaskState(StrEnum):
    STAGING = "TASK_STAGING"
    STARTING = "TASK_STARTING"
    RUNNING = "TASK_RUNNING"
    KILLING = "TASK_KILLING"
    FINISHED = "TASK_FINISHED"
    FAILED = "TASK_FAILED"
    KILLED = "TASK_KILLED"
    ERROR = "TASK_ERROR"
    LOST = "TASK_LOST"
    DROPPED = "TASK_DROPPED"
    UNREACHABLE = "TASK_UNREACHABLE"
    GONE = "TASK_GONE"
    GONE_BY_OPERATOR = "TASK_GONE_BY_OPERATOR"
    UNKNOWN = "TASK_UNKNOWN"


@dataclass(frozen=True, slots=True)
class StateInfo:
    name: str
    terminal: bool  # Mesos' isTerminalState(): the agent frees the task's resources
    success: bool  # the task did what it was asked (only ever true when terminal)
    badge: Badge
    label: str


def _row(state: TaskState, terminal: bool, success: bool, badge: Badge, label: str) -> StateInfo:
    return StateInfo(state.value, terminal, success, badge, label)


# Terminal set follows src/common/protobuf_utils.cpp isTerminalState(). LOST is terminal
# there even though a partitioned agent can bring the task back; UNREACHABLE and UNKNOWN
# are not terminal, the framework must wait or reconcile.
STATES: MappingProxyType[TaskState, StateInfo] = MappingProxyType(
    {
        TaskState.STAGING: _row(TaskState.STAGING, False, False, "info", "Staging"),
        TaskState.STARTING: _row(TaskState.STARTING, False, False, "info", "Starting"),
        TaskState.RUNNING: _row(TaskState.RUNNING, False, False, "ok", "Running"),
        TaskState.KILLING: _row(TaskState.KILLING, False, False, "warn", "Killing"),
        TaskState.FINISHED: _row(TaskState.FINISHED, True, True, "ok", "Finished"),
        TaskState.FAILED: _row(TaskState.FAILED, True, False, "bad", "Failed"),
        TaskState.KILLED: _row(TaskState.KILLED, True, False, "neutral", "Killed"),
        TaskState.ERROR: _row(TaskState.ERROR, True, False, "bad", "Invalid task"),
        TaskState.LOST: _row(TaskState.LOST, True, False, "bad", "Lost"),
        TaskState.DROPPED: _row(TaskState.DROPPED, True, False, "warn", "Dropped"),
        TaskState.UNREACHABLE: _row(TaskState.UNREACHABLE, False, False, "warn", "Unreachable"),
        TaskState.GONE: _row(TaskState.GONE, True, False, "bad", "Gone"),
        TaskState.GONE_BY_OPERATOR: _row(
            TaskState.GONE_BY_OPERATOR, True, False, "bad", "Gone (agent removed by operator)"
        ),
        TaskState.UNKNOWN: _row(TaskState.UNKNOWN, False, False, "neutral", "Unknown to Mesos"),
    }
)

_BY_NAME = {info.name: info for info in STATES.values()}

# Wire names, for queries and indexes ("state NOT IN terminal").
TERMINAL_STATES: frozenset[str] = frozenset(info.name for info in STATES.values() if info.terminal)


def describe(state: str) -> StateInfo:
    """The table row for ``state``; a state a newer master invented is shown neutrally
    and treated as non-terminal, so the framework reconciles instead of forgetting it."""
    info = _BY_NAME.get(state)
    if info is not None:
        return info
    return StateInfo(state, terminal=False, success=False, badge="neutral", label=state)


def is_terminal(state: str) -> bool:
    return describe(state).terminal


def is_success(state: str) -> bool:
    return describe(state).success
