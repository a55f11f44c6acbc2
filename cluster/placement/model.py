"""What the placement decision takes and gives: plain frozen values, no Mesos JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from cluster.constraints import Constraint

MAX_PORT = 65535


def milli(amount: float) -> int:
    """Mesos keeps scalars as fixed point with three decimals (llround(v * 1000)).

    Comparing integers of thousandths, as the master does, keeps 0.1 + 0.2 from failing to
    fit into an offer of 0.3.
    """
    return math.floor(amount * 1000 + 0.5)


@dataclass(frozen=True, slots=True)
class PlacementOffer:
    """One Mesos offer, already allocated to one role (MULTI_ROLE offers carry exactly one).

    `ports` are inclusive (begin, end) ranges; `attributes` are the agent's attributes
    rendered as Marathon compares them (cluster.constraints.render_attributes).
    """

    offer_id: str
    agent_id: str
    hostname: str
    role: str
    cpus: float
    mem: float
    disk: float = 0.0
    gpus: float = 0.0
    ports: tuple[tuple[int, int], ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    region: str | None = None
    zone: str | None = None

    def __post_init__(self) -> None:
        for name in ("cpus", "mem", "disk", "gpus"):
            if not _amount(getattr(self, name)):
                raise ValueError(f"offer {self.offer_id}: {name} must be a finite number >= 0")
        for begin, end in self.ports:
            if not 0 <= begin <= end <= MAX_PORT:
                raise ValueError(f"offer {self.offer_id}: bad port range {begin}-{end}")


@dataclass(frozen=True, slots=True)
class PlacementSpec:
    """What placement needs to know about the tasks of one app version.

    All pending tasks of a version should share one instance: the decision folds tasks by
    their spec, and an identical object is recognised without hashing it. `group` is the
    service or job the tasks belong to (constraints count the tasks of one group); `role`
    is the environment's Mesos role. `host_ports` lists the host ports a task needs, in
    order: 0 asks for any free port of the offer, any other number for exactly that port.
    """

    group: str
    role: str
    cpus: float
    mem: float
    disk: float = 0.0
    gpus: int = 0
    host_ports: tuple[int, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("cpus", "mem", "disk", "gpus"):
            if not _amount(getattr(self, name)):
                raise ValueError(f"{self.group}: {name} must be a finite number >= 0")
        fixed = [port for port in self.host_ports if port]
        if len(set(fixed)) != len(fixed):
            raise ValueError(f"{self.group}: a host port is requested twice")
        if not all(0 <= port <= MAX_PORT for port in self.host_ports):
            raise ValueError(f"{self.group}: host ports must be within 0-{MAX_PORT}")
        key = (self.group, self.role, self.cpus, self.mem, self.disk, self.gpus)
        object.__setattr__(self, "_hash", hash((*key, self.host_ports, self.constraints)))

    def __hash__(self) -> int:
        return self._hash


@dataclass(frozen=True, slots=True)
class PendingTask:
    """A task waiting for an offer.

    Tasks go in the order of highest `priority`, then lowest `order` (the queue position),
    then `task_id`.
    """

    task_id: str
    spec: PlacementSpec
    priority: int = 0
    order: int = 0
    # The queue position as one value, computed once rather than on every decision.
    rank: tuple[int, int, str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rank", (-self.priority, self.order, self.task_id))


@dataclass(frozen=True, slots=True)
class RunningOn:
    """`count` tasks of a group already run on this agent (what the constraints count)."""

    hostname: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    count: int = 1
    region: str | None = None
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutorOverhead:
    """Resources an executor takes on top of each task it runs."""

    cpus: float = 0.1
    mem: float = 32.0
    disk: float = 0.0


# Mesos's command executor: DEFAULT_EXECUTOR_CPUS and DEFAULT_EXECUTOR_MEM.
COMMAND_EXECUTOR = ExecutorOverhead()
NO_OVERHEAD = ExecutorOverhead(cpus=0.0, mem=0.0)


class Launch(NamedTuple):
    """One task to launch; `seq` is the order decisions were made in (constraints replay it)."""

    task_id: str
    offer_id: str
    ports: tuple[int, ...]
    seq: int


@dataclass(frozen=True, slots=True)
class OfferPlan:
    offer_id: str
    agent_id: str
    launches: tuple[Launch, ...]


@dataclass(frozen=True, slots=True)
class WhyNot:
    """Why a task stayed pending: of `offers` in the batch, how many failed each check.

    Every offer of another role counts once under `role`; every offer of the task's role
    counts under each check it failed (a full agent counts under both cpus and mem), judged
    on what was left of it after this batch's launches. `limited` means the batch reached
    its launch limit before the task's turn: nothing was checked, it goes in a later batch.
    """

    offers: int
    role: int = 0
    cpus: int = 0
    mem: int = 0
    disk: int = 0
    gpus: int = 0
    ports: int = 0
    constraints: tuple[tuple[str, int], ...] = ()
    limited: bool = False

    def counts(self) -> dict[str, int]:
        """Non-zero counts by reason: role, cpus, mem, disk, gpus, ports, `constraint <spec>`."""
        named = {
            "role": self.role,
            "cpus": self.cpus,
            "mem": self.mem,
            "disk": self.disk,
            "gpus": self.gpus,
            "ports": self.ports,
        }
        named.update((f"constraint {spec}", count) for spec, count in self.constraints)
        return {reason: count for reason, count in named.items() if count}


@dataclass(frozen=True, slots=True)
class Placement:
    """The decision for one batch of offers.

    `plans` has one entry per offer that gets tasks, in offer id order; `unused_offer_ids`
    are the offers to decline; `not_placed` has every pending task that did not get an offer.
    """

    plans: tuple[OfferPlan, ...]
    unused_offer_ids: tuple[str, ...]
    not_placed: Mapping[str, WhyNot]

    @property
    def launches(self) -> list[Launch]:
        return sorted((launch for plan in self.plans for launch in plan.launches), key=_seq)


def _seq(launch: Launch) -> int:
    return launch.seq


def _amount(value: float) -> bool:
    # Infinity would pass ">= 0" and then break the fixed-point arithmetic.
    return math.isfinite(value) and value >= 0
