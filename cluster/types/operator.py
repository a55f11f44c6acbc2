"""What Berth reads from the operator API, /metrics/snapshot and agents' HTTP endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cluster.types.events import MasterInfo, TaskStatus
from cluster.types.resources import Attribute, Label, ResourceTotals

# ---- master: operator API -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentSummary:
    agent_id: str
    hostname: str
    port: int | None
    active: bool
    total: ResourceTotals
    allocated: ResourceTotals  # tasks and executors; outstanding offers are not counted
    offered: ResourceTotals
    attributes: tuple[Attribute, ...] = ()
    version: str | None = None
    pid: str | None = None
    registered_time_ns: int | None = None

    @property
    def free(self) -> ResourceTotals:
        return ResourceTotals(
            cpus=round(self.total.cpus - self.allocated.cpus, 3),
            mem=round(self.total.mem - self.allocated.mem, 3),
            disk=round(self.total.disk - self.allocated.disk, 3),
            gpus=round(self.total.gpus - self.allocated.gpus, 3),
        )


@dataclass(frozen=True, slots=True)
class FrameworkRecord:
    framework_id: str
    name: str
    user: str
    roles: tuple[str, ...]
    active: bool
    connected: bool
    recovered: bool
    capabilities: tuple[str, ...] = ()
    failover_timeout: float | None = None
    principal: str | None = None
    hostname: str | None = None
    webui_url: str | None = None
    allocated: ResourceTotals = field(default_factory=ResourceTotals)
    offered: ResourceTotals = field(default_factory=ResourceTotals)
    registered_time_ns: int | None = None
    unregistered_time_ns: int | None = None


@dataclass(frozen=True, slots=True)
class TaskRecord:
    task_id: str
    name: str
    framework_id: str
    agent_id: str
    state: str
    resources: ResourceTotals
    executor_id: str | None = None
    statuses: tuple[TaskStatus, ...] = ()
    labels: tuple[Label, ...] = ()
    # The head of the agent's update stream: what the framework has not acknowledged yet.
    status_update_state: str | None = None
    status_update_uuid: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterState:
    """GET_STATE: one consistent snapshot of agents, frameworks and tasks."""

    agents: tuple[AgentSummary, ...]
    frameworks: tuple[FrameworkRecord, ...]
    completed_frameworks: tuple[FrameworkRecord, ...]
    tasks: tuple[TaskRecord, ...]
    unreachable_tasks: tuple[TaskRecord, ...]
    completed_tasks: tuple[TaskRecord, ...]


@dataclass(frozen=True, slots=True)
class MasterStatus:
    master: MasterInfo
    start_time: float | None  # seconds since the epoch (GET_MASTER writes seconds here)
    elected_time: float | None


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: str
    build_date: str | None = None
    build_time: float | None = None
    build_user: str | None = None
    git_sha: str | None = None
    git_tag: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterMetrics:
    """The master's utilization gauges. mem/disk in MB; *_percent is a 0..1 fraction.
    Metrics a snapshot left out (a timeout, a fresh master) read as 0."""

    cpus_total: float
    cpus_used: float
    mem_total: float
    mem_used: float
    disk_total: float
    disk_used: float
    gpus_total: float
    gpus_used: float
    tasks_staging: float
    tasks_starting: float
    tasks_running: float
    tasks_killing: float
    tasks_unreachable: float
    tasks_finished: float  # counters from here on: monotonic since the master started
    tasks_failed: float
    tasks_killed: float
    tasks_lost: float
    tasks_error: float
    agents_active: float
    agents_inactive: float
    agents_unreachable: float
    frameworks_active: float
    outstanding_offers: float
    elected: bool
    uptime_secs: float
    values: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def cpus_percent(self) -> float:
        return self.cpus_used / self.cpus_total if self.cpus_total else 0.0

    @property
    def mem_percent(self) -> float:
        return self.mem_used / self.mem_total if self.mem_total else 0.0

    @property
    def disk_percent(self) -> float:
        return self.disk_used / self.disk_total if self.disk_total else 0.0


# ---- agent: /state, /monitor/statistics, /files/* -------------------------------------


@dataclass(frozen=True, slots=True)
class AgentExecutor:
    executor_id: str
    directory: str  # absolute sandbox path on the agent
    task_ids: tuple[str, ...] = ()
    completed_task_ids: tuple[str, ...] = ()
    queued_task_ids: tuple[str, ...] = ()
    completed: bool = False

    def runs(self, task_id: str) -> bool:
        return task_id in (*self.task_ids, *self.completed_task_ids, *self.queued_task_ids)


@dataclass(frozen=True, slots=True)
class AgentFramework:
    framework_id: str
    name: str | None
    executors: tuple[AgentExecutor, ...]
    completed: bool = False


@dataclass(frozen=True, slots=True)
class AgentState:
    agent_id: str | None
    hostname: str | None
    frameworks: tuple[AgentFramework, ...]  # live and completed ones

    def sandbox_directory(self, framework_id: str, task_id: str) -> str | None:
        """The absolute sandbox of the executor that ran ``task_id``; live executors
        win over completed ones, because a reused executor id keeps old runs around."""
        candidates = [
            executor
            for framework in self.frameworks
            if framework.framework_id == framework_id
            for executor in framework.executors
            if executor.runs(task_id)
        ]
        candidates.sort(key=lambda executor: executor.completed)
        return candidates[0].directory if candidates else None


@dataclass(frozen=True, slots=True)
class ExecutorStatistics:
    """One /monitor/statistics entry. Memory in bytes. Fields the isolators did not
    fill in are None (posix isolation reports no throttling, disk or thread counts)."""

    framework_id: str
    executor_id: str
    executor_name: str | None
    source: str | None
    timestamp: float
    cpus_user_time_secs: float | None = None
    cpus_system_time_secs: float | None = None
    cpus_limit: float | None = None  # cpus_limit, or cpus_soft_limit when only that is set
    mem_rss_bytes: int | None = None
    mem_limit_bytes: int | None = None
    mem_total_bytes: int | None = None
    disk_used_bytes: int | None = None
    disk_limit_bytes: int | None = None
    processes: int | None = None
    threads: int | None = None

    @property
    def cpu_seconds(self) -> float:
        return (self.cpus_user_time_secs or 0.0) + (self.cpus_system_time_secs or 0.0)


def cpu_usage(earlier: ExecutorStatistics, later: ExecutorStatistics) -> float | None:
    """Cores used between two samples of one executor: delta CPU time / delta wall time."""
    elapsed = later.timestamp - earlier.timestamp
    if elapsed <= 0:
        return None
    return max(0.0, (later.cpu_seconds - earlier.cpu_seconds) / elapsed)


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    size: int
    mtime: float  # seconds
    mode: str  # ls -l style, first character is the type
    nlink: int | None = None
    uid: str | None = None
    gid: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.mode.startswith("d")

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class FileChunk:
    data: bytes
    offset: int
