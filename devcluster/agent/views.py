"""Agent GET endpoints: /state, /flags, /health, /version, /metrics/snapshot,
/monitor/statistics."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import psutil
from aiohttp import web

from devcluster.agent import state as shapes
from devcluster.agent.http import json_response
from devcluster.agent.task import executor_name
from devcluster.interfaces import Json

if TYPE_CHECKING:
    from devcluster.agent.agent import Agent

GAUGE_STATES = ("staging", "starting", "running", "killing")
COUNTER_STATES = ("finished", "failed", "killed", "lost", "gone", "error", "dropped")


async def state(agent: Agent, request: web.Request) -> web.Response:
    return json_response(request, shapes.legacy_state(agent))


async def flags(agent: Agent, request: web.Request) -> web.Response:
    return json_response(request, {"flags": shapes.flags(agent)})


async def health(agent: Agent, request: web.Request) -> web.Response:
    # Mesos answers 200 with no body and no Content-Type.
    response = web.Response(status=200)
    response.headers.pop("Content-Type", None)
    return response


async def version(agent: Agent, request: web.Request) -> web.Response:
    return json_response(request, shapes.version())


async def metrics_snapshot(agent: Agent, request: web.Request) -> web.Response:
    return json_response(request, metrics(agent))


async def monitor_statistics(agent: Agent, request: web.Request) -> web.Response:
    return json_response(request, statistics_entries(agent))


def statistics_entries(agent: Agent) -> list[Json]:
    """One entry per running executor, statistics keys sorted like Mesos writes them."""
    entries = []
    for record in agent.live_records():
        statistics = record.runner.statistics() if record.runner is not None else None
        if statistics is None:
            continue
        entries.append(
            {
                "executor_id": record.task_id,
                "executor_name": executor_name(record.task_info),
                "framework_id": record.framework_id,
                "source": record.task_id,
                "statistics": dict(sorted(statistics.items())),
            }
        )
    return entries


def metrics(agent: Agent) -> dict[str, float]:
    """The agent's /metrics/snapshot (v0 `slave/` names), sorted by name."""
    result = _resource_metrics(agent)
    result.update(_task_metrics(agent))
    result.update(
        {
            "slave/frameworks_active": float(
                sum(bool(fw.live) for fw in agent.frameworks.values())
            ),
            "slave/registered": 1.0,
            "slave/uptime_secs": time.time() - agent.start_time,
            "slave/valid_status_updates": float(sum(agent.counters.values())),
            "slave/invalid_status_updates": 0.0,
            "slave/valid_framework_messages": 0.0,
            "slave/invalid_framework_messages": 0.0,
            "slave/container_launch_errors": float(agent.events["launch_errors"]),
            "containerizer/fetcher/task_fetches_succeeded": float(agent.events["fetches_ok"]),
            "containerizer/fetcher/task_fetches_failed": float(agent.events["fetches_failed"]),
        }
    )
    result.update(_system())
    return dict(sorted(result.items()))


def _resource_metrics(agent: Agent) -> dict[str, float]:
    total = agent.total_resources()
    used = agent.used_resources()
    result: dict[str, float] = {}
    for name in ("cpus", "disk", "gpus", "mem"):
        result[f"slave/{name}_total"] = total[name]
        result[f"slave/{name}_used"] = used[name]
        result[f"slave/{name}_percent"] = used[name] / total[name] if total[name] else 0.0
        for suffix in ("total", "used", "percent"):
            result[f"slave/{name}_revocable_{suffix}"] = 0.0
    return result


def _task_metrics(agent: Agent) -> dict[str, float]:
    live = list(agent.live_records())
    result: dict[str, float] = {}
    for name in GAUGE_STATES:
        result[f"slave/tasks_{name}"] = float(sum(r.state == f"TASK_{name.upper()}" for r in live))
    for name in COUNTER_STATES:
        result[f"slave/tasks_{name}"] = float(agent.counters[f"TASK_{name.upper()}"])
    terminated = sum(agent.counters[f"TASK_{name.upper()}"] for name in COUNTER_STATES)
    result["slave/executors_running"] = float(sum(not r.terminal for r in live))
    result["slave/executors_registering"] = 0.0
    result["slave/executors_terminating"] = float(sum(r.killing and not r.terminal for r in live))
    result["slave/executors_terminated"] = float(terminated)
    result["slave/executors_preempted"] = 0.0
    return result


def _system() -> dict[str, float]:
    load1, load5, load15 = os.getloadavg()
    memory = psutil.virtual_memory()
    return {
        "system/cpus_total": float(os.cpu_count() or 1),
        "system/load_1min": load1,
        "system/load_5min": load5,
        "system/load_15min": load15,
        "system/mem_total_bytes": float(memory.total),
        "system/mem_free_bytes": float(memory.available),
    }
