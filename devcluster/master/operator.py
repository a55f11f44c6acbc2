"""POST /api/v1: the master's v1 operator API (the synchronous calls)."""

from __future__ import annotations

from collections.abc import Callable

from devcluster.interfaces import Json
from devcluster.master import agents, frameworks, metrics, views
from devcluster.master import mesosjson as mj
from devcluster.master.config import BUILD_DATE, BUILD_TIME, VERSION
from devcluster.master.http import (
    check_content_type,
    check_method,
    json_acceptable,
    json_response,
    text_error,
)
from devcluster.master.httpserver import Request, Response
from devcluster.master.master import Master
from devcluster.master.resources import Resources
from devcluster.master.state import ACTIVE, RECOVERING
from devcluster.master.validation import HttpError, parse_body

_BODY_REQUIRED = {"TEARDOWN": "teardown", "MARK_AGENT_GONE": "mark_agent_gone"}


def operator_api(master: Master, request: Request) -> Response:
    try:
        check_method(request, "POST")
        check_content_type(request)
        if not json_acceptable(request.headers.get("Accept")):
            raise HttpError(
                406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"
            )
        call = parse_body(request.body, "MasterCall", strict=master.config.strict)
        kind = call.get("type")
        if kind is None:
            raise HttpError(400, "Failed to validate master::Call: Expecting 'type' to be present")
        body = _BODY_REQUIRED.get(kind)
        if body is not None and body not in call:
            raise HttpError(
                400, f"Failed to validate master::Call: Expecting '{body}' to be present"
            )
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise HttpError(501, f"devcluster does not implement the operator call {kind}")
        result = handler(master, call)
        if result is None:
            return Response(200)
        return json_response({"type": kind, kind.lower(): result})
    except HttpError as error:
        return text_error(error)


def get_tasks(master: Master, call: Json | None = None) -> Json:
    tasks: list[Json] = []
    unreachable: list[Json] = []
    completed: list[Json] = []
    everything = [*master.frameworks.values(), *master.completed_frameworks]
    for framework in everything:
        tasks.extend(views.v1_task(t) for t in framework.tasks.values())
        unreachable.extend(views.v1_task(t) for t in framework.unreachable_tasks.values())
        completed.extend(views.v1_task(t) for t in framework.completed_tasks)
    return {"tasks": tasks, "unreachable_tasks": unreachable, "completed_tasks": completed}


def get_executors(master: Master, call: Json | None = None) -> Json:
    # Command executors are never listed (12-operator); custom executors are.
    seen: dict[tuple[str, str], Json] = {}
    for framework in master.frameworks.values():
        for task in framework.tasks.values():
            executor = task.info.get("executor")
            if executor is not None and not task.terminal:
                key = (task.agent_id, executor["executor_id"]["value"])
                seen[key] = {"executor_info": executor, "agent_id": mj.wrap(task.agent_id)}
    return {"executors": list(seen.values())}


def get_frameworks(master: Master, call: Json | None = None) -> Json:
    return {
        "frameworks": [views.v1_framework(master, f) for f in master.frameworks.values()],
        "completed_frameworks": [
            views.v1_framework(master, f, completed=True) for f in master.completed_frameworks
        ],
    }


def get_agents(master: Master, call: Json | None = None) -> Json:
    listed = [a for a in master.agents.values() if a.state == ACTIVE]
    recovering = [a for a in master.agents.values() if a.state == RECOVERING]
    return {
        "agents": [views.v1_agent(a) for a in listed],
        "recovered_agents": [views.agent_info(a) for a in recovering],
    }


def get_state(master: Master, call: Json | None = None) -> Json:
    return {
        "get_tasks": get_tasks(master),
        "get_executors": get_executors(master),
        "get_frameworks": get_frameworks(master),
        "get_agents": get_agents(master),
    }


def get_master(master: Master, call: Json | None = None) -> Json:
    return {
        "master_info": master.master_info(),
        "start_time": master.start_time,
        "elected_time": master.elected_time,
    }


def get_roles(master: Master, call: Json | None = None) -> Json:
    roles: dict[str, Json] = {}
    for framework in master.frameworks.values():
        for role in framework.roles:
            entry = roles.setdefault(role, _role_entry(role))
            entry["frameworks"].append(mj.wrap(framework.id))
        for role, resources in views.by_role(list(framework.tasks.values())).items():
            roles.setdefault(role, _role_entry(role))["_used"].add(resources)
    out = []
    for role in sorted(roles):
        entry = roles[role]
        used: Resources = entry.pop("_used")
        if not entry["frameworks"]:
            del entry["frameworks"]
        scalars = Resources()
        scalars.scalars = {(n, "*"): v for n, v in used.quantities().items()}
        listed = scalars.to_json(role_field=False)
        if listed:
            entry["resources"] = listed
        out.append(entry)
    return {"roles": out}


def _role_entry(role: str) -> Json:
    return {"name": role, "weight": 1.0, "frameworks": [], "_used": Resources()}


def get_health(master: Master, call: Json | None = None) -> Json:
    return {"healthy": True}


def get_version(master: Master, call: Json | None = None) -> Json:
    return {"version_info": version_info()}


def version_info() -> Json:
    return {
        "version": VERSION,
        "build_date": BUILD_DATE,
        "build_time": BUILD_TIME,
        "build_user": "",
    }


def get_metrics(master: Master, call: Json | None = None) -> Json:
    snapshot = metrics.snapshot(master)
    return {"metrics": [{"name": k, "value": v} for k, v in snapshot.items()]}


def get_flags(master: Master, call: Json | None = None) -> Json:
    return {"flags": [{"name": k, "value": v} for k, v in flags(master).items()]}


def flags(master: Master) -> dict[str, str]:
    config = master.config
    security = config.security
    return {
        "agent_reregister_timeout": f"{config.agent_reregister_timeout:g}secs",
        "allocation_interval": f"{config.allocation_interval:g}secs",
        "authenticate_http_frameworks": str(security.frameworks).lower(),
        "authenticate_http_readonly": str(security.readonly).lower(),
        "authenticate_http_readwrite": str(security.readwrite).lower(),
        "hostname": config.host,
        "ip": config.host,
        "min_allocatable_resources": "cpus:0.01|mem:32",
        "port": str(config.port),
        "root_submissions": "true",
    }


def teardown(master: Master, call: Json) -> None:
    framework_id = call["teardown"]["framework_id"]["value"]
    framework = master.frameworks.get(framework_id)
    if framework is None:
        raise HttpError(400, "No framework found with specified ID")
    frameworks.remove(master, framework)


def mark_agent_gone(master: Master, call: Json) -> None:
    agent_id = call["mark_agent_gone"]["agent_id"]["value"]
    record = master.agents.get(agent_id)
    if record is None:
        raise HttpError(404, f"Agent {agent_id} not found")
    agents.remove(master, record, gone=True)


_HANDLERS: dict[str, Callable[[Master, Json], Json | None]] = {
    "GET_HEALTH": get_health,
    "GET_VERSION": get_version,
    "GET_METRICS": get_metrics,
    "GET_FLAGS": get_flags,
    "GET_STATE": get_state,
    "GET_AGENTS": get_agents,
    "GET_FRAMEWORKS": get_frameworks,
    "GET_TASKS": get_tasks,
    "GET_EXECUTORS": get_executors,
    "GET_MASTER": get_master,
    "GET_ROLES": get_roles,
    "TEARDOWN": teardown,
    "MARK_AGENT_GONE": mark_agent_gone,
}
