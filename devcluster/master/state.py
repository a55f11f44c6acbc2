"""The master's records of agents, frameworks, tasks and offers."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from devcluster.interfaces import AgentApi, Json
from devcluster.master.mesosjson import is_terminal
from devcluster.master.resources import Resources

if TYPE_CHECKING:
    from devcluster.master.streams import EventStream

# Like the master's --max_completed_frameworks and --max_completed_tasks_per_framework.
MAX_COMPLETED_FRAMEWORKS = 50
MAX_COMPLETED_TASKS = 1000

ACTIVE = "active"  # registered and reachable
UNREACHABLE = "unreachable"  # partitioned: tasks unreachable, updates held by the agent
RECOVERING = "recovering"  # known from before a master restart, not re-registered yet
REMOVED = "removed"


@dataclass(eq=False)
class AgentRecord:
    api: AgentApi
    id: str
    hostname: str
    port: int
    total: Resources
    attributes: list[Json]
    registered_time: float
    state: str = ACTIVE
    free: Resources = field(default_factory=Resources)
    reregistered_time: float | None = None
    unreachable_time: float | None = None
    gone: bool = False  # removed and marked gone by the operator
    tasks: dict[tuple[str, str], TaskRecord] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)

    @property
    def pid(self) -> str:
        return f"slave(1)@{self.hostname}:{self.port}"

    def allocated(self) -> Resources:
        used = Resources()
        for task in self.tasks.values():
            if not task.terminal:
                used.add(task.resources)
        return used

    def offered(self) -> Resources:
        total = Resources()
        for offer in self.offers.values():
            total.add(offer.resources)
        return total


@dataclass(eq=False)
class TaskRecord:
    framework_id: str
    agent_id: str
    info: Json
    role: str
    resources: Resources
    state: str = "TASK_STAGING"
    statuses: list[Json] = field(default_factory=list)
    status_update_state: str | None = None
    status_update_uuid: str | None = None
    unreachable_time: float | None = None
    counted: bool = False  # its resources are in its framework's `allocated`

    @property
    def id(self) -> str:
        return str(self.info["task_id"]["value"])

    @property
    def terminal(self) -> bool:
        return is_terminal(self.state)

    @property
    def latest(self) -> Json | None:
        return self.statuses[-1] if self.statuses else None

    def record(self, status: Json) -> None:
        """Keep one status per state in a row: a health update replaces the RUNNING before it."""
        if self.statuses and self.statuses[-1].get("state") == status.get("state"):
            self.statuses[-1] = status
        else:
            self.statuses.append(status)
        self.state = status["state"]


@dataclass(eq=False)
class Offer:
    id: str
    framework_id: str
    agent_id: str
    role: str
    resources: Resources


@dataclass
class Filter:
    refused: Resources
    expires: float


@dataclass(eq=False)
class FrameworkRecord:
    id: str
    info: Json
    roles: list[str]
    capabilities: set[str]
    registered_time: float
    stream: EventStream | None = None
    stream_id: str | None = None
    active: bool = False
    recovered: bool = False
    reregistered_time: float | None = None
    unregistered_time: float | None = None
    suppressed: set[str] = field(default_factory=set)
    offer_constraints: Json = field(default_factory=dict)
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    unreachable_tasks: dict[str, TaskRecord] = field(default_factory=dict)
    completed_tasks: deque[TaskRecord] = field(
        default_factory=lambda: deque(maxlen=MAX_COMPLETED_TASKS)
    )
    offers: dict[str, Offer] = field(default_factory=dict)
    filters: dict[tuple[str, str], list[Filter]] = field(default_factory=dict)
    failover_timer: asyncio.TimerHandle | None = None
    heartbeat_timer: asyncio.TimerHandle | None = None
    calls: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    # Tasks' resources that are not terminal yet, and the quantities in outstanding offers:
    # kept incrementally because every allocation pass needs them (DRF shares).
    allocated: Resources = field(default_factory=Resources)
    offered_quantities: dict[str, float] = field(default_factory=dict)

    @property
    def connected(self) -> bool:
        return self.stream is not None

    @property
    def name(self) -> str:
        return str(self.info.get("name", ""))

    @property
    def partition_aware(self) -> bool:
        return "PARTITION_AWARE" in self.capabilities

    @property
    def multi_role(self) -> bool:
        return "MULTI_ROLE" in self.capabilities

    @property
    def refinement(self) -> bool:
        return "RESERVATION_REFINEMENT" in self.capabilities

    def offered(self) -> Resources:
        total = Resources()
        for offer in self.offers.values():
            total.add(offer.resources)
        return total

    def failover_timeout(self) -> float:
        value = self.info.get("failover_timeout", 0.0)
        return max(float(value), 0.0)
