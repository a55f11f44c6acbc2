"""How fast is the offer placement decision?

Each batch: 1,000 offers from agents of mixed sizes in three roles (some with GPUs, racks and
zones), 10,000 pending tasks of ~400 apps of mixed sizes, a fifth of the apps with
constraints, some apps already running. Prints decision time per batch (p50/p99/max) and
tasks placed per second of decision time.

    .venv/bin/python bench/placement_bench.py [--batches 100] [--offers 1000] [--tasks 10000]
        [--interleave] [--max-launches N]

`--interleave` shuffles the queue so that consecutive tasks rarely belong to the same app
(the default keeps each app's instances together, as scaling an app enqueues them).
`--max-launches` caps the launches per batch, as the framework can to bound its latency.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cluster.constraints import parse_constraints
from cluster.placement import (
    PendingTask,
    PlacementOffer,
    PlacementSpec,
    RunningOn,
    place_tasks,
)

ROLES = ("prod", "staging", "dev")
ROLE_WEIGHTS = (5, 3, 2)
AGENT_SIZES = ((4, 16384), (8, 32768), (16, 65536), (32, 131072))
CPUS = (0.1, 0.25, 0.5, 1.0, 1.0, 2.0, 4.0)
MEMS = (64, 128, 256, 512, 1024, 2048, 4096)
CONSTRAINTS = (
    ["hostname:UNIQUE"],
    ["rack:GROUP_BY:3"],
    ["rack:MAX_PER:30"],
    ["zone:LIKE:z[01]"],
    ["hostname:MAX_PER:2", "zone:UNLIKE:z2"],
    ["zone:CLUSTER"],
    ["gen:IS:2"],
)


def make_offers(rng: random.Random, count: int) -> list[PlacementOffer]:
    offers = []
    for n in range(count):
        cpus, mem = rng.choice(AGENT_SIZES)
        free = rng.choice((0.25, 0.5, 0.75, 1.0))
        offers.append(
            PlacementOffer(
                offer_id=f"O{n:05d}",
                agent_id=f"S{n:05d}",
                hostname=f"agent-{n:05d}.dc1",
                role=rng.choices(ROLES, ROLE_WEIGHTS)[0],
                cpus=round(cpus * free, 3),
                mem=mem * free,
                disk=100_000.0,
                gpus=float(rng.choice((1, 2, 4))) if rng.random() < 0.05 else 0.0,
                ports=((31000, 31000 + rng.choice((100, 1000))),),
                attributes={
                    "rack": f"r{n % 40:02d}",
                    "zone": f"z{n % 3}",
                    "gen": rng.choice(("1", "2", "3")),
                },
            )
        )
    return offers


def make_tasks(
    rng: random.Random, count: int, interleave: bool
) -> tuple[list[PendingTask], dict[str, list[RunningOn]]]:
    tasks: list[PendingTask] = []
    running: dict[str, list[RunningOn]] = {}
    app = 0
    while len(tasks) < count:
        app += 1
        group = f"/app-{app:04d}"
        constraints = parse_constraints(rng.choice(CONSTRAINTS)) if rng.random() < 0.2 else ()
        instances = min(count - len(tasks), rng.choice((1, 3, 10, 25, 50, 100)))
        spec = PlacementSpec(
            group=group,
            role=rng.choices(ROLES, ROLE_WEIGHTS)[0],
            cpus=rng.choice(CPUS),
            mem=float(rng.choice(MEMS)),
            disk=float(rng.choice((0, 100, 1000))),
            gpus=1 if rng.random() < 0.01 else 0,
            host_ports=(0,) * rng.choice((0, 1, 1, 2)),
            constraints=constraints,
        )
        priority = rng.choice((0, 0, 0, 10))
        for instance in range(instances):
            tasks.append(PendingTask(f"{group}.{instance}", spec, priority, order=len(tasks)))
        if rng.random() < 0.3:
            running[group] = [
                RunningOn(
                    f"agent-{rng.randrange(1000):05d}.dc1",
                    {"rack": f"r{rng.randrange(40):02d}", "zone": f"z{rng.randrange(3)}"},
                    count=rng.randint(1, 3),
                )
                for _ in range(rng.randint(1, 5))
            ]
    if interleave:
        rng.shuffle(tasks)
        tasks = [replace(task, order=position) for position, task in enumerate(tasks)]
    return tasks, running


def run(
    batches: int, offer_count: int, task_count: int, interleave: bool, limit: int | None
) -> None:
    wall: list[float] = []
    cpu: list[float] = []
    placed_total = pending_total = 0
    for batch in range(batches):
        rng = random.Random(batch)
        offers = make_offers(rng, offer_count)
        tasks, running = make_tasks(rng, task_count, interleave)
        started, started_cpu = time.perf_counter(), time.process_time()
        placement = place_tasks(offers, tasks, running, max_launches=limit)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        placed_total += sum(len(plan.launches) for plan in placement.plans)
        pending_total += len(placement.not_placed)
    mode = "interleaved queue" if interleave else "apps enqueued together"
    cap = f"max_launches={limit}" if limit else "no launch limit"
    print(f"{batches} batches of {offer_count} offers x {task_count} pending tasks ({mode}, {cap})")
    print(f"  decision time per batch, wall: {_percentiles(wall)}")
    print(f"  decision time per batch, cpu:  {_percentiles(cpu)}")
    print(
        f"  placed {placed_total / batches:.0f} tasks per batch, "
        f"{pending_total / batches:.0f} left pending with why-not counts"
    )
    print(f"  throughput: {placed_total / sum(wall):,.0f} tasks placed per second of decision")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"  machine: {os.cpu_count()} cpus, load average {load:.1f} (other work skews these)")


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--offers", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--interleave", action="store_true")
    parser.add_argument("--max-launches", type=int, default=None)
    args = parser.parse_args()
    run(args.batches, args.offers, args.tasks, args.interleave, args.max_launches)


if __name__ == "__main__":
    main()
