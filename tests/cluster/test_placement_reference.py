"""place_tasks against the plainest reference there is: one task at a time, in queue
order, on the fitting offer with the least room, with every constraint re-checked against
everything placed so far. The engine's shortcuts (runs of one shape, resumed searches,
exhausted shapes) must never change a decision, only its cost."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cluster.constraints import Tally, canonical_field, field_value, parse_constraint
from cluster.placement import PendingTask, PlacementOffer, RunningOn, place_tasks
from cluster.placement.model import COMMAND_EXECUTOR, PlacementSpec, milli

CONSTRAINTS = [
    [],
    [["rack", "GROUP_BY"]],
    [["hostname", "UNIQUE"]],
    [["rack", "CLUSTER"]],
    [["rack", "MAX_PER", "2"]],
    [["rack", "GROUP_BY", "3"]],
]


def random_case(rng: random.Random) -> dict[str, Any]:
    offers = [
        {
            "offer_id": f"o{n}",
            "agent_id": f"a{n}",
            "hostname": f"h{n % 4}",
            "cpus": rng.choice([1, 2, 3, 4, 8]),
            "mem": rng.choice([256, 512, 1024, 4096]),
            "ports": (31000, 31000 + rng.randint(0, 5)),
            "attributes": {"rack": rng.choice("ABC")},
        }
        for n in range(rng.randint(1, 8))
    ]
    shapes = [
        {
            "group": rng.choice(["g1", "g2"]),
            "cpus": rng.choice([0.5, 1, 2]),
            "mem": rng.choice([64, 128, 512]),
            "ports": rng.choice([(), (0,), (0, 0)]),
            "constraints": rng.choice(CONSTRAINTS),
        }
        for _ in range(rng.randint(1, 3))
    ]
    tasks = [{"task_id": f"t{t:02d}", **rng.choice(shapes)} for t in range(rng.randint(1, 20))]
    running: dict[str, list[dict[str, Any]]] = {}
    if rng.random() < 0.5:
        running["g1"] = [
            {
                "hostname": "h9",
                "attributes": {"rack": rng.choice("ABC")},
                "count": rng.randint(1, 3),
            }
        ]
    return {"offers": offers, "tasks": tasks, "running": running}


def decided(case: dict[str, Any]) -> list[tuple[str, str, list[int]]]:
    offers = [
        PlacementOffer(
            offer_id=o["offer_id"], agent_id=o["agent_id"], hostname=o["hostname"], role="r",
            cpus=o["cpus"], mem=o["mem"], disk=0, ports=(o["ports"],), attributes=o["attributes"],
        )
        for o in case["offers"]
    ]  # fmt: skip
    tasks = [
        PendingTask(
            task_id=t["task_id"],
            spec=PlacementSpec(
                group=t["group"], role="r", cpus=t["cpus"], mem=t["mem"], disk=0,
                host_ports=t["ports"], constraints=tuple(map(parse_constraint, t["constraints"])),
            ),
            order=n,
        )
        for n, t in enumerate(case["tasks"])
    ]  # fmt: skip
    running = {
        group: [RunningOn(r["hostname"], r["attributes"], count=r["count"]) for r in placed]
        for group, placed in case["running"].items()
    }
    placement = place_tasks(offers, tasks, running)
    return sorted((x.task_id, x.offer_id, list(x.ports)) for x in placement.launches)


def reference(case: dict[str, Any]) -> list[tuple[str, str, list[int]]]:
    offers, tasks = case["offers"], case["tasks"]
    over = (milli(COMMAND_EXECUTOR.cpus), milli(COMMAND_EXECUTOR.mem))
    cpu = [milli(o["cpus"]) for o in offers]
    mem = [milli(o["mem"]) for o in offers]
    ports = [list(range(o["ports"][0], o["ports"][1] + 1)) for o in offers]
    cpu_weight, mem_weight = 1.0 / max(cpu), 1.0 / max(mem)
    constraints = [tuple(map(parse_constraint, t["constraints"])) for t in tasks]
    tallies: dict[str, dict[str, Tally]] = {}
    for task, cs in zip(tasks, constraints, strict=True):
        for c in cs:
            if not c.is_static:
                fields = tallies.setdefault(task["group"], {})
                fields.setdefault(canonical_field(c.field), Tally())
    for group, placed in case["running"].items():
        for name, tally in tallies.get(group, {}).items():
            for r in placed:
                tally.add(field_value(name, r["hostname"], r["attributes"]), r["count"])
    # Groups whose constraints can start accepting more as they grow retry their waiters.
    resets = {t["group"] for t, cs in zip(tasks, constraints, strict=True)
              if any(not c.is_monotone for c in cs)}  # fmt: skip

    def fits(p: int, i: int) -> bool:
        task = tasks[p]
        if cpu[i] < milli(task["cpus"]) + over[0] or mem[i] < milli(task["mem"]) + over[1]:
            return False
        if len(ports[i]) < len(task["ports"]):
            return False
        for c in constraints[p]:
            name = canonical_field(c.field)
            value = field_value(name, offers[i]["hostname"], offers[i]["attributes"])
            if not c.accepts(value, tallies.get(task["group"], {}).get(name, Tally())):
                return False
        return True

    launches: list[tuple[str, str, list[int]]] = []
    failed: set[int] = set()
    retry: set[int] = set()
    position = 0
    while True:
        first = min(retry) if retry else None
        if first is not None and (position >= len(tasks) or first < position):
            p = first
            retry.discard(p)
        elif position < len(tasks):
            p, position = position, position + 1
        else:
            break
        fitting = [(cpu[i] * cpu_weight + mem[i] * mem_weight, i) for i in range(len(offers))
                   if fits(p, i)]  # fmt: skip
        if not fitting:
            failed.add(p)
            continue
        _, i = min(fitting)
        task = tasks[p]
        cpu[i] -= milli(task["cpus"]) + over[0]
        mem[i] -= milli(task["mem"]) + over[1]
        taken, ports[i] = ports[i][: len(task["ports"])], ports[i][len(task["ports"]) :]
        launches.append((task["task_id"], offers[i]["offer_id"], taken))
        failed.discard(p)
        for name, tally in tallies.get(task["group"], {}).items():
            tally.add(field_value(name, offers[i]["hostname"], offers[i]["attributes"]))
        if task["group"] in resets:
            retry |= {q for q in failed if tasks[q]["group"] == task["group"]}
    return sorted(launches)


@pytest.mark.parametrize("seed", range(20))
def test_every_decision_is_the_one_task_at_a_time_reference(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(150):
        case = random_case(rng)
        assert decided(case) == reference(case), case
