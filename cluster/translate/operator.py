"""Operator API replies, /metrics/snapshot and agent endpoints -> typed results.

These raise PayloadError (with the path that was wrong) instead of returning partial
data: a caller polling utilization would rather skip one sample than store a wrong one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from cluster.translate._read import (
    PayloadError,
    as_obj,
    flag,
    integer,
    number,
    obj,
    objs,
    opt_integer,
    opt_nanos,
    opt_number,
    opt_text,
    text,
    texts,
    value_id,
)
from cluster.translate.resources import (
    capability_types,
    parse_attributes,
    parse_labels,
    parse_master_info,
    parse_task_status,
    resource_totals,
)
from cluster.types import (
    AgentExecutor,
    AgentFramework,
    AgentState,
    AgentSummary,
    ClusterMetrics,
    ClusterState,
    ExecutorStatistics,
    FileChunk,
    FileInfo,
    FrameworkRecord,
    MasterStatus,
    TaskRecord,
    VersionInfo,
)


def response_body(payload: Any, call_type: str) -> dict[str, Any]:
    """The ``get_x`` object of a ``{"type": "GET_X", "get_x": {...}}`` reply."""
    document = as_obj(payload, "response")
    if document.get("type") != call_type:
        raise PayloadError(f"response.type: expected {call_type}, got {document.get('type')!r}")
    key = call_type.lower()
    return obj(document, key, "response")


def parse_agent(d: dict[str, Any], where: str) -> AgentSummary:
    info = obj(d, "agent_info", where)
    iwhere = f"{where}.agent_info"
    return AgentSummary(
        agent_id=value_id(info, "id", iwhere),
        hostname=text(info, "hostname", iwhere),
        port=opt_integer(info, "port", iwhere),
        active=flag(d, "active", where),
        total=resource_totals(d, "total_resources", where),
        allocated=resource_totals(d, "allocated_resources", where),
        offered=resource_totals(d, "offered_resources", where),
        attributes=parse_attributes(info, "attributes", iwhere),
        version=opt_text(d, "version", where),
        pid=opt_text(d, "pid", where),
        registered_time_ns=opt_nanos(d, "registered_time", where),
    )


def parse_agents(body: dict[str, Any], where: str = "get_agents") -> tuple[AgentSummary, ...]:
    return tuple(parse_agent(a, p) for p, a in objs(body, "agents", where))


def parse_framework(d: dict[str, Any], where: str) -> FrameworkRecord:
    info = obj(d, "framework_info", where)
    iwhere = f"{where}.framework_info"
    roles = texts(info, "roles", iwhere)
    legacy_role = opt_text(info, "role", iwhere)
    return FrameworkRecord(
        framework_id=value_id(info, "id", iwhere),
        name=text(info, "name", iwhere),
        user=text(info, "user", iwhere),
        roles=roles or ((legacy_role,) if legacy_role else ()),
        active=flag(d, "active", where),
        connected=flag(d, "connected", where),
        recovered=flag(d, "recovered", where),
        capabilities=capability_types(info, "capabilities", iwhere),
        failover_timeout=opt_number(info, "failover_timeout", iwhere),
        principal=opt_text(info, "principal", iwhere),
        hostname=opt_text(info, "hostname", iwhere),
        webui_url=opt_text(info, "webui_url", iwhere),
        allocated=resource_totals(d, "allocated_resources", where),
        offered=resource_totals(d, "offered_resources", where),
        registered_time_ns=opt_nanos(d, "registered_time", where),
        unregistered_time_ns=opt_nanos(d, "unregistered_time", where),
    )


def parse_frameworks(
    body: dict[str, Any], where: str = "get_frameworks"
) -> tuple[tuple[FrameworkRecord, ...], tuple[FrameworkRecord, ...]]:
    """(frameworks, completed_frameworks)."""
    live = tuple(parse_framework(f, p) for p, f in objs(body, "frameworks", where))
    done = tuple(parse_framework(f, p) for p, f in objs(body, "completed_frameworks", where))
    return live, done


def parse_task(d: dict[str, Any], where: str) -> TaskRecord:
    return TaskRecord(
        task_id=value_id(d, "task_id", where),
        name=text(d, "name", where),
        framework_id=value_id(d, "framework_id", where),
        agent_id=value_id(d, "agent_id", where),
        state=text(d, "state", where),
        resources=resource_totals(d, "resources", where),
        executor_id=None if d.get("executor_id") is None else value_id(d, "executor_id", where),
        statuses=tuple(parse_task_status(s, p) for p, s in objs(d, "statuses", where)),
        labels=parse_labels(d, "labels", where),
        status_update_state=opt_text(d, "status_update_state", where),
        status_update_uuid=opt_text(d, "status_update_uuid", where),
    )


def parse_tasks(
    body: dict[str, Any], where: str = "get_tasks"
) -> tuple[tuple[TaskRecord, ...], tuple[TaskRecord, ...], tuple[TaskRecord, ...]]:
    """(tasks, unreachable_tasks, completed_tasks)."""

    def group(key: str) -> tuple[TaskRecord, ...]:
        return tuple(parse_task(t, p) for p, t in objs(body, key, where))

    return group("tasks"), group("unreachable_tasks"), group("completed_tasks")


def parse_state(body: dict[str, Any], where: str = "get_state") -> ClusterState:
    agents = parse_agents(obj(body, "get_agents", where), f"{where}.get_agents")
    live, done = parse_frameworks(obj(body, "get_frameworks", where), f"{where}.get_frameworks")
    tasks, unreachable, completed = parse_tasks(obj(body, "get_tasks", where), f"{where}.get_tasks")
    return ClusterState(agents, live, done, tasks, unreachable, completed)


def parse_metrics_list(body: dict[str, Any], where: str = "get_metrics") -> dict[str, float]:
    """GET_METRICS writes ``[{"name", "value"}]``; make it the snapshot's flat shape."""
    return {text(m, "name", p): number(m, "value", p) for p, m in objs(body, "metrics", where)}


def parse_metrics_snapshot(payload: Any) -> dict[str, float]:
    document = as_obj(payload, "metrics")
    return {name: number(document, name, "metrics") for name in document}


def cluster_metrics(values: Mapping[str, float]) -> ClusterMetrics:
    def m(name: str) -> float:
        return float(values.get(f"master/{name}", 0.0))

    return ClusterMetrics(
        cpus_total=m("cpus_total"),
        cpus_used=m("cpus_used"),
        mem_total=m("mem_total"),
        mem_used=m("mem_used"),
        disk_total=m("disk_total"),
        disk_used=m("disk_used"),
        gpus_total=m("gpus_total"),
        gpus_used=m("gpus_used"),
        tasks_staging=m("tasks_staging"),
        tasks_starting=m("tasks_starting"),
        tasks_running=m("tasks_running"),
        tasks_killing=m("tasks_killing"),
        tasks_unreachable=m("tasks_unreachable"),
        tasks_finished=m("tasks_finished"),
        tasks_failed=m("tasks_failed"),
        tasks_killed=m("tasks_killed"),
        tasks_lost=m("tasks_lost"),
        tasks_error=m("tasks_error"),
        # Mesos still says "slaves" in metric names.
        agents_active=m("slaves_active"),
        agents_inactive=m("slaves_inactive"),
        agents_unreachable=m("slaves_unreachable"),
        frameworks_active=m("frameworks_active"),
        outstanding_offers=m("outstanding_offers"),
        elected=m("elected") >= 1.0,
        uptime_secs=m("uptime_secs"),
        values=MappingProxyType(dict(values)),
    )


def parse_master(body: dict[str, Any], where: str = "get_master") -> MasterStatus:
    return MasterStatus(
        master=parse_master_info(obj(body, "master_info", where), f"{where}.master_info"),
        start_time=opt_number(body, "start_time", where),
        elected_time=opt_number(body, "elected_time", where),
    )


def parse_version(body: dict[str, Any], where: str = "get_version") -> VersionInfo:
    info = obj(body, "version_info", where)
    where = f"{where}.version_info"
    return VersionInfo(
        version=text(info, "version", where),
        build_date=opt_text(info, "build_date", where),
        build_time=opt_number(info, "build_time", where),
        build_user=opt_text(info, "build_user", where),
        git_sha=opt_text(info, "git_sha", where),
        git_tag=opt_text(info, "git_tag", where),
    )


# ---- agent ------------------------------------------------------------------------------


def _task_ids(d: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    return tuple(text(t, "id", p) for p, t in objs(d, key, where))


def _executor(d: dict[str, Any], where: str, completed: bool) -> AgentExecutor:
    return AgentExecutor(
        executor_id=text(d, "id", where),
        directory=text(d, "directory", where),
        task_ids=_task_ids(d, "tasks", where),
        completed_task_ids=_task_ids(d, "completed_tasks", where),
        queued_task_ids=_task_ids(d, "queued_tasks", where),
        completed=completed,
    )


def _agent_framework(d: dict[str, Any], where: str, completed: bool) -> AgentFramework:
    executors = [_executor(e, p, False) for p, e in objs(d, "executors", where)]
    executors += [_executor(e, p, True) for p, e in objs(d, "completed_executors", where)]
    return AgentFramework(
        framework_id=text(d, "id", where),
        name=opt_text(d, "name", where),
        executors=tuple(executors),
        completed=completed,
    )


def parse_agent_state(payload: Any) -> AgentState:
    """The agent's legacy ``/state`` (v0 names: ``id`` strings, ``slave_id``)."""
    d = as_obj(payload, "state")
    frameworks = [_agent_framework(f, p, False) for p, f in objs(d, "frameworks", "state")]
    done = objs(d, "completed_frameworks", "state")
    frameworks += [_agent_framework(f, p, True) for p, f in done]
    return AgentState(
        agent_id=opt_text(d, "id", "state"),
        hostname=opt_text(d, "hostname", "state"),
        frameworks=tuple(frameworks),
    )


def _executor_statistics(d: dict[str, Any], where: str) -> ExecutorStatistics:
    stats = obj(d, "statistics", where)
    swhere = f"{where}.statistics"

    def count(name: str) -> int | None:
        return opt_integer(stats, name, swhere)

    return ExecutorStatistics(
        framework_id=text(d, "framework_id", where),
        executor_id=text(d, "executor_id", where),
        executor_name=opt_text(d, "executor_name", where),
        source=opt_text(d, "source", where),
        timestamp=number(stats, "timestamp", swhere),
        cpus_user_time_secs=opt_number(stats, "cpus_user_time_secs", swhere),
        cpus_system_time_secs=opt_number(stats, "cpus_system_time_secs", swhere),
        # posix isolation reports only the soft limit; cgroups reports cpus_limit.
        cpus_limit=opt_number(stats, "cpus_limit", swhere)
        or opt_number(stats, "cpus_soft_limit", swhere),
        mem_rss_bytes=count("mem_rss_bytes"),
        mem_limit_bytes=count("mem_limit_bytes"),
        mem_total_bytes=count("mem_total_bytes"),
        disk_used_bytes=count("disk_used_bytes"),
        disk_limit_bytes=count("disk_limit_bytes"),
        processes=count("processes"),
        threads=count("threads"),
    )


def parse_statistics(payload: Any) -> tuple[ExecutorStatistics, ...]:
    if not isinstance(payload, list):
        raise PayloadError("statistics: expected a list of executors")
    return tuple(
        _executor_statistics(as_obj(e, f"statistics[{i}]"), f"statistics[{i}]")
        for i, e in enumerate(payload)
    )


def parse_browse(payload: Any) -> tuple[FileInfo, ...]:
    if not isinstance(payload, list):
        raise PayloadError("browse: expected a list of files")
    out = []
    for i, entry in enumerate(payload):
        where = f"browse[{i}]"
        f = as_obj(entry, where)
        out.append(
            FileInfo(
                path=text(f, "path", where),
                size=integer(f, "size", where),
                mtime=number(f, "mtime", where),
                mode=text(f, "mode", where),
                nlink=opt_integer(f, "nlink", where),
                uid=opt_text(f, "uid", where),
                gid=opt_text(f, "gid", where),
            )
        )
    return tuple(out)


def parse_file_chunk(payload: Any) -> FileChunk:
    """``data`` is the raw file bytes inside a JSON string (not base64). The body must
    have been decoded with surrogateescape so bytes that are not UTF-8 come back as is."""
    d = as_obj(payload, "read")
    data = text(d, "data", "read").encode("utf-8", errors="surrogateescape")
    return FileChunk(data=data, offset=integer(d, "offset", "read"))
