"""The legacy GET endpoints: /master/state, /master/tasks, /metrics/snapshot, /redirect ..."""

from __future__ import annotations

from devcluster.interfaces import Json
from devcluster.master import metrics, views
from devcluster.master.config import BUILD_DATE, BUILD_TIME, VERSION
from devcluster.master.http import json_response, redirect_location
from devcluster.master.http import redirect as redirect_response
from devcluster.master.httpserver import Request, Response, text
from devcluster.master.master import MASTER_CAPABILITIES, Master
from devcluster.master.operator import flags
from devcluster.master.state import (
    ACTIVE,
    RECOVERING,
    REMOVED,
    UNREACHABLE,
    FrameworkRecord,
    TaskRecord,
)

DEFAULT_TASK_LIMIT = 100


def _jsonp(request: Request) -> str | None:
    return request.query.get("jsonp")


def state(master: Master, request: Request) -> Response:
    agents = list(master.agents.values())
    body: Json = {
        **version_body(),
        "start_time": master.start_time,
        "elected_time": master.elected_time,
        "id": master.id,
        "pid": master.pid,
        "hostname": master.config.host,
        "capabilities": [c["type"] for c in MASTER_CAPABILITIES],
        "activated_slaves": float(sum(1 for a in agents if a.state == ACTIVE)),
        "deactivated_slaves": 0.0,
        "unreachable_slaves": float(sum(1 for a in agents if a.state == UNREACHABLE)),
        "leader": master.pid,
        "leader_info": {
            "id": master.id,
            "pid": master.pid,
            "port": master.config.port,
            "hostname": master.config.host,
        },
        "flags": flags(master),
        # Only registered agents are listed; unreachable ones are just counted.
        "slaves": [views.legacy_agent(a) for a in agents if a.state == ACTIVE],
        "recovered_slaves": [views.agent_info(a) for a in agents if a.state == RECOVERING],
        "frameworks": [views.legacy_framework(f) for f in master.frameworks.values()],
        "completed_frameworks": [
            views.legacy_framework(f, completed=True) for f in master.completed_frameworks
        ],
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    }
    return json_response(body, jsonp=_jsonp(request))


def version_body() -> Json:
    return {
        "version": VERSION,
        "build_date": BUILD_DATE,
        "build_time": BUILD_TIME,
        "build_user": "",
    }


def state_summary(master: Master, request: Request) -> Response:
    # Counts cover the frameworks the master still has, not completed ones (13-legacy).
    all_tasks = [t for f in master.frameworks.values() for t in _tasks_of(f)]
    slaves = []
    for agent in master.agents.values():
        if agent.state != ACTIVE:
            continue
        mine = [t for t in all_tasks if t.agent_id == agent.id]
        item = views.legacy_agent(agent)
        item.update(views.state_counts(mine))
        item["framework_ids"] = sorted({t.framework_id for t in mine})
        slaves.append(item)
    frameworks = []
    for framework in master.frameworks.values():
        mine = _tasks_of(framework)
        item = views.legacy_framework_summary(framework)
        item.update(views.state_counts(mine))
        item["slave_ids"] = sorted({t.agent_id for t in mine})
        frameworks.append(item)
    body = {"hostname": master.config.host, "slaves": slaves, "frameworks": frameworks}
    return json_response(body, jsonp=_jsonp(request))


def _tasks_of(framework: FrameworkRecord) -> list[TaskRecord]:
    return [
        *framework.tasks.values(),
        *framework.unreachable_tasks.values(),
        *framework.completed_tasks,
    ]


def frameworks(master: Master, request: Request) -> Response:
    wanted = request.query.get("framework_id")
    active = [f for f in master.frameworks.values() if wanted in (None, f.id)]
    completed = [f for f in master.completed_frameworks if wanted in (None, f.id)]
    body = {
        "frameworks": [views.legacy_framework(f) for f in active],
        "completed_frameworks": [views.legacy_framework(f, completed=True) for f in completed],
        "unregistered_frameworks": [],
    }
    return json_response(body, jsonp=_jsonp(request))


def slaves(master: Master, request: Request) -> Response:
    wanted = request.query.get("slave_id")
    listed = [a for a in master.agents.values() if a.state == ACTIVE and wanted in (None, a.id)]
    recovered = [a for a in master.agents.values() if a.state == RECOVERING]
    body = {
        "slaves": [views.legacy_agent(a, full=True) for a in listed],
        "recovered_slaves": [views.agent_info(a) for a in recovered],
    }
    return json_response(body, jsonp=_jsonp(request))


def tasks(master: Master, request: Request) -> Response:
    query = request.query
    try:
        limit = int(query.get("limit", DEFAULT_TASK_LIMIT))
        offset = int(query.get("offset", 0))
    except ValueError:
        return text(400, "Failed to parse 'limit' or 'offset': not a number")
    order = query.get("order", "des")
    framework_id, task_id = query.get("framework_id"), query.get("task_id")
    found: list[TaskRecord] = []
    for framework in [*master.frameworks.values(), *master.completed_frameworks]:
        if framework_id in (None, framework.id):
            found.extend(t for t in _tasks_of(framework) if task_id in (None, t.id))
    found.sort(key=_started, reverse=order != "asc")
    page = found[max(offset, 0) : max(offset, 0) + max(limit, 0)]
    return json_response({"tasks": [views.legacy_task(t) for t in page]}, jsonp=_jsonp(request))


def _started(task: TaskRecord) -> float:
    return float(task.statuses[0].get("timestamp", 0.0)) if task.statuses else float("inf")


def roles(master: Master, request: Request) -> Response:
    entries = _role_usage(master)
    out = []
    for role in sorted(entries):
        entry = entries[role]
        entry["quota"]["consumed"] = dict(entry["allocated"])
        entry["resources"] = dict(entry["allocated"])
        _add(entry["resources"], entry["offered"])
        out.append({key: entry[key] for key in _ROLE_KEYS})
    return json_response({"roles": out}, jsonp=_jsonp(request))


_ROLE_KEYS = (
    "name",
    "weight",
    "quota",
    "resources",
    "allocated",
    "offered",
    "reserved",
    "frameworks",
)


def _role_usage(master: Master) -> dict[str, Json]:
    entries: dict[str, Json] = {}

    def entry(role: str) -> Json:
        return entries.setdefault(role, _role(role))

    for framework in master.frameworks.values():
        for role in framework.roles:
            entry(role)["frameworks"].append(framework.id)
        for role, used in views.by_role(list(framework.tasks.values())).items():
            _add(entry(role)["allocated"], used.quantities())
        for offer in framework.offers.values():
            _add(entry(offer.role)["offered"], offer.resources.quantities())
    for agent in master.agents.values():
        if agent.state != REMOVED:
            reserved = agent.total.reserved()
            for role in reserved.roles():
                _add(entry(role)["reserved"], reserved.only_roles([role]).quantities())
    return entries


def _role(role: str) -> Json:
    return {
        "name": role,
        "weight": 1.0,
        "quota": {"role": role, "guarantee": {}, "limit": {}, "consumed": {}},
        "allocated": {},
        "offered": {},
        "reserved": {},
        "frameworks": [],
    }


def _add(into: dict[str, float], amounts: dict[str, float]) -> None:
    for name, amount in amounts.items():
        if amount:
            into[name] = round(into.get(name, 0.0) + amount, 3)


def metrics_snapshot(master: Master, request: Request) -> Response:
    return json_response(metrics.snapshot(master), jsonp=_jsonp(request))


def version(master: Master, request: Request) -> Response:
    body = version_body()
    return json_response({k: body[k] for k in sorted(body)}, jsonp=_jsonp(request))


def health(master: Master, request: Request) -> Response:
    return Response(200)


def redirect(master: Master, request: Request) -> Response:
    """307 to the leading master, with no path: //host:port."""
    leader = master.config.leader or f"{master.config.host}:{master.config.port}"
    return redirect_response(redirect_location(leader))


def files_debug(master: Master, request: Request) -> Response:
    return json_response({})
