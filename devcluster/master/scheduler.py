"""POST /api/v1/scheduler: the transport rules, then one handler per call type.

The checks run in the real master's order (08-bad-requests): authentication (401, in
app.py), method, Content-Type, JSON, protobuf conversion, call validation (an authenticated
principal that FrameworkInfo contradicts is a 400 here), then for SUBSCRIBE the Accept and
stream-id headers, for other calls the framework lookup (400), the principal it subscribed
with (400), subscribed (403), stream id present and matching (400).
"""

from __future__ import annotations

from collections.abc import Callable

from devcluster.interfaces import Json
from devcluster.master import frameworks, launch, reconcile
from devcluster.master import mesosjson as mj
from devcluster.master.http import (
    accepted,
    check_content_type,
    check_method,
    json_acceptable,
    text_error,
)
from devcluster.master.httpserver import Connection, Request, Response, StreamStart
from devcluster.master.master import Master
from devcluster.master.state import ACTIVE, FrameworkRecord
from devcluster.master.streams import EventStream
from devcluster.master.validation import (
    HttpError,
    parse_body,
    principal_mismatch,
    validate_scheduler_call,
)

STREAM_ID = "Mesos-Stream-Id"
NOT_ACCEPTABLE = "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"


def scheduler_api(master: Master, request: Request) -> Response | StreamStart:
    try:
        check_method(request, "POST")
        check_content_type(request)
        call = parse_body(request.body, "Call", strict=master.config.strict)
        error = validate_scheduler_call(call, request.principal)
        if error is not None:
            raise HttpError(400, f"Failed to validate scheduler::Call: {error}")
        if call["type"] == "SUBSCRIBE":
            return _subscribe(request, master, call)
        framework = _framework_for(request, master, call)
        return _dispatch(master, framework, call)
    except HttpError as error:
        return text_error(error)


def _subscribe(request: Request, master: Master, call: Json) -> StreamStart:
    if not json_acceptable(request.headers.get("Accept")):
        raise HttpError(406, NOT_ACCEPTABLE)
    if STREAM_ID in request.headers:
        raise HttpError(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
    info = call["subscribe"]["framework_info"]
    if request.principal is not None and "principal" not in info:
        # An authenticated framework that names no principal gets the one it proved.
        info["principal"] = request.principal
    stream = EventStream(master.new_stream_id())

    def start(connection: Connection) -> None:
        stream.attach(connection)
        frameworks.subscribe(master, call["subscribe"], stream)

    headers = {"Content-Type": "application/json", STREAM_ID: stream.stream_id}
    return StreamStart(headers, start)


def _framework_for(request: Request, master: Master, call: Json) -> FrameworkRecord:
    framework_id = call["framework_id"]["value"]
    framework = master.frameworks.get(framework_id)
    if framework is None:
        raise HttpError(400, "Framework cannot be found")
    principal = request.principal
    if principal is not None and principal != framework.info.get("principal", ""):
        raise HttpError(400, principal_mismatch(principal, framework.info.get("principal", "")))
    if not framework.connected:
        raise HttpError(403, "Framework is not subscribed")
    stream_id = request.headers.get(STREAM_ID)
    if stream_id is None:
        raise HttpError(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
    if stream_id != framework.stream_id:
        raise HttpError(
            400,
            f"The stream ID '{stream_id}' included in this request didn't match the stream ID "
            f"currently associated with framework ID {framework_id}",
        )
    return framework


def _dispatch(master: Master, framework: FrameworkRecord, call: Json) -> Response:
    kind = call["type"]
    if kind == "UNKNOWN":
        # The real master aborts here (a CHECK in its call metrics); answer instead.
        raise HttpError(501, "Received an 'UNKNOWN' call")
    framework.calls[kind.lower()] += 1
    handler = _HANDLERS.get(kind)
    if handler is not None:
        handler(master, framework, call.get(kind.lower(), {}))
    if kind == "UPDATE_FRAMEWORK":
        return Response(200)
    return accepted()


def _teardown(master: Master, framework: FrameworkRecord, body: Json) -> None:
    frameworks.remove(master, framework)


def _revive(master: Master, framework: FrameworkRecord, body: Json) -> None:
    roles = [r for r in body.get("roles", []) if r in framework.roles]
    if body.get("roles") and not roles:
        return
    for role in roles or framework.roles:
        framework.suppressed.discard(role)
    master.allocator.revive(framework, roles)
    master.allocator.request()


def _suppress(master: Master, framework: FrameworkRecord, body: Json) -> None:
    # Outstanding offers stay outstanding (10-suppress-revive).
    roles = body.get("roles") or framework.roles
    framework.suppressed.update(r for r in roles if r in framework.roles)


def _kill(master: Master, framework: FrameworkRecord, body: Json) -> None:
    task_id = body["task_id"]["value"]
    task = framework.tasks.get(task_id)
    if task is None:
        # An unknown task is answered like an explicit reconciliation (04-kill).
        status = reconcile.answer(master, framework, task_id, mj.value_of(body.get("agent_id")))
        if status is not None:
            master.send_update(framework, status)
        return
    agent = master.agents.get(task.agent_id)
    if agent is not None and agent.state == ACTIVE and not task.terminal:
        # The call's kill_policy is not passed on: the command executor ignores it and
        # uses the task's own grace period (04-kill, kill-override).
        agent.api.kill(framework.id, task_id, None)


def _acknowledge(master: Master, framework: FrameworkRecord, body: Json) -> None:
    agent_id = body["agent_id"]["value"]
    task_id = body["task_id"]["value"]
    uuid = body["uuid"]
    task = framework.tasks.get(task_id)
    if task is not None and task.agent_id == agent_id and task.status_update_uuid == uuid:
        master.counters["valid_status_update_acknowledgements"] += 1
        if mj.is_terminal(task.status_update_state or ""):
            master.complete_task(framework, task)
    agent = master.agents.get(agent_id)
    if agent is not None and agent.state == ACTIVE:
        agent.api.acknowledge(framework.id, task_id, uuid)


def _reconcile_operations(master: Master, framework: FrameworkRecord, body: Json) -> None:
    # No operation ever gets an id-based feedback stream here, so every one is unknown.
    for entry in body.get("operations", []):
        status: Json = {"operation_id": entry["operation_id"], "state": "OPERATION_UNKNOWN"}
        if "agent_id" in entry:
            status["agent_id"] = entry["agent_id"]
        master.send(
            framework,
            {"type": "UPDATE_OPERATION_STATUS", "update_operation_status": {"status": status}},
        )


def _update_framework(master: Master, framework: FrameworkRecord, body: Json) -> None:
    frameworks.update(master, framework, body)


_HANDLERS: dict[str, Callable[[Master, FrameworkRecord, Json], None]] = {
    "TEARDOWN": _teardown,
    "ACCEPT": launch.accept,
    "DECLINE": launch.decline,
    "REVIVE": _revive,
    "SUPPRESS": _suppress,
    "KILL": _kill,
    "ACKNOWLEDGE": _acknowledge,
    "RECONCILE": reconcile.reconcile,
    "RECONCILE_OPERATIONS": _reconcile_operations,
    "UPDATE_FRAMEWORK": _update_framework,
}
