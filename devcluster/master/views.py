"""The master's objects in v1 JSON (operator API) and in the legacy JSON of the GET endpoints.

Shapes follow 12-operator and 13-legacy: v1 times are {"nanoseconds"}, legacy times are
float seconds, legacy resources are summary maps and labels plain arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from devcluster.interfaces import Json
from devcluster.master import convert
from devcluster.master import mesosjson as mj
from devcluster.master.config import VERSION
from devcluster.master.resources import Resources
from devcluster.master.state import ACTIVE, AgentRecord, FrameworkRecord, Offer, TaskRecord

if TYPE_CHECKING:
    from devcluster.master.master import Master

AGENT_CAPABILITIES = (
    "MULTI_ROLE",
    "HIERARCHICAL_ROLE",
    "RESERVATION_REFINEMENT",
    "RESOURCE_PROVIDER",
    "RESIZE_VOLUME",
    "AGENT_OPERATION_FEEDBACK",
    "AGENT_DRAINING",
    "TASK_RESOURCE_LIMITS",
)
# Task fields echoed (with proto2 defaults) in both v1 and legacy task JSON.
_TASK_EXTRAS = (
    ("labels", None),
    ("discovery", "DiscoveryInfo"),
    ("container", "ContainerInfo"),
    ("health_check", "HealthCheck"),
)
_LEGACY_CONTAINER = ("container_id", "network_infos", "cgroup_info")
SUMMARY_STATES = (
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
    "TASK_FINISHED",
    "TASK_KILLED",
    "TASK_FAILED",
    "TASK_LOST",
    "TASK_ERROR",
    "TASK_UNREACHABLE",
)


def by_role(tasks: list[TaskRecord]) -> dict[str, Resources]:
    roles: dict[str, Resources] = {}
    for task in tasks:
        if not task.terminal and task.state != "TASK_UNREACHABLE":
            roles.setdefault(task.role, Resources()).add(task.resources)
    return roles


def offers_by_role(offers: list[Offer]) -> dict[str, Resources]:
    roles: dict[str, Resources] = {}
    for offer in offers:
        roles.setdefault(offer.role, Resources()).add(offer.resources)
    return roles


def allocation_json(roles: dict[str, Resources]) -> list[Json]:
    out: list[Json] = []
    for role, resources in roles.items():
        out.extend(resources.to_json(allocation_role=role))
    return out


def total_of(roles: dict[str, Resources]) -> Resources:
    total = Resources()
    for resources in roles.values():
        total.add(resources)
    return total


# -- v1 -----------------------------------------------------------------------------


def v1_task(task: TaskRecord) -> Json:
    info = task.info
    out: Json = {
        "name": info.get("name", ""),
        "task_id": info["task_id"],
        "framework_id": mj.wrap(task.framework_id),
    }
    executor = info.get("executor")
    if executor is not None:
        out["executor_id"] = executor["executor_id"]
    out["agent_id"] = mj.wrap(task.agent_id)
    out["state"] = task.state
    out["resources"] = [
        {**r, "allocation_info": r.get("allocation_info", {"role": task.role})}
        for r in info.get("resources", [])
    ]
    out["statuses"] = [{k: v for k, v in s.items() if k != "data"} for s in task.statuses]
    if task.status_update_state is not None:
        out["status_update_state"] = task.status_update_state
        out["status_update_uuid"] = task.status_update_uuid
    _task_extras(info, out)
    for key in ("check", "kill_policy", "limits"):
        if key in info:
            out[key] = info[key]
    return out


def _task_extras(info: Json, out: Json) -> None:
    for key, message in _TASK_EXTRAS:
        if key in info:
            out[key] = convert.write(message, info[key]) if message else info[key]
    user = info.get("command", {}).get("user")
    if user:
        out["user"] = user


def v1_offer(master: Master, offer: Offer) -> Json:
    framework = master.frameworks.get(offer.framework_id)
    if framework is None:
        return {"id": mj.wrap(offer.id)}
    body = master.offer_json(framework, offer)
    body["resources"] = offer.resources.to_json(allocation_role=offer.role)
    body["allocation_info"] = {"role": offer.role}
    return body


def v1_framework(master: Master, framework: FrameworkRecord, completed: bool = False) -> Json:
    out: Json = {
        "framework_info": convert.write("FrameworkInfo", framework.info),
        "active": framework.active,
        "connected": framework.connected,
        "recovered": framework.recovered,
        "registered_time": mj.nanos(framework.registered_time),
        "reregistered_time": mj.nanos(framework.reregistered_time or framework.registered_time),
    }
    if framework.unregistered_time is not None:
        out["unregistered_time"] = mj.nanos(framework.unregistered_time)
    offers = list(framework.offers.values())
    if offers:
        out["offers"] = [v1_offer(master, o) for o in offers]
    if not completed:
        allocated = allocation_json(by_role(list(framework.tasks.values())))
        if allocated:
            out["allocated_resources"] = allocated
        offered = allocation_json(offers_by_role(offers))
        if offered:
            out["offered_resources"] = offered
    out["offer_constraints"] = framework.offer_constraints
    return out


def agent_info(agent: AgentRecord) -> Json:
    info: Json = {
        "hostname": agent.hostname,
        "port": agent.port,
        "resources": agent.total.to_json(role_field=False, agent_order=True),
    }
    if agent.attributes:
        info["attributes"] = agent.attributes
    info["id"] = mj.wrap(agent.id)
    info["checkpoint"] = True
    return info


def v1_agent(agent: AgentRecord) -> Json:
    out: Json = {
        "agent_info": agent_info(agent),
        "active": agent.state == ACTIVE,
        "deactivated": False,
        "version": VERSION,
        "pid": agent.pid,
        "registered_time": mj.nanos(agent.registered_time),
    }
    if agent.reregistered_time is not None:
        out["reregistered_time"] = mj.nanos(agent.reregistered_time)
    out["total_resources"] = agent.total.to_json(agent_order=True)
    allocated = allocation_json(by_role(list(agent.tasks.values())))
    if allocated:
        out["allocated_resources"] = allocated
    offered = allocation_json(offers_by_role(list(agent.offers.values())))
    if offered:
        out["offered_resources"] = offered
    out["capabilities"] = [{"type": c} for c in AGENT_CAPABILITIES]
    return out


# -- legacy -------------------------------------------------------------------------


def legacy_status(status: Json) -> Json:
    out: Json = {"state": status["state"], "timestamp": status.get("timestamp", 0.0)}
    labels = status.get("labels", {}).get("labels")
    if labels:
        out["labels"] = labels
    container = status.get("container_status")
    if container is not None:
        out["container_status"] = {
            k: v
            for k, v in container.items()
            if k in ("container_id", "network_infos", "cgroup_info")
        }
    if "healthy" in status:
        out["healthy"] = status["healthy"]
    return out


def legacy_task(task: TaskRecord) -> Json:
    info = task.info
    executor = info.get("executor", {}).get("executor_id", {}).get("value", "")
    out: Json = {
        "id": task.id,
        "name": info.get("name", ""),
        "framework_id": task.framework_id,
        "executor_id": executor,
        "slave_id": task.agent_id,
        "state": task.state,
        "resources": task.resources.summary(),
    }
    if "limits" in info:
        out["limits"] = {k: v.get("value") for k, v in info["limits"].items()}
    out["role"] = task.role
    out["statuses"] = [legacy_status(s) for s in task.statuses]
    _task_extras(info, out)
    if "labels" in out:
        out["labels"] = out["labels"].get("labels", [])
    return out


def legacy_offer(offer: Offer) -> Json:
    return {
        "id": offer.id,
        "framework_id": offer.framework_id,
        "allocation_info": {"role": offer.role},
        "slave_id": offer.agent_id,
        "resources": offer.resources.summary(),
    }


def legacy_framework_summary(framework: FrameworkRecord, completed: bool = False) -> Json:
    used = Resources() if completed else total_of(by_role(list(framework.tasks.values())))
    offered = framework.offered()
    info = framework.info
    return {
        "id": framework.id,
        "name": framework.name,
        "used_resources": used.summary(),
        "offered_resources": offered.summary(),
        "capabilities": sorted(framework.capabilities, key=_capability_order(info)),
        "hostname": info.get("hostname", ""),
        "webui_url": info.get("webui_url", ""),
        "active": framework.active,
        "connected": framework.connected,
        "recovered": framework.recovered,
    }


def _capability_order(info: Json) -> Callable[[str], int]:
    order = [c.get("type") for c in info.get("capabilities", [])]
    return lambda c: order.index(c) if c in order else len(order)


def legacy_framework(framework: FrameworkRecord, completed: bool = False) -> Json:
    out = legacy_framework_summary(framework, completed)
    info = framework.info
    out["user"] = info.get("user", "")
    out["failover_timeout"] = float(info.get("failover_timeout", 0.0))
    out["checkpoint"] = bool(info.get("checkpoint", False))
    out["registered_time"] = framework.registered_time
    if framework.reregistered_time not in (None, framework.registered_time):
        out["reregistered_time"] = framework.reregistered_time
    out["unregistered_time"] = framework.unregistered_time or 0.0
    if "principal" in info:
        out["principal"] = info["principal"]
    used = Resources() if completed else total_of(by_role(list(framework.tasks.values())))
    out["resources"] = used.copy().add(framework.offered()).summary()
    if framework.multi_role:
        out["roles"] = list(framework.roles)
    else:
        out["role"] = framework.roles[0] if framework.roles else "*"
    out["tasks"] = [legacy_task(t) for t in framework.tasks.values()]
    out["unreachable_tasks"] = [legacy_task(t) for t in framework.unreachable_tasks.values()]
    out["completed_tasks"] = [legacy_task(t) for t in framework.completed_tasks]
    out["offers"] = [legacy_offer(o) for o in framework.offers.values()]
    out["executors"] = []
    if "labels" in info:
        out["labels"] = info["labels"].get("labels", [])
    out["offer_constraints"] = framework.offer_constraints
    return out


def legacy_agent(agent: AgentRecord, full: bool = False) -> Json:
    used_by_role = by_role(list(agent.tasks.values()))
    offered = agent.offered()
    reserved = agent.total.reserved()
    out: Json = {
        "id": agent.id,
        "hostname": agent.hostname,
        "port": agent.port,
        "attributes": legacy_attributes(agent.attributes),
        "pid": agent.pid,
        "registered_time": agent.registered_time,
    }
    if agent.reregistered_time is not None:
        out["reregistered_time"] = agent.reregistered_time
    out["resources"] = agent.total.summary()
    out["used_resources"] = total_of(used_by_role).summary()
    out["offered_resources"] = offered.summary()
    roles = sorted(reserved.roles())
    out["reserved_resources"] = {r: reserved.only_roles([r]).summary() for r in roles}
    out["unreserved_resources"] = agent.total.only_roles(["*"]).summary()
    out["active"] = agent.state == ACTIVE
    out["deactivated"] = False
    out["version"] = VERSION
    out["capabilities"] = list(AGENT_CAPABILITIES)
    if full:
        out["reserved_resources_full"] = {
            r: reserved.only_roles([r]).to_json(agent_order=True) for r in roles
        }
        out["unreserved_resources_full"] = agent.total.only_roles(["*"]).to_json(agent_order=True)
        out["used_resources_full"] = allocation_json(used_by_role)
        out["offered_resources_full"] = allocation_json(offers_by_role(list(agent.offers.values())))
    return out


def legacy_attributes(attributes: list[Json]) -> Json:
    out: Json = {}
    for attribute in attributes:
        kind = attribute.get("type")
        name = attribute.get("name", "")
        if kind == "TEXT":
            out[name] = attribute.get("text", {}).get("value", "")
        elif kind == "SCALAR":
            out[name] = attribute.get("scalar", {}).get("value", 0.0)
        elif kind == "RANGES":
            ranges = attribute.get("ranges", {}).get("range", [])
            out[name] = "[" + ", ".join(f"{r['begin']}-{r['end']}" for r in ranges) + "]"
        else:
            out[name] = "{" + ",".join(attribute.get("set", {}).get("item", [])) + "}"
    return out


def state_counts(tasks: list[TaskRecord]) -> Json:
    counts = dict.fromkeys(SUMMARY_STATES, 0)
    for task in tasks:
        if task.state in counts:
            counts[task.state] += 1
    return counts
