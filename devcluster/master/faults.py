"""Fault controls, devcluster only: POST /devcluster/... (GET /devcluster lists them).

None of these exist on a real master; they let tests provoke what real clusters do to a
framework: agents vanishing or partitioned, a master failing over, a dropped subscription,
missing heartbeats.
"""

from __future__ import annotations

from aiohttp import web

from devcluster.master import agents, recordio
from devcluster.master.http import MASTER_KEY, json_response
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


def _master(request: web.Request) -> Master:
    return request.app[MASTER_KEY]


def _not_found(what: str) -> web.Response:
    return web.Response(status=404, text=what, content_type="text/plain", charset="utf-8")


def _agent(request: web.Request) -> AgentRecord | None:
    return _master(request).agents.get(request.match_info["agent_id"])


async def index(request: web.Request) -> web.Response:
    master = _master(request)
    body = {
        "master_id": master.id,
        "agents": [
            {"id": a.id, "hostname": a.hostname, "port": a.port, "state": a.state}
            for a in master.agents.values()
        ],
        "endpoints": ENDPOINTS,
    }
    return json_response(body)


async def remove_agent(request: web.Request) -> web.Response:
    record = _agent(request)
    if record is None:
        return _not_found(f"No agent {request.match_info['agent_id']}")
    agents.remove(_master(request), record, gone=request.query.get("gone") in {"1", "true"})
    await record.api.stop()
    return json_response({"agent_id": record.id, "state": record.state})


async def partition_agent(request: web.Request) -> web.Response:
    record = _agent(request)
    if record is None:
        return _not_found(f"No agent {request.match_info['agent_id']}")
    agents.partition(_master(request), record)
    return json_response({"agent_id": record.id, "state": record.state})


async def heal_agent(request: web.Request) -> web.Response:
    record = _agent(request)
    if record is None:
        return _not_found(f"No agent {request.match_info['agent_id']}")
    agents.reregister(_master(request), record)
    return json_response({"agent_id": record.id, "state": record.state})


async def restart_master(request: web.Request) -> web.Response:
    try:
        delay = float(request.query.get("agent_delay", "0"))
    except ValueError:
        return web.Response(
            status=400, text="agent_delay must be a number of seconds", content_type="text/plain"
        )
    master = _master(request)
    await agents.restart_master(master, max(delay, 0.0))
    return json_response({"master_id": master.id})


async def drop_framework(request: web.Request) -> web.Response:
    master = _master(request)
    framework = master.frameworks.get(request.match_info["framework_id"])
    if framework is None or framework.stream is None:
        return _not_found(f"No subscribed framework {request.match_info['framework_id']}")
    framework.stream.abort()
    return json_response({"framework_id": framework.id, "connected": framework.connected})


async def inject_record(request: web.Request) -> web.Response:
    master = _master(request)
    framework = master.frameworks.get(request.match_info["framework_id"])
    if framework is None or framework.stream is None:
        return _not_found(f"No subscribed framework {request.match_info['framework_id']}")
    payload = await request.read()
    if not payload:
        return web.Response(
            status=400, text="the body is the record to inject", content_type="text/plain"
        )
    framework.stream.send_raw(recordio.encode(payload))
    return json_response({"framework_id": framework.id, "bytes": len(payload)})


async def stop_heartbeats(request: web.Request) -> web.Response:
    master = _master(request)
    master.heartbeats_paused.add(request.query.get("framework_id", "*"))
    return json_response({"paused": sorted(master.heartbeats_paused)})


async def resume_heartbeats(request: web.Request) -> web.Response:
    master = _master(request)
    wanted = request.query.get("framework_id")
    if wanted is None:
        master.heartbeats_paused.clear()
    else:
        master.heartbeats_paused.discard(wanted)
    return json_response({"paused": sorted(master.heartbeats_paused)})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/devcluster", index)
    app.router.add_post("/devcluster/agents/{agent_id}/remove", remove_agent)
    app.router.add_post("/devcluster/agents/{agent_id}/partition", partition_agent)
    app.router.add_post("/devcluster/agents/{agent_id}/heal", heal_agent)
    app.router.add_post("/devcluster/master/restart", restart_master)
    app.router.add_post("/devcluster/frameworks/{framework_id}/drop", drop_framework)
    app.router.add_post("/devcluster/frameworks/{framework_id}/inject", inject_record)
    app.router.add_post("/devcluster/heartbeats/stop", stop_heartbeats)
    app.router.add_post("/devcluster/heartbeats/resume", resume_heartbeats)
