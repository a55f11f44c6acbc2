"""ACCEPT and DECLINE: offer validation, task validation, launching, what is left over.

Problems never fail the call (it is already 202); they come back as UPDATE events made by
the master, with the real master's texts (05-launch-errors).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from devcluster.interfaces import Json, LaunchedTask
from devcluster.master import mesosjson as mj
from devcluster.master.resources import (
    ResourceError,
    Resources,
    describe_request,
    offered_reservation,
    parse_resource,
    parse_resources,
)
from devcluster.master.state import ACTIVE, AgentRecord, FrameworkRecord, Offer
from devcluster.master.validation import validate_id

if TYPE_CHECKING:
    from devcluster.master.master import Master

log = logging.getLogger(__name__)


def decline(master: Master, framework: FrameworkRecord, body: Json) -> None:
    for offer_id in _offer_ids(body):
        offer = master.offers.get(offer_id)
        if offer is None or offer.framework_id != framework.id:
            continue  # Mesos only logs a decline of an unknown offer
        master.take_offer(offer)
        master.recover(offer.agent_id, offer.resources)
        master.allocator.refuse(framework, offer, offer.resources, body.get("filters"))
        master.counters["offers_declined"] += 1


def accept(master: Master, framework: FrameworkRecord, body: Json) -> None:
    offer_ids = _offer_ids(body)
    operations = body.get("operations", [])
    offers, error = _claim_offers(master, framework, offer_ids)
    if error is not None:
        for offer in offers:
            master.take_offer(offer)
            master.recover(offer.agent_id, offer.resources)
        _refuse_launches(
            master, framework, operations, f"Task launched with invalid offers: {error}"
        )
        return
    agent = master.agents[offers[0].agent_id]
    role = offers[0].role
    available = Resources()
    for offer in offers:
        master.take_offer(offer)
        available.add(offer.resources)
    master.counters["offers_accepted"] += len(offers)
    for operation in operations:
        _apply(master, framework, agent, role, available, operation)
    master.recover(agent.id, available)
    master.allocator.refuse(framework, offers[0], available, body.get("filters"))


def _offer_ids(body: Json) -> list[str]:
    return [mj.value_of(o) or "" for o in body.get("offer_ids", [])]


def _claim_offers(
    master: Master, framework: FrameworkRecord, offer_ids: list[str]
) -> tuple[list[Offer], str | None]:
    """validation::offer::validate: unique ids, known, ours, one agent, one role."""
    if not offer_ids:
        return [], "No offers specified"
    seen: set[str] = set()
    offers: list[Offer] = []
    for offer_id in offer_ids:
        if offer_id in seen:
            return offers, f"Duplicate offer {offer_id} in the same call"
        seen.add(offer_id)
        offer = master.offers.get(offer_id)
        if offer is None:
            return offers, f"Offer {offer_id} is no longer valid"
        if offer.framework_id != framework.id:
            return offers, (
                f"Offer {offer_id} has invalid framework {offer.framework_id} "
                f"while framework {framework.id} is expected"
            )
        offers.append(offer)
    first = offers[0]
    for offer in offers[1:]:
        if offer.agent_id != first.agent_id:
            return offers, (
                "Aggregated offers must belong to one single agent. Offer "
                f"{offer.id} uses agent {offer.agent_id} and offer {first.id} uses agent "
                f"{first.agent_id}"
            )
        if offer.role != first.role:
            return offers, (
                "Aggregated offers must be allocated to the same role. Offer "
                f"{offer.id} uses role {offer.role} and offer {first.id} uses role {first.role}"
            )
    agent = master.agents.get(first.agent_id)
    if agent is None or agent.state != ACTIVE:
        return offers, f"Offer {first.id} is no longer valid"
    return offers, None


def _launch_tasks(operation: Json) -> list[Json]:
    if operation.get("type") == "LAUNCH":
        return list(operation.get("launch", {}).get("task_infos", []))
    if operation.get("type") == "LAUNCH_GROUP":
        return list(operation.get("launch_group", {}).get("task_group", {}).get("tasks", []))
    return []


def _refuse_launches(
    master: Master, framework: FrameworkRecord, operations: list[Json], message: str
) -> None:
    state = "TASK_DROPPED" if framework.partition_aware else "TASK_LOST"
    for operation in operations:
        for task in _launch_tasks(operation):
            status = master.master_status(
                mj.value_of(task.get("task_id")) or "",
                state,
                message,
                "REASON_INVALID_OFFERS",
                mj.value_of(task.get("agent_id")),
            )
            master.counters[state] += 1
            master.send_update(framework, status)


def _apply(
    master: Master,
    framework: FrameworkRecord,
    agent: AgentRecord,
    role: str,
    available: Resources,
    operation: Json,
) -> None:
    kind = operation.get("type")
    if "id" in operation and kind in {"LAUNCH", "LAUNCH_GROUP"}:
        _error_all(master, framework, operation, "An operation ID was set on a LAUNCH")
        return
    if kind == "LAUNCH":
        for task in operation.get("launch", {}).get("task_infos", []):
            _launch_one(master, framework, agent, role, available, task)
    elif kind == "LAUNCH_GROUP":
        _launch_group(master, framework, agent, role, available, operation["launch_group"])
    else:
        # RESERVE, CREATE and the like need no feedback without an operation id; their
        # resources stay in the remainder.
        log.info("framework %s: %s operations are not supported; ignored", framework.id, kind)


def _error_all(master: Master, framework: FrameworkRecord, operation: Json, message: str) -> None:
    for task in _launch_tasks(operation):
        _task_error(master, framework, task, message, "REASON_TASK_INVALID")


def _task_error(
    master: Master, framework: FrameworkRecord, task: Json, message: str, reason: str
) -> None:
    status = master.master_status(
        mj.value_of(task.get("task_id")) or "",
        "TASK_ERROR",
        message,
        reason,
        mj.value_of(task.get("agent_id")),
    )
    master.counters["TASK_ERROR"] += 1
    master.send_update(framework, status)


def _launch_one(
    master: Master,
    framework: FrameworkRecord,
    agent: AgentRecord,
    role: str,
    available: Resources,
    task: Json,
) -> None:
    error = validate_task(framework, agent, task)
    needed: Resources | None = None
    if error is None:
        needed, error = task_resources(task, role, available)
    if error is not None or needed is None:
        _task_error(master, framework, task, error or "Invalid task", "REASON_TASK_INVALID")
        return
    available.subtract(needed)
    master.add_task(framework, agent, task, role, needed)
    agent.api.launch(LaunchedTask(framework.id, framework.info, task, role))


def _launch_group(
    master: Master,
    framework: FrameworkRecord,
    agent: AgentRecord,
    role: str,
    available: Resources,
    body: Json,
) -> None:
    tasks = body.get("task_group", {}).get("tasks", [])
    error = _group_error(framework, agent, body["executor"], tasks)
    requested: list[Json] = [*body["executor"].get("resources", [])]
    for task in tasks:
        requested.extend(task.get("resources", []))
    needed: Resources | None = None
    if error is None:
        needed, error = _contained(requested, role, available, "task group")
    if error is not None or needed is None:
        for task in tasks:
            _task_error(master, framework, task, error or "", "REASON_TASK_GROUP_INVALID")
        return
    available.subtract(needed)
    for task in tasks:
        own = Resources()
        for resource in task.get("resources", []):
            own.add(parse_resource(resource)[1])
        master.add_task(framework, agent, task, role, own)
        launched = {**task, "executor": body["executor"]}
        agent.api.launch(LaunchedTask(framework.id, framework.info, launched, role))


def _group_error(
    framework: FrameworkRecord, agent: AgentRecord, executor: Json, tasks: list[Json]
) -> str | None:
    if not tasks:
        return "Task group is empty"
    error = validate_id(mj.value_of(executor.get("executor_id")) or "")
    if error is not None:
        return f"Executor ID is invalid: {error}"
    if executor.get("type") != "DEFAULT":
        return "'ExecutorInfo.type' must be 'DEFAULT' for a task group"
    for task in tasks:
        if "executor" in task:
            return f"'TaskInfo.executor' must not be set for task '{task['task_id']['value']}'"
        error = validate_task(framework, agent, task, require_command=False)
        if error is not None:
            return error
    ids = [task["task_id"]["value"] for task in tasks]
    if len(set(ids)) != len(ids):
        return "Task group has duplicate task IDs"
    return None


def validate_task(
    framework: FrameworkRecord, agent: AgentRecord, task: Json, *, require_command: bool = True
) -> str | None:
    """task::internal::validateTask and validateExecutor, in the master's order."""
    task_id = task["task_id"]["value"]
    checks: tuple[Callable[[], str | None], ...] = (
        lambda: validate_id(task_id),
        lambda: _unique(framework, task_id),
        lambda: _same_agent(task, agent),
        lambda: _non_negative(
            task.get("kill_policy", {}).get("grace_period"), "kill_policy.grace_period"
        ),
        lambda: _non_negative(task.get("max_completion_time"), "max_completion_time"),
        lambda: _health_check(task.get("health_check")),
        lambda: _resources_present(task),
        lambda: _command(task.get("command")),
        lambda: _container(task.get("container")),
        lambda: _limits(task),
        lambda: _executor_choice(task) if require_command else None,
    )
    for check in checks:
        error = check()
        if error is not None:
            return error
    return None


def _unique(framework: FrameworkRecord, task_id: str) -> str | None:
    if task_id in framework.tasks or task_id in framework.unreachable_tasks:
        return f"Task has duplicate ID: {task_id}"
    return None


def _same_agent(task: Json, agent: AgentRecord) -> str | None:
    agent_id = task["agent_id"]["value"]
    if agent_id != agent.id:
        return f"Task uses invalid agent {agent_id} while agent {agent.id} is expected"
    return None


def _non_negative(duration: Json | None, name: str) -> str | None:
    if duration is not None and duration.get("nanoseconds", 0) < 0:
        return f"Task's '{name}' must be non-negative"
    return None


def _health_check(check: Json | None) -> str | None:
    if check is None:
        return None
    kind = check.get("type")
    if kind is None:
        return "Task uses invalid health check: HealthCheck must specify 'type'"
    needs = {"COMMAND": "command", "HTTP": "http", "TCP": "tcp"}.get(kind)
    if needs is not None and needs not in check:
        return (
            f"Task uses invalid health check: Expecting '{needs}' to be set for {kind} health check"
        )
    for name in ("delay_seconds", "interval_seconds", "timeout_seconds", "grace_period_seconds"):
        if check.get(name, 0.0) < 0:
            return f"Task uses invalid health check: Expecting '{name}' to be non-negative"
    http = check.get("http", {})
    prefix = "Task uses invalid health check: "
    if http.get("scheme", "http") not in {"http", "https"}:
        return f"{prefix}Unsupported HTTP health check scheme: '{http['scheme']}'"
    if "path" in http and not http["path"].startswith("/"):
        return f"{prefix}The path '{http['path']}' of HTTP health check must start with '/'"
    return None


def _resources_present(task: Json) -> str | None:
    if not task.get("resources"):
        return "Task uses no resources"
    for resource in task["resources"]:
        try:
            parse_resource(resource)
        except ResourceError as error:
            return f"Task uses invalid resources: {error}"
        if resource.get("name") == "gpus" and resource.get("scalar", {}).get("value", 0) % 1:
            return "Task uses invalid resources: gpus must be a whole number"
    return None


def _command(command: Json | None) -> str | None:
    if command is None:
        return None
    if command.get("shell", True) and "value" not in command:
        return "Task's command is invalid: 'CommandInfo.value' must be set when 'shell' is true"
    for variable in command.get("environment", {}).get("variables", []):
        kind = variable.get("type", "VALUE")
        if kind == "VALUE" and "value" not in variable:
            return (
                f"Environment variable '{variable['name']}' of type 'VALUE' must have a value set"
            )
        if kind == "SECRET" and "secret" not in variable:
            return (
                f"Environment variable '{variable['name']}' of type 'SECRET' must have a secret set"
            )
    return None


def _container(container: Json | None) -> str | None:
    if container is None:
        return None
    if container["type"] == "DOCKER" and "docker" not in container:
        return "DockerInfo 'docker' is not set for DOCKER typed ContainerInfo"
    if container["type"] == "MESOS" and "docker" in container:
        return "ContainerInfo 'docker' is set but the container type is MESOS"
    return None


def _limits(task: Json) -> str | None:
    limits = task.get("limits") or {}
    # One request may come in several parts (reserved and unreserved cpus): the sum counts.
    # _resources_present has already refused resources that do not parse.
    requests = parse_resources(task.get("resources", [])).quantities()
    for name, limit in limits.items():
        if name not in {"cpus", "mem"}:
            return f"Resource limits may only be set for 'cpus' and 'mem', not '{name}'"
        if name not in requests:
            return f"Resource limit for '{name}' is set but the task does not request '{name}'"
        if limit.get("value", 0.0) < requests[name]:
            return f"Resource limit for '{name}' must be at least its request"
    return None


def _executor_choice(task: Json) -> str | None:
    if ("command" in task) == ("executor" in task):
        return "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
    executor = task.get("executor")
    if executor is not None:
        error = validate_id(executor["executor_id"]["value"])
        if error is not None:
            return f"Executor ID is invalid: {error}"
        if executor.get("type") == "DEFAULT":
            return "'ExecutorInfo.type' must be 'CUSTOM' for a task launched with LAUNCH"
        if "command" not in executor:
            return "'ExecutorInfo.command' must be set for a 'CUSTOM' executor"
    return None


def task_resources(
    task: Json, role: str, available: Resources
) -> tuple[Resources | None, str | None]:
    """validateResourceUsage: the task (and a custom executor) must fit what is left."""
    requested = [*task.get("resources", [])]
    requested.extend(task.get("executor", {}).get("resources", []))
    return _contained(requested, role, available, "task")


def _contained(
    requested: list[Json], role: str, available: Resources, what: str
) -> tuple[Resources | None, str | None]:
    needed = Resources()
    fits = True
    for resource in requested:
        try:
            needed.add(parse_resource(resource)[1])
        except ResourceError as error:
            return None, f"Task uses invalid resources: {error}"
        info = resource.get("allocation_info")
        if isinstance(info, dict) and info.get("role", role) != role:
            fits = False  # allocated to another role: not part of this offer
        if not offered_reservation(resource):
            fits = False
    if fits and available.contains(needed):
        return needed, None
    return None, (
        f"Total resources {describe_request(requested, role)} required by {what} and its "
        f"executor is more than available {available.describe(role)}"
    )
