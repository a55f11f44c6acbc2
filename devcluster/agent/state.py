"""The agent's state in the shapes Mesos writes: legacy /state (v0 names, summary maps)
and the v1 operator API (GET_STATE, GET_TASKS, GET_EXECUTORS, GET_FRAMEWORKS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devcluster.agent.task import EXECUTOR_CPUS, EXECUTOR_MEM_MB, TaskRecord, executor_name
from devcluster.interfaces import Json

if TYPE_CHECKING:
    from devcluster.agent.agent import Agent, FrameworkRecord

VERSION = "1.12.0"
BUILD_DATE = "2026-01-01 00:00:00"
BUILD_TIME = 1767225600.0
BUILD_USER = "devcluster"
CAPABILITIES = [
    "MULTI_ROLE",
    "HIERARCHICAL_ROLE",
    "RESERVATION_REFINEMENT",
    "RESOURCE_PROVIDER",
    "RESIZE_VOLUME",
    "AGENT_OPERATION_FEEDBACK",
    "AGENT_DRAINING",
    "TASK_RESOURCE_LIMITS",
]


def version() -> Json:
    return {
        "build_date": BUILD_DATE,
        "build_time": BUILD_TIME,
        "build_user": BUILD_USER,
        "version": VERSION,
    }


def ports_text(ranges: tuple[tuple[int, int], ...] | list[tuple[int, int]]) -> str:
    return "[" + ", ".join(f"{begin}-{end}" for begin, end in ranges) + "]"


def _task_ports(task_info: Json) -> list[tuple[int, int]]:
    ranges = []
    for resource in task_info.get("resources", []):
        if resource.get("name") == "ports":
            for item in (resource.get("ranges") or {}).get("range", []):
                ranges.append((int(item["begin"]), int(item["end"])))
    return ranges


def _with_ports(summary: dict[str, float], ports: list[tuple[int, int]]) -> Json:
    return {**summary, "ports": ports_text(ports)} if ports else dict(summary)


def _reserved(agent: Agent) -> dict[str, Json]:
    return {
        role: {
            "disk": float(amounts.get("disk", 0.0)),
            "mem": float(amounts.get("mem", 0.0)),
            "gpus": float(amounts.get("gpus", 0.0)),
            "cpus": float(amounts.get("cpus", 0.0)),
        }
        for role, amounts in agent.config.reservations.items()
    }


def _unreserved(agent: Agent) -> dict[str, float]:
    left = agent.total_resources()
    for amounts in _reserved(agent).values():
        for name, value in amounts.items():
            left[name] = round(left[name] - value, 3)
    return left


def _scalar(name: str, value: float, role: str) -> Json:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}, "role": role}


def _full(summary: dict[str, float], role: str, ports: tuple[tuple[int, int], ...]) -> list[Json]:
    resources = [_scalar(name, summary[name], role) for name in ("cpus", "mem", "disk")]
    if summary.get("gpus"):
        resources.append(_scalar("gpus", summary["gpus"], role))
    if ports:
        ranges = [{"begin": begin, "end": end} for begin, end in ports]
        resources.append(
            {"name": "ports", "type": "RANGES", "ranges": {"range": ranges}, "role": role}
        )
    return resources


def attributes_map(attributes: tuple[Json, ...]) -> Json:
    result: Json = {}
    for attribute in attributes:
        if attribute.get("type") == "SCALAR":
            result[attribute["name"]] = attribute.get("scalar", {}).get("value")
        elif attribute.get("type") == "TEXT":
            result[attribute["name"]] = attribute.get("text", {}).get("value")
        elif attribute.get("type") == "RANGES":
            ranges = attribute.get("ranges", {}).get("range", [])
            result[attribute["name"]] = ports_text([(r["begin"], r["end"]) for r in ranges])
        elif attribute.get("type") == "SET":
            result[attribute["name"]] = (
                "{" + ",".join(attribute.get("set", {}).get("item", [])) + "}"
            )
    return result


def pid(agent: Agent) -> str:
    return f"slave(1)@{agent.ip}:{agent.port}"


def flags(agent: Agent) -> Json:
    config = agent.config
    resources = f"cpus:{config.cpus:g};mem:{config.mem:g};disk:{config.disk:g}"
    if config.ports:
        resources += ";ports:" + ports_text(config.ports)
    return {
        "containerizers": "docker,mesos" if agent.docker_engine else "mesos",
        "default_role": "*",
        "docker": "docker",
        "docker_stop_timeout": "0ns",
        "executor_shutdown_grace_period": "5secs",
        "hostname": config.hostname,
        "http_command_executor": "false",
        "ip": agent.ip,
        "isolation": "posix/cpu,posix/mem",
        "launcher": "posix",
        "max_completed_executors_per_framework": "150",
        "port": str(agent.port),
        "resources": resources,
        "sandbox_directory": "/mnt/mesos/sandbox",
        "strict": "true",
        "work_dir": str(config.work_dir),
    }


def legacy_state(agent: Agent) -> Json:
    config = agent.config
    used = agent.used_resources()
    live = [fw for fw in agent.frameworks.values() if fw.live]
    done = [fw for fw in agent.frameworks.values() if not fw.live]
    return {
        "version": VERSION,
        "build_date": BUILD_DATE,
        "build_time": BUILD_TIME,
        "build_user": BUILD_USER,
        "start_time": agent.start_time,
        "id": config.agent_id,
        "pid": pid(agent),
        "hostname": config.hostname,
        "capabilities": CAPABILITIES,
        "resources": _with_ports(agent.total_resources(), list(config.ports)),
        "reserved_resources": _reserved(agent),
        "unreserved_resources": _with_ports(_unreserved(agent), list(config.ports)),
        "reserved_resources_full": {
            role: _full(summary, role, ()) for role, summary in _reserved(agent).items()
        },
        "unreserved_resources_full": _full(_unreserved(agent), "*", config.ports),
        "reserved_resources_allocated": {},
        "unreserved_resources_allocated": used,
        "resource_providers": [],
        "attributes": attributes_map(config.attributes),
        "master_hostname": "localhost",
        "flags": flags(agent),
        "frameworks": [legacy_framework(agent, fw) for fw in live],
        "completed_frameworks": [legacy_framework(agent, fw) for fw in done],
    }


def legacy_framework(agent: Agent, framework: FrameworkRecord) -> Json:
    info = framework.info
    result: Json = {
        "id": framework.framework_id,
        "name": info.get("name", ""),
        "user": info.get("user", ""),
        "failover_timeout": float(info.get("failover_timeout", 0.0)),
        "checkpoint": bool(info.get("checkpoint", False)),
        "hostname": info.get("hostname", ""),
    }
    if any(c.get("type") == "MULTI_ROLE" for c in info.get("capabilities", [])):
        result["roles"] = list(info.get("roles", ["*"]))
    else:
        result["role"] = info.get("role", "*")
    result["executors"] = [legacy_executor(agent, r) for r in framework.live.values()]
    result["completed_executors"] = [legacy_executor(agent, r) for r in framework.completed]
    return result


def legacy_executor(agent: Agent, record: TaskRecord) -> Json:
    completed = agent.live_record(record.framework_id, record.task_id) is not record
    resources = {"disk": 0.0, "mem": EXECUTOR_MEM_MB, "gpus": 0.0, "cpus": EXECUTOR_CPUS}
    if not completed:
        # A running command executor accounts for its task too (13-legacy: 0.5 + 0.1 cpus).
        for name, value in record.resources().items():
            resources[name] = round(resources[name] + value, 3)
    task = legacy_task(record)
    return {
        "id": record.task_id,
        "name": executor_name(record.task_info),
        "source": record.task_id,
        "container": record.container_id,
        "directory": agent.sandbox_directory(record),
        "resources": resources,
        "role": record.launched.role,
        "tasks": [] if completed else [task],
        "queued_tasks": [],
        "completed_tasks": [task] if completed else [],
    }


def legacy_task(record: TaskRecord) -> Json:
    info = record.task_info
    result: Json = {
        "id": record.task_id,
        "name": info.get("name", record.task_id),
        "framework_id": record.framework_id,
        "executor_id": "",
        "slave_id": record.agent_id,
        "state": record.state,
        "resources": _with_ports(record.resources(), _task_ports(info)),
        "role": record.launched.role,
        "statuses": [_legacy_status(status) for status in record.status_list()],
    }
    labels = (info.get("labels") or {}).get("labels")
    if labels:
        result["labels"] = labels
    for key in ("discovery", "container", "health_check"):
        if key in info:
            result[key] = info[key]
    return result


def _legacy_status(status: Json) -> Json:
    container_status = {k: v for k, v in status["container_status"].items() if k != "executor_pid"}
    entry: Json = {
        "state": status["state"],
        "timestamp": status["timestamp"],
        "container_status": container_status,
    }
    if "healthy" in status:
        entry["healthy"] = status["healthy"]
    return entry


def v1_task(record: TaskRecord) -> Json:
    info = record.task_info
    statuses = record.status_list()
    result: Json = {
        "name": info.get("name", record.task_id),
        "task_id": {"value": record.task_id},
        "framework_id": {"value": record.framework_id},
        "agent_id": {"value": record.agent_id},
        "state": record.state,
        "resources": info.get("resources", []),
        "statuses": statuses,
    }
    latest = record.stream.head or (statuses[-1] if statuses else None)
    if latest is not None:
        result["status_update_state"] = latest["state"]
        result["status_update_uuid"] = latest["uuid"]
    for key in ("labels", "discovery", "container", "health_check", "kill_policy", "limits"):
        if key in info:
            result[key] = info[key]
    return result


def v1_executor_info(record: TaskRecord) -> Json:
    return {
        "executor_id": {"value": record.task_id},
        "framework_id": {"value": record.framework_id},
        "name": executor_name(record.task_info),
        "source": record.task_id,
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": EXECUTOR_CPUS}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": EXECUTOR_MEM_MB}},
        ],
    }


def v1_framework_info(framework: FrameworkRecord) -> Json:
    return {**framework.info, "id": {"value": framework.framework_id}}


def get_tasks(agent: Agent) -> Json:
    launched: list[Json] = []
    terminated: list[Json] = []
    completed: list[Json] = []
    for framework in agent.frameworks.values():
        for record in framework.live.values():
            (terminated if record.terminal else launched).append(v1_task(record))
        completed.extend(v1_task(record) for record in framework.completed)
    return {
        "pending_tasks": [],
        "queued_tasks": [],
        "launched_tasks": launched,
        "terminated_tasks": terminated,
        "completed_tasks": completed,
    }


def get_executors(agent: Agent) -> Json:
    executors: list[Json] = []
    completed: list[Json] = []
    for framework in agent.frameworks.values():
        executors.extend({"executor_info": v1_executor_info(r)} for r in framework.live.values())
        completed.extend({"executor_info": v1_executor_info(r)} for r in framework.completed)
    return {"executors": executors, "completed_executors": completed}


def get_frameworks(agent: Agent) -> Json:
    frameworks = agent.frameworks.values()
    return {
        "frameworks": [{"framework_info": v1_framework_info(fw)} for fw in frameworks if fw.live],
        "completed_frameworks": [
            {"framework_info": v1_framework_info(fw)} for fw in frameworks if not fw.live
        ],
    }


def get_state(agent: Agent) -> Json:
    return {
        "get_tasks": get_tasks(agent),
        "get_executors": get_executors(agent),
        "get_frameworks": get_frameworks(agent),
    }
