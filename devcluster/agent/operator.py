"""The agent's v1 operator API (POST /api/v1), with Mesos's header rules and error texts."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from devcluster.agent import state as shapes
from devcluster.agent import views
from devcluster.agent.files import FilesError, browse_entries, read_bytes
from devcluster.agent.http import text_response
from devcluster.agent.task import executor_name
from devcluster.interfaces import Json

if TYPE_CHECKING:
    from devcluster.agent.agent import Agent

JSON = "application/json"
# Agent calls Mesos defines that a devcluster agent has no use for (nested containers,
# resource providers, logging levels...): answered 501 rather than mistaken for typos.
UNSUPPORTED = frozenset(
    {
        "SET_LOGGING_LEVEL",
        "GET_LOGGING_LEVEL",
        "GET_OPERATIONS",
        "GET_RESOURCE_PROVIDERS",
        "LAUNCH_NESTED_CONTAINER",
        "WAIT_NESTED_CONTAINER",
        "KILL_NESTED_CONTAINER",
        "REMOVE_NESTED_CONTAINER",
        "LAUNCH_NESTED_CONTAINER_SESSION",
        "ATTACH_CONTAINER_INPUT",
        "ATTACH_CONTAINER_OUTPUT",
        "LAUNCH_CONTAINER",
        "WAIT_CONTAINER",
        "KILL_CONTAINER",
        "REMOVE_CONTAINER",
        "ADD_RESOURCE_PROVIDER_CONFIG",
        "UPDATE_RESOURCE_PROVIDER_CONFIG",
        "REMOVE_RESOURCE_PROVIDER_CONFIG",
        "MARK_RESOURCE_PROVIDER_GONE",
        "PRUNE_IMAGES",
    }
)


class CallError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


async def api_v1(agent: Agent, request: web.Request) -> web.Response:
    try:
        call = await _parse(request)
        body = _dispatch(agent, call)
    except CallError as error:
        return text_response(error.text, error.status)
    return web.Response(body=json.dumps(body, separators=(",", ":")).encode(), content_type=JSON)


async def _parse(request: web.Request) -> Json:
    if request.method != "POST":
        expected = "405 Method Not Allowed. Expecting one of { 'POST' }"
        raise CallError(405, f"{expected}, but received '{request.method}'.")
    content_type = request.headers.get("Content-Type")
    if content_type is None:
        raise CallError(400, "Expecting 'Content-Type' to be present")
    if content_type != JSON:
        raise CallError(
            415, "Expecting 'Content-Type' of application/json or application/x-protobuf"
        )
    accept = request.headers.get("Accept", JSON)
    if not any(
        kind.split(";")[0].strip() in (JSON, "*/*", "application/*") for kind in accept.split(",")
    ):
        raise CallError(406, "Expecting 'Accept' to allow 'application/json'")
    text = await request.text()
    try:
        call = json.loads(text)
    except ValueError as error:
        raise CallError(400, f"Failed to parse body into JSON: {error}") from error
    if not isinstance(call, dict):
        raise CallError(400, "Failed to convert JSON into Call protobuf: Expecting a JSON object")
    kind = call.get("type")
    if isinstance(kind, (int, float)) and not isinstance(kind, bool):
        problem = "Not expecting a JSON number for field 'type'"
        raise CallError(400, f"Failed to convert JSON into Call protobuf: {problem}")
    return call


def _require(call: Json, field: str) -> Json:
    value = call.get(field)
    if not isinstance(value, dict):
        raise CallError(400, f"Failed to validate agent::Call: Expecting '{field}' to be present")
    return value


def _dispatch(agent: Agent, call: Json) -> Json:
    kind = call.get("type")
    handler = HANDLERS.get(str(kind))
    if handler is None:
        if kind in UNSUPPORTED:
            raise CallError(501, f"devcluster agents do not implement {kind}")
        raise CallError(400, "Failed to validate agent::Call: Expecting 'type' to be present")
    return {"type": kind, str(kind).lower(): handler(agent, call)}


def _health(agent: Agent, call: Json) -> Json:
    return {"healthy": True}


def _flags(agent: Agent, call: Json) -> Json:
    return {"flags": [{"name": k, "value": v} for k, v in shapes.flags(agent).items()]}


def _version(agent: Agent, call: Json) -> Json:
    return {"version_info": shapes.version()}


def _metrics(agent: Agent, call: Json) -> Json:
    return {"metrics": [{"name": k, "value": v} for k, v in views.metrics(agent).items()]}


def _agent(agent: Agent, call: Json) -> Json:
    config = agent.config
    return {
        "agent_info": {
            "hostname": config.hostname,
            "port": agent.port,
            "id": {"value": config.agent_id},
            "attributes": list(config.attributes),
        },
        "start_time": {"nanoseconds": int(agent.start_time * 1e9)},
    }


def _containers(agent: Agent, call: Json) -> Json:
    containers = []
    for record in agent.live_records():
        statistics = record.runner.statistics() if record.runner is not None else None
        if statistics is None:
            continue
        container_status: Json = {"container_id": {"value": record.container_id}}
        if record.executor_pid is not None:
            container_status["executor_pid"] = record.executor_pid
        containers.append(
            {
                "framework_id": {"value": record.framework_id},
                "executor_id": {"value": record.task_id},
                "executor_name": executor_name(record.task_info),
                "container_id": {"value": record.container_id},
                "container_status": container_status,
                "resource_statistics": statistics,
            }
        )
    return {"containers": containers}


def _list_files(agent: Agent, call: Json) -> Json:
    path = str(_require(call, "list_files").get("path", ""))
    try:
        entries = browse_entries(agent, path)
    except FilesError as error:
        raise CallError(error.status, error.text or f"Path '{path}' not found") from error
    return {"file_infos": [_file_info(entry) for entry in entries]}


def _file_info(entry: Json) -> Json:
    # v1 LIST_FILES writes mtime in nanoseconds and mode as the numeric st_mode.
    return {
        "path": entry["path"],
        "nlink": entry["nlink"],
        "size": entry["size"],
        "mtime": {"nanoseconds": int(entry["mtime"] * 1e9)},
        "mode": _mode_number(entry["mode"]),
        "uid": entry["uid"],
        "gid": entry["gid"],
    }


def _mode_number(text: str) -> int:
    kinds = {"d": 0o040000, "-": 0o100000, "l": 0o120000}
    mode = kinds.get(text[0], 0)
    for index, char in enumerate(text[1:10]):
        if char != "-":
            mode |= 1 << (8 - index)
    return mode


def _read_file(agent: Agent, call: Json) -> Json:
    spec = _require(call, "read_file")
    path = str(spec.get("path", ""))
    offset = _integer(spec.get("offset"), "offset")
    length = _integer(spec.get("length", -1), "length")
    try:
        data, _offset, size = read_bytes(agent, path, offset, length)
    except FilesError as error:
        raise CallError(error.status, error.text or f"Path '{path}' not found") from error
    return {"size": size, "data": base64.b64encode(data).decode("ascii")}


def _integer(value: Any, name: str) -> int:
    if value is None:
        raise CallError(
            400,
            f"Failed to convert JSON into Call protobuf: Missing required fields: read_file.{name}",
        )
    try:
        return max(int(value), -1)
    except (TypeError, ValueError) as error:
        raise CallError(
            400, f"Failed to convert JSON into Call protobuf: '{name}' is not a number"
        ) from error


HANDLERS = {
    "GET_HEALTH": _health,
    "GET_FLAGS": _flags,
    "GET_VERSION": _version,
    "GET_METRICS": _metrics,
    "GET_STATE": lambda agent, call: shapes.get_state(agent),
    "GET_CONTAINERS": _containers,
    "GET_FRAMEWORKS": lambda agent, call: shapes.get_frameworks(agent),
    "GET_EXECUTORS": lambda agent, call: shapes.get_executors(agent),
    "GET_TASKS": lambda agent, call: shapes.get_tasks(agent),
    "GET_AGENT": _agent,
    "LIST_FILES": _list_files,
    "READ_FILE": _read_file,
}
