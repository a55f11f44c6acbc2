"""What an agent knows about one task: its TaskInfo, container, statuses and stream."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from devcluster.agent.status_stream import StatusStream, new_uuid
from devcluster.interfaces import TERMINAL_STATES, Json, LaunchedTask

if TYPE_CHECKING:
    from devcluster.agent.sandbox import SandboxView

# The Mesos command executor's own share of every task (its executor_resources()).
EXECUTOR_CPUS = 0.1
EXECUTOR_MEM_MB = 32.0
DEFAULT_KILL_GRACE_SECONDS = 3.0


class Runner(Protocol):
    """Runs one task: a real process, a Docker container or a simulation."""

    pid: int | None

    def start(self) -> None: ...

    def kill(self, grace_seconds: float) -> None: ...

    def stop_quietly(self) -> None: ...

    def statistics(self) -> Json | None: ...

    async def wait_stopped(self) -> None: ...


def resource_totals(resources: list[Json]) -> dict[str, float]:
    """Scalar totals of a resource list (cpus, mem, disk, gpus), like a summary map."""
    totals = {"disk": 0.0, "mem": 0.0, "gpus": 0.0, "cpus": 0.0}
    for resource in resources:
        name = resource.get("name")
        if name in totals and resource.get("type", "SCALAR") == "SCALAR":
            totals[name] += float(resource.get("scalar", {}).get("value", 0.0))
    return {name: round(value, 3) for name, value in totals.items()}


def executor_name(task_info: Json) -> str:
    """The name Mesos gives a command executor, with its truncated command."""
    task_id = task_info["task_id"]["value"]
    command = task_info.get("command") or {}
    value = str(command.get("value", ""))
    if command.get("shell", True):
        shown = value if len(value) <= 15 else value[:12] + "..."
        text = f"sh -c '{shown}'"
    else:
        text = "[" + ", ".join([value, *map(str, command.get("arguments", []))]) + "]"
    return f"Command Executor (Task: {task_id}) (Command: {text})"


def kill_grace_seconds(task_info: Json) -> float:
    grace = (task_info.get("kill_policy") or {}).get("grace_period")
    if not grace:
        return DEFAULT_KILL_GRACE_SECONDS
    return max(float(grace.get("nanoseconds", 0)) / 1e9, 0.0)


def labels_of(task_info: Json) -> dict[str, str]:
    labels = (task_info.get("labels") or {}).get("labels") or []
    return {str(label.get("key")): str(label.get("value", "")) for label in labels}


def _container_id() -> str:
    # Random v4 UUIDs without a urandom syscall each: ids only need to be unique.
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


@dataclass(eq=False)
class TaskRecord:
    launched: LaunchedTask
    agent_id: str
    ip: str
    stream: StatusStream
    container_id: str = field(default_factory=lambda: _container_id())
    directory: Path | None = None
    sandbox_dir: str = ""
    sandbox: SandboxView | None = None
    runner: Runner | None = None
    state: str = "TASK_STAGING"
    healthy: bool | None = None
    killing: bool = False
    executor_pid: int | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    statuses: list[Json] = field(default_factory=list)
    history: list[tuple[Any, ...]] = field(default_factory=list)
    latest_status: Json | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    task_id: str = field(init=False)

    @property
    def framework_id(self) -> str:
        return self.launched.framework_id

    @property
    def task_info(self) -> Json:
        return self.launched.task_info

    def __post_init__(self) -> None:
        self.task_id = str(self.launched.task_info["task_id"]["value"])
        # Sub-objects shared by every update of this task (statuses are read-only for the
        # master): fewer allocations per update, and less for the collector to walk.
        self._task_ref: Json = {"value": self.task_id}
        self._agent_ref: Json = {"value": self.agent_id}
        self._container_status: Json | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def resources(self) -> dict[str, float]:
        return resource_totals(self.task_info.get("resources", []))

    def container_status(self) -> Json:
        cached = self._container_status
        if cached is not None and cached.get("executor_pid") == self.executor_pid:
            return cached
        status: Json = {
            "container_id": {"value": self.container_id},
            "network_infos": [{"ip_addresses": [{"protocol": "IPv4", "ip_address": self.ip}]}],
        }
        if self.executor_pid is not None:
            status["executor_pid"] = self.executor_pid
        self._container_status = status
        return status

    def make_status(
        self,
        state: str,
        *,
        message: str | None = None,
        reason: str | None = None,
        source: str = "SOURCE_EXECUTOR",
    ) -> Json:
        """A TaskStatus with the key order and fields of the transcripts' updates."""
        status: Json = {"task_id": self._task_ref, "state": state}
        if message is not None:
            status["message"] = message
        status["source"] = source
        if reason is not None:
            status["reason"] = reason
        status["agent_id"] = self._agent_ref
        status["executor_id"] = self._task_ref
        status["timestamp"] = time.time()
        status["uuid"] = new_uuid()
        if self.healthy is not None:
            status["healthy"] = self.healthy
        status["container_status"] = self.container_status()
        return status

    def record(self, status: Json) -> None:
        """Remember a status for /state; a repeated state replaces the previous entry, so
        a long run of health results keeps the history short (as the master's does)."""
        self.state = status["state"]
        self.latest_status = status
        if self.state in TERMINAL_STATES and self.finished_at is None:
            self.finished_at = status["timestamp"]
        if self.statuses and self.statuses[-1]["state"] == status["state"]:
            self.statuses[-1] = status
        else:
            self.statuses.append(status)

    def compact(self) -> None:
        """Keep a completed task in a form the garbage collector can skip.

        Benchmarks retain tens of thousands of completed tasks; as nested dicts their
        statuses made every full collection crawl. Tuples of plain values are untracked.
        """
        self.history = [tuple(status.get(key) for key in _HISTORY_KEYS) for status in self.statuses]
        self.statuses = []
        self.latest_status = None
        self.runner = None
        self.extra = {}

    def status_list(self) -> list[Json]:
        """Every status kept for this task, oldest first, in full."""
        if not self.history:
            return self.statuses
        statuses = []
        for values in self.history:
            fields = dict(zip(_HISTORY_KEYS, values, strict=True))
            status: Json = {"task_id": self._task_ref, "state": fields["state"]}
            if fields["message"] is not None:
                status["message"] = fields["message"]
            status["source"] = fields["source"]
            if fields["reason"] is not None:
                status["reason"] = fields["reason"]
            status["agent_id"] = self._agent_ref
            status["executor_id"] = self._task_ref
            status["timestamp"] = fields["timestamp"]
            status["uuid"] = fields["uuid"]
            if fields["healthy"] is not None:
                status["healthy"] = fields["healthy"]
            status["container_status"] = self.container_status()
            statuses.append(status)
        return statuses


_HISTORY_KEYS = ("state", "message", "source", "reason", "timestamp", "uuid", "healthy")
