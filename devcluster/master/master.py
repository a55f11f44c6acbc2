"""The master's state and bookkeeping: tasks, offers, resources, events to frameworks.

This is the StatusSink the agents call. Everything runs on one event loop, so state
changes are atomic between awaits; agents may call back re-entrantly (an acknowledgement
releases the next update at once), so records are always updated before an agent is
called.
"""

from __future__ import annotations

import functools
import socket
import time
import uuid
from collections import Counter, deque

from devcluster.interfaces import AgentApi, Json
from devcluster.master import mesosjson as mj
from devcluster.master.allocator import Allocator
from devcluster.master.config import VERSION, MasterConfig
from devcluster.master.resources import Resources
from devcluster.master.state import (
    ACTIVE,
    MAX_COMPLETED_FRAMEWORKS,
    AgentRecord,
    FrameworkRecord,
    Offer,
    TaskRecord,
)

MASTER_CAPABILITIES = ({"type": "AGENT_UPDATE"}, {"type": "AGENT_DRAINING"}, {"type": "QUOTA_V2"})


class Master:
    def __init__(self, config: MasterConfig) -> None:
        self.config = config
        self.agents: dict[str, AgentRecord] = {}
        self.reset(config.master_id)

    def reset(self, master_id: str) -> None:
        """A fresh incarnation: everything but the agents' handles is forgotten."""
        self.id = master_id
        self.start_time = time.time()
        self.elected_time = self.start_time
        self.frameworks: dict[str, FrameworkRecord] = {}
        self.completed_frameworks: deque[FrameworkRecord] = deque(maxlen=MAX_COMPLETED_FRAMEWORKS)
        self.removed_frameworks: set[str] = set()
        self.offers: dict[str, Offer] = {}
        self.next_framework = 0
        self.next_offer = 0
        self.counters: Counter[str] = Counter()
        self.task_gauges: Counter[str] = Counter()
        self.heartbeats_paused: set[str] = set()  # framework ids, or "*" for all
        # Active agents with allocatable free resources: allocation passes look only here,
        # so a pass costs what changed, not the size of the cluster.
        self.free_agents: dict[str, AgentRecord] = {}
        self._total_quantities: dict[str, float] | None = None
        self.allocator = Allocator(self)

    # -- identity -------------------------------------------------------------------

    @property
    def pid(self) -> str:
        return f"master@{self.config.host}:{self.config.port}"

    def master_info(self) -> Json:
        host, port = self.config.host, self.config.port
        return {
            "id": self.id,
            "ip": _ip_as_int(host),
            "port": port,
            "pid": self.pid,
            "hostname": host,
            "version": VERSION,
            "address": {"hostname": host, "ip": _ip_of(host), "port": port},
            "capabilities": [dict(c) for c in MASTER_CAPABILITIES],
        }

    def new_framework_id(self) -> str:
        framework_id = f"{self.id}-{self.next_framework:04d}"
        self.next_framework += 1
        return framework_id

    def new_stream_id(self) -> str:
        return str(uuid.uuid4())

    # -- events ---------------------------------------------------------------------

    def send(self, framework: FrameworkRecord, event: Json) -> None:
        stream = framework.stream
        if stream is not None:
            framework.events[event["type"]] += 1
            stream.send(event)

    def send_update(self, framework: FrameworkRecord, status: Json) -> None:
        self.send(framework, {"type": "UPDATE", "update": {"status": status}})

    def master_status(
        self,
        task_id: str,
        state: str,
        message: str,
        reason: str,
        agent_id: str | None = None,
        latest: Json | None = None,
        unreachable_time: float | None = None,
    ) -> Json:
        """A TaskStatus the master makes itself: SOURCE_MASTER, no uuid, no executor_id."""
        status: Json = {
            "task_id": mj.wrap(task_id),
            "state": state,
            "message": message,
            "source": "SOURCE_MASTER",
            "reason": reason,
        }
        if agent_id is not None:
            status["agent_id"] = mj.wrap(agent_id)
        status["timestamp"] = time.time()
        if latest is not None:
            for key in ("healthy", "check_status", "container_status"):
                if key in latest:
                    status[key] = latest[key]
        if unreachable_time is not None:
            status["unreachable_time"] = mj.nanos(unreachable_time)
        return status

    # -- StatusSink -----------------------------------------------------------------

    def on_status(self, agent_id: str, framework_id: str, status: Json) -> None:
        agent = self.agents.get(agent_id)
        if agent is None or agent.state != ACTIVE:
            return  # the agent keeps the update and sends it again
        task = agent.tasks.get((framework_id, mj.value_of(status.get("task_id")) or ""))
        framework = self.frameworks.get(framework_id)
        if task is None or framework is None:
            return
        self.counters["valid_status_updates"] += 1
        self.update_task(framework, task, status)
        self.send_update(framework, status)

    def update_task(self, framework: FrameworkRecord, task: TaskRecord, status: Json) -> None:
        old_state, was_terminal = task.state, task.terminal
        task.record(status)
        if "uuid" in status:
            task.status_update_state = task.state
            task.status_update_uuid = status["uuid"]
        self._count_transition(old_state, task.state)
        if task.terminal and not was_terminal:
            self.release(framework, task)

    def _count_transition(self, old: str, new: str) -> None:
        if old == new:
            return
        if not mj.is_terminal(old):
            self.task_gauges[old] -= 1
        if mj.is_terminal(new):
            self.counters[new] += 1
        else:
            self.task_gauges[new] += 1

    # -- tasks ----------------------------------------------------------------------

    def add_task(
        self,
        framework: FrameworkRecord,
        agent: AgentRecord,
        info: Json,
        role: str,
        resources: Resources,
        state: str = "TASK_STAGING",
    ) -> TaskRecord:
        task = TaskRecord(framework.id, agent.id, info, role, resources, state=state)
        framework.tasks[task.id] = task
        agent.tasks[(framework.id, task.id)] = task
        if task.terminal:
            self.counters[state] += 1
        else:
            self.task_gauges[state] += 1
            self.count_resources(framework, task)
        return task

    def count_resources(self, framework: FrameworkRecord, task: TaskRecord) -> None:
        if not task.counted:
            framework.allocated.add(task.resources)
            task.counted = True

    def uncount_resources(self, framework: FrameworkRecord, task: TaskRecord) -> None:
        if task.counted:
            framework.allocated.subtract(task.resources)
            task.counted = False

    def release(self, framework: FrameworkRecord, task: TaskRecord) -> None:
        """A task went terminal: its resources go back to its agent's pool."""
        self.uncount_resources(framework, task)
        agent = self.agents.get(task.agent_id)
        if agent is not None and agent.state == ACTIVE:
            agent.free.add(task.resources)
            self.touch(agent)

    def complete_task(self, framework: FrameworkRecord, task: TaskRecord) -> None:
        """Forget a terminal task (acknowledged, or its framework or agent is gone)."""
        if framework.tasks.get(task.id) is task:
            del framework.tasks[task.id]
        if framework.unreachable_tasks.get(task.id) is task:
            del framework.unreachable_tasks[task.id]
        agent = self.agents.get(task.agent_id)
        if agent is not None and agent.tasks.get((framework.id, task.id)) is task:
            del agent.tasks[(framework.id, task.id)]
        framework.completed_tasks.append(task)

    def end_task(self, framework: FrameworkRecord, task: TaskRecord, status: Json) -> None:
        """Make a live task terminal from the master's side and forget it."""
        self.update_task(framework, task, status)
        self.complete_task(framework, task)

    # -- offers ---------------------------------------------------------------------

    def make_offer(
        self, framework: FrameworkRecord, agent: AgentRecord, role: str, resources: Resources
    ) -> Offer:
        offer_id = f"{self.id}-O{self.next_offer}"
        self.next_offer += 1
        offer = Offer(offer_id, framework.id, agent.id, role, resources)
        agent.free.subtract(resources)
        self.touch(agent)
        agent.offers[offer_id] = offer
        framework.offers[offer_id] = offer
        _add_quantities(framework.offered_quantities, resources, 1)
        self.offers[offer_id] = offer
        return offer

    def take_offer(self, offer: Offer) -> None:
        """Remove an offer from every index; its resources are the caller's to place."""
        self.offers.pop(offer.id, None)
        framework = self.frameworks.get(offer.framework_id)
        if framework is not None and framework.offers.pop(offer.id, None) is not None:
            _add_quantities(framework.offered_quantities, offer.resources, -1)
        agent = self.agents.get(offer.agent_id)
        if agent is not None:
            agent.offers.pop(offer.id, None)

    def recover(self, agent_id: str, resources: Resources) -> None:
        agent = self.agents.get(agent_id)
        if agent is not None and agent.state == ACTIVE:
            agent.free.add(resources)
            self.touch(agent)

    def rescind(self, offer: Offer, *, notify: bool = True) -> None:
        self.take_offer(offer)
        self.recover(offer.agent_id, offer.resources)
        framework = self.frameworks.get(offer.framework_id)
        if notify and framework is not None:
            self.counters["offers_rescinded"] += 1
            self.send(framework, {"type": "RESCIND", "rescind": {"offer_id": mj.wrap(offer.id)}})

    def offer_json(self, framework: FrameworkRecord, offer: Offer) -> Json:
        agent = self.agents[offer.agent_id]
        role = offer.role if framework.multi_role else None
        body: Json = {
            "id": mj.wrap(offer.id),
            "framework_id": mj.wrap(framework.id),
            "agent_id": mj.wrap(agent.id),
            "hostname": agent.hostname,
            # "http" even when the agents serve only HTTPS, as the real master writes it
            # (master.cpp: "TODO(bmahler): Set "https" if only "https" is supported").
            "url": {
                "scheme": "http",
                "address": {
                    "hostname": agent.hostname,
                    "ip": _ip_of(agent.hostname),
                    "port": agent.port,
                },
                "path": "/slave(1)",
            },
            "resources": offer.resources.to_json(
                allocation_role=role, refinement=framework.refinement
            ),
        }
        if agent.attributes:
            body["attributes"] = agent.attributes
        if role is not None:
            body["allocation_info"] = {"role": role}
        return body

    def send_offers(self, framework: FrameworkRecord, offers: list[Offer]) -> None:
        self.counters["offers_sent"] += len(offers)
        items = [self.offer_json(framework, offer) for offer in offers]
        self.send(framework, {"type": "OFFERS", "offers": {"offers": items}})

    # -- agents ---------------------------------------------------------------------

    def agent_for(self, api: AgentApi) -> AgentRecord | None:
        return self.agents.get(api.config.agent_id)

    def active_agents(self) -> list[AgentRecord]:
        return [a for a in self.agents.values() if a.state == ACTIVE]

    def touch(self, agent: AgentRecord) -> None:
        """Re-file an agent in the free index after its free resources or state changed."""
        if agent.state == ACTIVE and agent.free.allocatable():
            self.free_agents[agent.id] = agent
        else:
            self.free_agents.pop(agent.id, None)

    def agents_changed(self) -> None:
        self._total_quantities = None

    def totals(self) -> Resources:
        total = Resources()
        for agent in self.agents.values():
            if agent.state == ACTIVE:
                total.add(agent.total)
        return total

    def total_quantities(self) -> dict[str, float]:
        if self._total_quantities is None:
            self._total_quantities = self.totals().quantities()
        return self._total_quantities


def _add_quantities(into: dict[str, float], resources: Resources, sign: int) -> None:
    for name, amount in resources.quantities().items():
        into[name] = mj.scalar(into.get(name, 0.0) + sign * amount)


@functools.lru_cache(maxsize=65536)
def _ip_of(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        return "127.0.0.1"


def _ip_as_int(host: str) -> int:
    """MasterInfo.ip: the IPv4 address as a uint32 in network byte order."""
    return int.from_bytes(socket.inet_aton(_ip_of(host)), "little")
