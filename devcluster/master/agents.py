"""Agent lifecycle: registration, removal, partition and healing, master restart.

After a master restart agents re-register with what they run (AgentApi.tasks()), which is
how the new master rebuilds its task table, as after a real master failover. Frameworks
seen only through those tasks are "recovered" until they subscribe again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING

from devcluster.interfaces import AgentApi, AgentConfig, Json
from devcluster.master import mesosjson as mj
from devcluster.master.resources import Resources, parse_resource
from devcluster.master.state import (
    ACTIVE,
    RECOVERING,
    REMOVED,
    UNREACHABLE,
    AgentRecord,
    FrameworkRecord,
)

if TYPE_CHECKING:
    from devcluster.master.master import Master

log = logging.getLogger(__name__)


def agent_total(config: AgentConfig) -> Resources:
    """The agent's resources; --reserve carves static reservations out of them."""
    scalars = {"cpus": config.cpus, "mem": config.mem, "disk": config.disk}
    total = Resources.of(scalars, config.ports)
    for role, reserved in config.reservations.items():
        carved = Resources.of({k: v for k, v in reserved.items() if k in scalars})
        total.subtract(carved)
        total.add(Resources.of({k: v for k, v in reserved.items() if k in scalars}, role=role))
    return total


def register(master: Master, api: AgentApi, state: str = ACTIVE) -> AgentRecord:
    config = api.config
    total = agent_total(config)
    record = AgentRecord(
        api=api,
        id=config.agent_id,
        hostname=config.hostname,
        port=api.port,
        total=total,
        attributes=[dict(a) for a in config.attributes],
        registered_time=time.time(),
        state=state,
    )
    record.free = total.copy()
    master.agents[record.id] = record
    master.agents_changed()
    master.touch(record)
    if state == ACTIVE:
        master.allocator.request()
    return record


def reregister(master: Master, record: AgentRecord) -> None:
    """A recovering or partitioned agent comes back with the tasks it still runs."""
    if record.state not in (RECOVERING, UNREACHABLE):
        return
    previous = record.state
    record.state = ACTIVE
    record.reregistered_time = time.time()
    record.unreachable_time = None
    framework_ids = _adopt_tasks(master, record)
    if previous == UNREACHABLE:
        _forget_vanished(master, record)
    record.free = record.total.copy().subtract(record.allocated())
    master.agents_changed()
    master.touch(record)
    for framework_id in framework_ids:
        framework = master.frameworks.get(framework_id)
        if framework is not None and framework.connected:
            record.api.resend_unacknowledged(framework_id)
    master.allocator.request()


def _adopt_tasks(master: Master, record: AgentRecord) -> set[str]:
    seen: set[str] = set()
    for item in record.api.tasks():
        framework = _framework_for(master, item)
        info = item["task_info"]
        task_id = info["task_id"]["value"]
        seen.add(framework.id)
        task = record.tasks.get((framework.id, task_id))
        if task is None:
            task = master.add_task(
                framework, record, info, item.get("role", "*"), _resources_of(info)
            )
        else:
            framework.unreachable_tasks.pop(task_id, None)
            framework.tasks[task_id] = task
        task.unreachable_time = None
        latest = item.get("latest_status")
        if not isinstance(latest, dict):
            latest = {"task_id": mj.wrap(task_id), "state": item.get("state", "TASK_RUNNING")}
        master.update_task(framework, task, latest)
        if not task.terminal:
            master.count_resources(framework, task)
    return seen


def _forget_vanished(master: Master, record: AgentRecord) -> None:
    """Tasks the master had as unreachable that the agent no longer runs are gone."""
    for key, task in list(record.tasks.items()):
        framework = master.frameworks.get(task.framework_id)
        if framework is not None and framework.unreachable_tasks.get(task.id) is task:
            master.complete_task(framework, task)
        elif framework is None:
            del record.tasks[key]


def _framework_for(master: Master, item: Json) -> FrameworkRecord:
    framework_id = item["framework_id"]
    framework = master.frameworks.get(framework_id)
    if framework is None:
        info = dict(item.get("framework_info") or {"user": "", "name": ""})
        info["id"] = mj.wrap(framework_id)
        framework = FrameworkRecord(
            id=framework_id,
            info=info,
            roles=[item.get("role", "*")],
            capabilities={c.get("type", "") for c in info.get("capabilities", [])},
            registered_time=time.time(),
            recovered=True,
        )
        master.frameworks[framework_id] = framework
    elif framework.recovered and item.get("role") not in framework.roles:
        framework.roles.append(item.get("role", "*"))
    return framework


def _resources_of(info: Json) -> Resources:
    total = Resources()
    for resource in info.get("resources", []):
        total.add(parse_resource(resource)[1])
    return total


# -- faults -------------------------------------------------------------------------


def partition(master: Master, record: AgentRecord) -> None:
    """The agent becomes unreachable: its tasks are UNREACHABLE (or LOST) and held."""
    if record.state != ACTIVE:
        return
    now = time.time()
    record.state = UNREACHABLE
    record.unreachable_time = now
    master.agents_changed()
    master.touch(record)
    _rescind_offers(master, record)
    for task in list(record.tasks.values()):
        framework = master.frameworks.get(task.framework_id)
        if framework is None or task.terminal:
            continue
        state = "TASK_UNREACHABLE" if framework.partition_aware else "TASK_LOST"
        status = master.master_status(
            task.id,
            state,
            f"Agent {record.id} ({record.hostname}) is unreachable",
            "REASON_AGENT_REMOVED",
            record.id,
            latest=task.latest,
            unreachable_time=now,
        )
        master.update_task(framework, task, status)
        master.uncount_resources(framework, task)
        task.unreachable_time = now
        framework.tasks.pop(task.id, None)
        framework.unreachable_tasks[task.id] = task
        master.send_update(framework, status)
    _send_failure(master, record)


def remove(master: Master, record: AgentRecord, *, gone: bool = False) -> None:
    """The agent is removed for good (or marked gone by the operator)."""
    if record.state == REMOVED:
        return
    was_active = record.state == ACTIVE
    record.state = REMOVED
    record.gone = gone
    master.agents_changed()
    master.touch(record)
    _rescind_offers(master, record)
    for task in list(record.tasks.values()):
        framework = master.frameworks.get(task.framework_id)
        if framework is None:
            continue
        if task.terminal:
            master.complete_task(framework, task)
            continue
        state = "TASK_GONE_BY_OPERATOR" if gone else "TASK_GONE"
        if not framework.partition_aware:
            state = "TASK_LOST"
        reason = "REASON_AGENT_REMOVED_BY_OPERATOR" if gone else "REASON_AGENT_REMOVED"
        status = master.master_status(
            task.id, state, f"Agent {record.id} ({record.hostname}) removed", reason, record.id
        )
        master.end_task(framework, task, status)
        master.send_update(framework, status)
    if was_active:
        _send_failure(master, record)


def _rescind_offers(master: Master, record: AgentRecord) -> None:
    for offer in list(record.offers.values()):
        master.rescind(offer)


def _send_failure(master: Master, record: AgentRecord) -> None:
    for framework in list(master.frameworks.values()):
        master.send(framework, {"type": "FAILURE", "failure": {"agent_id": mj.wrap(record.id)}})


async def restart_master(master: Master, agent_delay: float) -> None:
    """Drop every stream and all state; agents re-register after `agent_delay`."""
    master.allocator.stop()
    for framework in list(master.frameworks.values()):
        for timer in (framework.failover_timer, framework.heartbeat_timer):
            if timer is not None:
                timer.cancel()
        stream, framework.stream = framework.stream, None
        if stream is not None:
            stream.on_lost = None
            stream.abort()
    records = list(master.agents.values())
    master.reset(str(uuid.uuid4()))
    master.agents = {}
    master.allocator.start()
    for old in records:
        if old.state == REMOVED:
            continue
        record = register(master, old.api, RECOVERING if old.state == ACTIVE else UNREACHABLE)
        record.unreachable_time = old.unreachable_time
    loop = asyncio.get_running_loop()
    incarnation = master.id
    loop.call_later(agent_delay, _reregister_all, master, incarnation)
    loop.call_later(master.config.agent_reregister_timeout, _expire_recovering, master, incarnation)
    log.info("master restarted as %s; agents re-register in %.1fs", master.id, agent_delay)


def _reregister_all(master: Master, incarnation: str) -> None:
    if master.id != incarnation:
        return
    for record in list(master.agents.values()):
        if record.state == RECOVERING:
            reregister(master, record)


def _expire_recovering(master: Master, incarnation: str) -> None:
    if master.id != incarnation:
        return
    for record in list(master.agents.values()):
        if record.state == RECOVERING:
            record.state = UNREACHABLE
            record.unreachable_time = time.time()
            master.agents_changed()
