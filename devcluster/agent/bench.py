"""Agent-side cost of simulated tasks, without the master: `python -m devcluster.agent.bench`.

Starts N simulated agents in this process behind a sink that acknowledges every update on
the next loop turn (as a fast framework would), launches M short tasks round-robin and
prints what it measured. The devcluster benchmark (bench/devcluster_bench.py) measures the
whole path through the master; this one isolates the agents' share of it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import tempfile
import time
from pathlib import Path

from devcluster.agent import Agent
from devcluster.interfaces import AgentConfig, Json, LaunchedTask

FRAMEWORK_ID = "bench-0000"
FRAMEWORK_INFO: Json = {"user": "root", "name": "bench", "capabilities": [{"type": "MULTI_ROLE"}]}


class AckingSink:
    def __init__(self) -> None:
        self.updates = 0
        self.agents: dict[str, Agent] = {}

    def on_status(self, agent_id: str, framework_id: str, status: Json) -> None:
        self.updates += 1
        agent = self.agents[agent_id]
        task_id = status["task_id"]["value"]
        asyncio.get_running_loop().call_soon(
            agent.acknowledge, framework_id, task_id, status["uuid"]
        )


def _task(index: int, agent_id: str) -> LaunchedTask:
    info: Json = {
        "name": f"bench-{index}",
        "task_id": {"value": f"bench-{index}"},
        "agent_id": {"value": agent_id},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}],
        "command": {"value": "true"},
    }
    return LaunchedTask(FRAMEWORK_ID, FRAMEWORK_INFO, info, "*")


async def run(agent_count: int, task_count: int, duration: float, work_dir: Path) -> None:
    sink = AckingSink()
    agents = []
    for index in range(agent_count):
        config = AgentConfig(
            agent_id=f"bench-S{index}",
            hostname=f"127.2.{index // 250}.{index % 250 + 1}",
            port=0,
            cpus=8,
            mem=16384,
            disk=10000,
            ports=((31000, 32000),),
            work_dir=work_dir,
            simulated=True,
            simulated_duration_seconds=duration,
        )
        agent = Agent(config, sink)
        sink.agents[config.agent_id] = agent
        agents.append(agent)
    started = time.perf_counter()
    await asyncio.gather(*(agent.start() for agent in agents))
    print(f"started {agent_count} simulated agents in {time.perf_counter() - started:.2f} s")
    tasks = [
        _task(index, agents[index % agent_count].config.agent_id) for index in range(task_count)
    ]
    cpu, wall = time.process_time(), time.perf_counter()
    for index, task in enumerate(tasks):
        agents[index % agent_count].launch(task)
    while sink.updates < 3 * task_count:
        await asyncio.sleep(0.01)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    updates = 3 * task_count
    print(
        f"{task_count} tasks, {updates} updates in {wall:.2f} s: {updates / wall:.0f} updates/s, "
        f"{cpu / updates * 1e6:.1f} us of CPU per update (tasks last {duration} s)"
    )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    await asyncio.gather(*(agent.stop() for agent in agents))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--duration", type=float, default=0.5, help="seconds each task runs")
    parser.add_argument(
        "--gc-threshold", type=int, default=0, help="gen-0 GC threshold to try (0: Python's)"
    )
    options = parser.parse_args()
    if options.gc_threshold:
        gc.freeze()
        gc.set_threshold(options.gc_threshold, 10, 10)
    with tempfile.TemporaryDirectory(prefix="agent-bench-") as work_dir:
        asyncio.run(run(options.agents, options.tasks, options.duration, Path(work_dir)))


if __name__ == "__main__":
    main()
