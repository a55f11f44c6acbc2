"""The seam between the devcluster master and its agents.

Both run in one asyncio event loop, in one process. The master owns frameworks, offers,
validation and the scheduler/operator HTTP APIs; an agent owns task processes, sandboxes,
the status update stream (uuid, retry, ordering) and the agent HTTP endpoints. Neither
reaches into the other's state except through these calls.

All payloads are Mesos v1 JSON shapes (snake_case, enums as names) as plain dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from devcluster.security import HttpSecurity

Json = dict[str, Any]

# Mesos's isTerminalState(): the agent frees a task's resources on these.
TERMINAL_STATES = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_LOST",
        "TASK_ERROR",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
    }
)


@dataclass(frozen=True)
class AgentConfig:
    agent_id: str  # "<master-uuid>-S<n>"
    hostname: str  # distinct per agent; also the address it binds (a loopback address)
    port: int  # 0: pick a free port when started
    # cpus, mem (MB), disk (MB), gpus, and ports as inclusive (begin, end) ranges.
    cpus: float
    mem: float
    disk: float
    ports: tuple[tuple[int, int], ...]
    # Mesos attributes as v1 JSON ({"name","type":"TEXT","text":{"value"}} or SCALAR).
    attributes: tuple[Json, ...] = ()
    # role -> resources statically reserved for it: {"cpus": 1, "mem": 512, ...}.
    reservations: dict[str, dict[str, float]] = field(default_factory=dict)
    work_dir: Path = Path("devcluster-work")  # the master passes an absolute path
    simulated: bool = False
    # Seconds before the first resend of an unacknowledged update; doubles up to 10 min.
    status_retry_seconds: float = 10.0
    # Simulated agents only: task runtime and failure rate when the task's labels say none.
    simulated_duration_seconds: float = 1.0
    simulated_failure_rate: float = 0.0
    # Credentials for the agent's realms and the TLS context, shared by every agent.
    security: HttpSecurity = field(default_factory=HttpSecurity)


@dataclass(frozen=True)
class LaunchedTask:
    """What the master hands an agent for one validated task."""

    framework_id: str
    framework_info: Json  # the framework's FrameworkInfo (user, checkpoint, capabilities...)
    task_info: Json  # TaskInfo JSON exactly as the framework sent it, validated
    role: str  # the role the offer was allocated to (MESOS_ALLOCATION_ROLE)


class StatusSink(Protocol):
    """Implemented by the master. The agent calls it for every status update it sends."""

    def on_status(self, agent_id: str, framework_id: str, status: Json) -> None:
        """A full TaskStatus (source SOURCE_EXECUTOR, uuid set, agent_id, executor_id,
        timestamp, container_status...). The master records it as the task's latest
        state, frees resources on a terminal state, and forwards it as an UPDATE event if
        the framework is connected (otherwise it is dropped; the agent resends it).
        Treat the status as read-only: a task's updates share sub-objects (task_id,
        agent_id, container_status), and a resend passes the very same dict again."""


class AgentApi(Protocol):
    """Implemented by devcluster.agent.Agent; the master drives agents only through this."""

    config: AgentConfig

    async def start(self) -> None:
        """Bind the agent's HTTP endpoints (/state, /files/*, /monitor/statistics,
        /api/v1, /health, /version, /metrics/snapshot) on config.hostname:config.port."""

    async def stop(self) -> None:
        """Kill every task process (no updates) and close the HTTP server."""

    @property
    def port(self) -> int:
        """The bound port (config.port, or the one the OS picked)."""

    def launch(self, task: LaunchedTask) -> None:
        """Start the task now: sandbox, process (or simulation), then STARTING, RUNNING
        and a terminal update through the sink, one at a time, each waiting for its ack."""

    def kill(self, framework_id: str, task_id: str, grace_seconds: float | None) -> bool:
        """SIGTERM, then SIGKILL after the grace (the task's kill_policy when None).
        TASK_KILLING first for frameworks with the TASK_KILLING_STATE capability.
        False when the agent has no live task of that id."""

    def acknowledge(self, framework_id: str, task_id: str, uuid_b64: str) -> bool:
        """Drop the acknowledged update from the task's stream and send the next one.
        False when no pending update matches."""

    def resend_unacknowledged(self, framework_id: str) -> None:
        """Send again, at once, the head update of every task of the framework (called
        when the framework re-subscribes)."""

    def shutdown_framework(self, framework_id: str) -> None:
        """Kill every task of the framework with no updates to the scheduler (teardown,
        failover timeout), and forget its update streams."""

    def tasks(self) -> list[Json]:
        """Live tasks with their latest status, for master (re)registration:
        [{"framework_id", "task_info", "role", "state", "latest_status"}]. Optionally
        also "framework_info" (the FrameworkInfo it was launched with), which a restarted
        master shows for frameworks it knows only from their tasks."""

    def executor_resources(self) -> list[Json]:
        """What the command executor adds to each task (0.1 cpus, 32 MB)."""
