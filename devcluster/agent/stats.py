"""Usage statistics of a task's process tree, shaped like Mesos's posix isolators report them."""

from __future__ import annotations

import time

import psutil

from devcluster.interfaces import Json

MB = 1024 * 1024
EXECUTOR_CPUS = 0.1
EXECUTOR_MEM_MB = 32.0


def limits(resources: dict[str, float]) -> Json:
    """Soft limits include the command executor's share (13-legacy: 0.5 cpus -> 0.6)."""
    mem_limit = int((resources["mem"] + EXECUTOR_MEM_MB) * MB)
    return {
        "cpus_soft_limit": round(resources["cpus"] + EXECUTOR_CPUS, 3),
        "mem_limit_bytes": mem_limit,
        "mem_soft_limit_bytes": mem_limit,
    }


def process_tree_statistics(pid: int, resources: dict[str, float]) -> Json | None:
    """CPU times and RSS summed over the live tree rooted at pid; None once it is gone."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    user = system = 0.0
    rss = 0
    for process in tree:
        try:
            with process.oneshot():
                times = process.cpu_times()
                rss += process.memory_info().rss
        except psutil.Error:
            continue
        # children_* hold the time of children already reaped, which the live tree lacks.
        user += times.user + times.children_user
        system += times.system + times.children_system
    return {
        "timestamp": time.time(),
        "cpus_user_time_secs": round(user, 2),
        "cpus_system_time_secs": round(system, 2),
        **limits(resources),
        "mem_rss_bytes": rss,
    }
