"""Fault controls, devcluster only: POST /devcluster/... (GET /devcluster lists them).

None of these exist on a real master; they let tests provoke what real clusters do to a
framework: agents vanishing or partitioned, a master failing over, a dropped subscription,
missing heartbeats.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from devcluster.master import agents, recordio
from devcluster.master.http import json_response
from devcluster.master.httpserver import Request, Response, Router, text
from devcluster.master.master import Master
from devcluster.master.state import AgentRecord

ENDPOINTS = {
    "POST /devcluster/agents/{agent_id}/remove[?gone=1]": (
        "remove an agent for good: its tasks become TASK_GONE (TASK_GONE_BY_OPERATOR with "
        "gone=1; TASK_LOST without PARTITION_AWARE), offers are rescinded, FAILURE is sent"
    ),
    "POST /devcluster/agents/{agent_id}/partition": (
        "make an agent unreachable: tasks become TASK_UNREACHABLE (TASK_LOST without "
        "PARTITION_AWARE), offers are rescinded, FAILURE is sent; its updates are held"
    ),
    "POST /devcluster/agents/{agent_id}/heal": (
        "let a partitioned agent re-register with the tasks it still runs"
    ),
    "POST /devcluster/master/restart[?agent_delay=SECONDS]": (
        "fail the master over in place: new master id, every stream dropped, all state "
        "forgotten; agents re-register after agent_delay seconds with their running tasks"
    ),
    "POST /devcluster/frameworks/{framework_id}/drop": (
        "drop a framework's subscription connection, as a network failure would"
    ),
    "POST /devcluster/frameworks/{framework_id}/inject": (
        "put the request body, as is, into the framework's event stream as one RecordIO "
        "record (a malformed or unknown event, as a buggy or newer master might send)"
    ),
    "POST /devcluster/heartbeats/stop[?framework_id=ID]": "stop sending HEARTBEAT events",
    "POST /devcluster/heartbeats/resume[?framework_id=ID]": "send HEARTBEAT events again",
}


def _not_found(what: str) -> Response:
    return text(404, what)


def _agent(master: Master, request: Request) -> AgentRecord | None:
    return master.agents.get(request.match_info["agent_id"])


def index(master: Master, request: Request) -> Response:
    body = {
        "master_id": master.id,
        "agents": [
            {"id": a.id, "hostname": a.hostname, "port": a.port, "state": a.state}
            for a in master.agents.values()
        ],
        "endpoints": ENDPOINTS,
    }
    return json_response(body)


async def remove_agent(master: Master, request: Request) -> Response:
    record = _agent(master, request)
    if record is None:
        return _not_found(f"No agent {request.match_info['agent_id']}")
    agents.remove(master, record, gone=request.query.get("gone") in {"1", "true"})
    await record.api.stop()
    return json_response({"agent_id": record.id, "state": record.state})


def partition_agent(master: Master, request: Request) -> Response:
    record = _agent(master, request)
    if record is None:
        return _not_found(f"No agent {request.match_info['agent_id']}")
    agents.partition(master, record)
    return json_response({"agent_id": record.id, "state": record.state})


def heal_agent(master: Master, request: Request) -> Response:
    record = _agent(master, request)
    if record is None:
        return _not_found(f"No agent {request.match_info['agent_id']}")
    agents.reregister(master, record)
    return json_response({"agent_id": record.id, "state": record.state})


async def restart_master(master: Master, request: Request) -> Response:
    try:
        delay = float(request.query.get("agent_delay", "0"))
    except ValueError:
        return text(400, "agent_delay must be a number of seconds")
    await agents.restart_master(master, max(delay, 0.0))
    return json_response({"master_id": master.id})


def drop_framework(master: Master, request: Request) -> Response:
    framework = master.frameworks.get(request.match_info["framework_id"])
    if framework is None or framework.stream is None:
        return _not_found(f"No subscribed framework {request.match_info['framework_id']}")
    framework.stream.abort()
    return json_response({"framework_id": framework.id, "connected": framework.connected})


def inject_record(master: Master, request: Request) -> Response:
    framework = master.frameworks.get(request.match_info["framework_id"])
    if framework is None or framework.stream is None:
        return _not_found(f"No subscribed framework {request.match_info['framework_id']}")
    if not request.body:
        return text(400, "the body is the record to inject")
    framework.stream.send_raw(recordio.encode(request.body))
    return json_response({"framework_id": framework.id, "bytes": len(request.body)})


def stop_heartbeats(master: Master, request: Request) -> Response:
    master.heartbeats_paused.add(request.query.get("framework_id", "*"))
    return json_response({"paused": sorted(master.heartbeats_paused)})


def resume_heartbeats(master: Master, request: Request) -> Response:
    wanted = request.query.get("framework_id")
    if wanted is None:
        master.heartbeats_paused.clear()
    else:
        master.heartbeats_paused.discard(wanted)
    return json_response({"paused": sorted(master.heartbeats_paused)})


Handler = Callable[[Master, Request], Response | Awaitable[Response]]
_ROUTES: dict[str, tuple[str, Handler]] = {
    "/devcluster": ("GET", index),
    "/devcluster/agents/{agent_id}/remove": ("POST", remove_agent),
    "/devcluster/agents/{agent_id}/partition": ("POST", partition_agent),
    "/devcluster/agents/{agent_id}/heal": ("POST", heal_agent),
    "/devcluster/master/restart": ("POST", restart_master),
    "/devcluster/frameworks/{framework_id}/drop": ("POST", drop_framework),
    "/devcluster/frameworks/{framework_id}/inject": ("POST", inject_record),
    "/devcluster/heartbeats/stop": ("POST", stop_heartbeats),
    "/devcluster/heartbeats/resume": ("POST", resume_heartbeats),
}


def _only(
    method: str, handler: Handler, master: Master, request: Request
) -> Response | Awaitable[Response]:
    if request.method != method:
        return text(405, f"Expecting {method}")
    return handler(master, request)


def add_routes(router: Router, master: Master) -> None:
    for path, (method, handler) in _ROUTES.items():
        router.add(path, partial(_only, method, handler, master))
