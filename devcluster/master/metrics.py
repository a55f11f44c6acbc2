"""/metrics/snapshot and GET_METRICS: the master's gauges and counters.

Utilization counts tasks' own resources only (not the command executor's 0.1 cpus and
32 MB, as on the real master); *_percent are fractions; outstanding offers are not used.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from devcluster.master.state import ACTIVE, UNREACHABLE

if TYPE_CHECKING:
    from devcluster.master.master import Master

_GAUGE_STATES = ("staging", "starting", "running", "killing", "unreachable")
_COUNTER_STATES = (
    "finished",
    "failed",
    "killed",
    "lost",
    "error",
    "dropped",
    "gone",
    "gone_by_operator",
)


def snapshot(master: Master) -> dict[str, float]:
    metrics: dict[str, float] = {}
    _resources(master, metrics)
    _tasks(master, metrics)
    _population(master, metrics)
    _system(metrics)
    metrics["master/elected"] = 1.0
    metrics["master/uptime_secs"] = time.time() - master.start_time
    metrics["master/outstanding_offers"] = float(len(master.offers))
    metrics["allocator/mesos/allocation_runs"] = float(master.allocator.runs)
    for name in ("valid_status_updates", "valid_status_update_acknowledgements"):
        metrics[f"master/{name}"] = float(master.counters[name])
    for name, value in master.counters.items():
        if name.startswith("task_killed/"):
            metrics[f"master/{name}"] = float(value)
    return dict(sorted(metrics.items()))


def _resources(master: Master, metrics: dict[str, float]) -> None:
    total = master.totals().quantities()
    used: dict[str, float] = {}
    offered: dict[str, float] = {}
    for framework in master.frameworks.values():
        for name, amount in framework.allocated.quantities().items():
            used[name] = used.get(name, 0.0) + amount
    for offer in master.offers.values():
        for name, amount in offer.resources.quantities().items():
            offered[name] = offered.get(name, 0.0) + amount
    for name in ("cpus", "mem", "disk", "gpus"):
        have, taken = total.get(name, 0.0), round(used.get(name, 0.0), 3)
        metrics[f"master/{name}_total"] = have
        metrics[f"master/{name}_used"] = taken
        metrics[f"master/{name}_percent"] = taken / have if have else 0.0
        for suffix in ("total", "used", "percent"):
            metrics[f"master/{name}_revocable_{suffix}"] = 0.0
        if name != "gpus":
            metrics[f"allocator/mesos/resources/{name}/total"] = have
            metrics[f"allocator/mesos/resources/{name}/offered_or_allocated"] = round(
                taken + offered.get(name, 0.0), 3
            )


def _tasks(master: Master, metrics: dict[str, float]) -> None:
    for state in _GAUGE_STATES:
        metrics[f"master/tasks_{state}"] = float(
            max(master.task_gauges[f"TASK_{state.upper()}"], 0)
        )
    for state in _COUNTER_STATES:
        metrics[f"master/tasks_{state}"] = float(master.counters[f"TASK_{state.upper()}"])


def _population(master: Master, metrics: dict[str, float]) -> None:
    agents = list(master.agents.values())
    active = sum(1 for a in agents if a.state == ACTIVE)
    unreachable = sum(1 for a in agents if a.state == UNREACHABLE)
    metrics["master/slaves_active"] = float(active)
    metrics["master/slaves_connected"] = float(active)
    metrics["master/slaves_disconnected"] = 0.0
    metrics["master/slaves_inactive"] = 0.0
    metrics["master/slaves_unreachable"] = float(unreachable)
    frameworks = list(master.frameworks.values())
    connected = sum(1 for f in frameworks if f.connected)
    active_frameworks = sum(1 for f in frameworks if f.active)
    metrics["master/frameworks_active"] = float(active_frameworks)
    metrics["master/frameworks_connected"] = float(connected)
    metrics["master/frameworks_disconnected"] = float(len(frameworks) - connected)
    metrics["master/frameworks_inactive"] = float(len(frameworks) - active_frameworks)


def _system(metrics: dict[str, float]) -> None:
    metrics["system/cpus_total"] = float(os.cpu_count() or 1)
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    metrics["system/load_1min"], metrics["system/load_5min"], metrics["system/load_15min"] = load
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    metrics["system/mem_total_bytes"] = float(pages * page_size)
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * page_size
    except (ValueError, OSError):
        free = 0
    metrics["system/mem_free_bytes"] = float(free)
