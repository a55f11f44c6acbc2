"""Tasks take the resources reserved for their role: what placement sees of an offer, the
TaskInfo resources drawn from the reserved pool first, and a real devcluster accepting them.

Berth subscribes without RESERVATION_REFINEMENT, so offers (and the TaskInfos that take
from them) use the old format of mesos-api.md 2.1: `role`, plus `reservation` when dynamic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from cluster.actions import task_submit
from cluster.client import OperatorClient
from cluster.framework import ClusterConfig, ClusterEngine, EngineOptions, PendingSummary
from cluster.framework.demand import Demand
from cluster.framework.launching import Launcher
from cluster.framework.metrics import EngineMetrics
from cluster.framework.offers import launch_spec, placement_offer
from cluster.framework.pools import ResourcePools
from cluster.framework.storage import LaunchRecord, PendingWork
from cluster.framework.taskinfo import TaskInfoTemplate
from cluster.models import Task
from cluster.states import TaskState
from cluster.translate import EncodedCall, task_info
from cluster.translate.resources import parse_offer
from cluster.types import CommandSpec, DockerContainer, Offer, PortMapping, TaskSpec
from portal.models import Environment
from tests.cluster.framework_harness import (
    SHARED_DB,
    EngineThread,
    engine_for,
    point_environments_at,
    shared_db,  # noqa: F401 (a fixture)
    wait_for,
    wait_state,
)
from tests.devcluster_fixture import DevCluster

Json = dict[str, Any]

UNRESERVED: Json = {"role": "*"}
STATIC_DEV: Json = {"role": "dev"}
DYNAMIC_DEV: Json = {
    "role": "dev",
    "reservation": {"principal": "ops", "labels": {"labels": [{"key": "team", "value": "pay"}]}},
}


def scalar(name: str, value: float, owner: Json = UNRESERVED) -> Json:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}, **owner}


def port_range(begin: int, end: int, owner: Json = UNRESERVED) -> Json:
    ranges = {"range": [{"begin": begin, "end": end}]}
    return {"name": "ports", "type": "RANGES", "ranges": ranges, **owner}


def offer(resources: Sequence[Json], role: str = "dev", offer_id: str = "O1") -> Offer:
    """An offer as the master writes it to a framework without RESERVATION_REFINEMENT."""
    body = {
        "id": {"value": offer_id},
        "framework_id": {"value": "F"},
        "agent_id": {"value": "S1"},
        "hostname": "host-1",
        "allocation_info": {"role": role},
        "resources": [{**r, "allocation_info": {"role": role}} for r in resources],
    }
    return parse_offer(body, "offer")


def plain(cpus: float = 2, mem: float = 2048) -> list[Json]:
    return [scalar("cpus", cpus), scalar("mem", mem), port_range(31000, 31099)]


# -- what placement sees ---------------------------------------------------------------


def test_resources_reserved_for_the_offers_role_are_placed_on() -> None:
    seen = placement_offer(offer([*plain(), scalar("cpus", 6, STATIC_DEV)]))

    assert (seen.cpus, seen.mem) == (8, 2048)


def test_resources_reserved_for_another_role_are_never_placed_on() -> None:
    prod = {"role": "prod"}
    seen = placement_offer(offer([*plain(), scalar("cpus", 6, prod), scalar("mem", 9, prod)]))

    assert (seen.cpus, seen.mem) == (2, 2048)


def test_dynamic_reservations_count_like_static_ones() -> None:
    seen = placement_offer(offer([*plain(), scalar("mem", 1024, DYNAMIC_DEV)]))

    assert seen.mem == 3072


def test_persistent_volumes_revocable_and_shared_resources_are_left_out() -> None:
    volume = {
        **scalar("disk", 512, DYNAMIC_DEV),
        "disk": {
            "persistence": {"id": "pg-1", "principal": "ops"},
            "volume": {"container_path": "d", "mode": "RW"},
        },
    }
    revocable = {**scalar("cpus", 4, STATIC_DEV), "revocable": {}}
    shared = {**scalar("mem", 64, STATIC_DEV), "shared": {}}

    seen = placement_offer(offer([*plain(), scalar("disk", 100), volume, revocable, shared]))

    assert (seen.cpus, seen.mem, seen.disk) == (2, 2048, 100)


@pytest.mark.parametrize(
    ("reserved_for", "counted"),
    [("eng", True), ("eng/web", True), ("eng/web/blue", False), ("engineering", False)],
)
def test_a_reservation_for_an_ancestor_of_the_role_is_placed_on(
    reserved_for: str, counted: bool
) -> None:
    role = "eng/web"
    seen = placement_offer(offer([*plain(), scalar("cpus", 4, {"role": reserved_for})], role))

    assert seen.cpus == (6 if counted else 2)


# -- what a TaskInfo takes ---------------------------------------------------------------


def reserved_parts(resources: Sequence[Json]) -> list[tuple[str, float | None, str | None]]:
    return [(r["name"], r.get("scalar", {}).get("value"), r.get("role")) for r in resources]


def test_one_need_is_split_across_the_reserved_and_the_unreserved_pool() -> None:
    pools = ResourcePools([offer([*plain(), scalar("cpus", 1, STATIC_DEV)])], "dev")

    taken = pools.draw([("cpus", 1.5), ("mem", 64)], [])

    assert taken == [
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 1.0},
            "role": "dev",
            "allocation_info": {"role": "dev"},
        },
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 0.5},
            "allocation_info": {"role": "dev"},
        },
        {
            "name": "mem",
            "type": "SCALAR",
            "scalar": {"value": 64.0},
            "allocation_info": {"role": "dev"},
        },
    ]


def test_tasks_on_one_offer_draw_the_reserved_pool_down_first() -> None:
    pools = ResourcePools([offer([*plain(), scalar("cpus", 1, STATIC_DEV)])], "dev")

    drawn = [reserved_parts(pools.draw([("cpus", 0.4)], [])) for _ in range(4)]

    assert drawn == [
        [("cpus", 0.4, "dev")],
        [("cpus", 0.4, "dev")],
        [("cpus", 0.2, "dev"), ("cpus", 0.2, None)],
        [("cpus", 0.4, None)],
    ]


def test_the_offers_of_one_accept_are_one_pool() -> None:
    offers = [
        offer([scalar("cpus", 0.5, STATIC_DEV), scalar("cpus", 0.5)], offer_id="O1"),
        offer([scalar("cpus", 0.5, STATIC_DEV), scalar("cpus", 0.5)], offer_id="O2"),
    ]
    pools = ResourcePools(offers, "dev")

    assert reserved_parts(pools.draw([("cpus", 1.2)], [])) == [
        ("cpus", 1.0, "dev"),
        ("cpus", 0.2, None),
    ]


@pytest.mark.parametrize("owner", [STATIC_DEV, DYNAMIC_DEV], ids=["static", "dynamic"])
def test_a_taken_part_carries_the_reservation_exactly_as_the_offer_had_it(owner: Json) -> None:
    offered = {**scalar("mem", 1024, owner), "allocation_info": {"role": "dev"}}
    pools = ResourcePools([offer([*plain(), scalar("mem", 1024, owner)])], "dev")

    (part,) = pools.draw([("mem", 256)], [])

    assert part == {**offered, "scalar": {"value": 256.0}}
    assert "reservations" not in part  # the old format, as the offer: no refinement


def test_the_refined_format_is_echoed_when_the_offer_used_it() -> None:
    refined = [
        {"type": "STATIC", "role": "eng"},
        {"type": "DYNAMIC", "role": "eng/web", "principal": "ops"},
    ]
    resource = {"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}, "reservations": refined}
    pools = ResourcePools([offer([resource], "eng/web")], "eng/web")

    (part,) = pools.draw([("cpus", 1)], [])

    assert part == {
        "name": "cpus",
        "type": "SCALAR",
        "scalar": {"value": 1.0},
        "reservations": refined,
        "allocation_info": {"role": "eng/web"},
    }


def test_each_port_is_taken_from_the_pool_that_holds_it() -> None:
    pools = ResourcePools(
        [
            offer(
                [scalar("cpus", 1), port_range(31000, 31009), port_range(32000, 32009, STATIC_DEV)]
            )
        ],
        "dev",
    )

    taken = pools.draw([("cpus", 0.1)], [32001, 31005, 32002])

    ports = [(r.get("role"), r["ranges"]["range"]) for r in taken if r["name"] == "ports"]
    assert ports == [
        ("dev", [{"begin": 32001, "end": 32002}]),
        (None, [{"begin": 31005, "end": 31005}]),
    ]
    with pytest.raises(ValueError, match="port 32001"):
        pools.draw([], [32001])


def test_a_need_the_pools_cannot_meet_takes_nothing() -> None:
    pools = ResourcePools([offer([scalar("cpus", 1, STATIC_DEV), scalar("mem", 64)])], "dev")

    with pytest.raises(ValueError, match="cpus"):
        pools.draw([("mem", 32), ("cpus", 1.5)], [])

    assert reserved_parts(pools.draw([("mem", 64), ("cpus", 1)], [])) == [
        ("mem", 64.0, None),
        ("cpus", 1.0, "dev"),
    ]


def test_resources_reserved_for_another_role_are_never_taken() -> None:
    pools = ResourcePools([offer([scalar("cpus", 1), scalar("cpus", 8, {"role": "prod"})])], "dev")

    assert not pools.has_reserved
    with pytest.raises(ValueError):
        pools.draw([("cpus", 2)], [])


# -- the TaskInfos of an offer round ------------------------------------------------------


def work(pk: int, cpus: float, ports: tuple[int, ...] = (), **spec: Any) -> PendingWork:
    task_spec = TaskSpec(
        task_id="",
        name=f"t{pk}",
        command=CommandSpec.shell_line("true"),
        cpus=cpus,
        mem=32,
        ports=ports,
        **spec,
    )
    return PendingWork(pk=pk, task_id=f"task-{pk}", role="dev", group="g", spec=task_spec)


def test_a_drawn_template_is_the_full_build_with_the_drawn_resources() -> None:
    pending = work(7, 1.5, ports=(0, 8080))
    reserved = [*plain(), scalar("cpus", 1, STATIC_DEV), port_range(8080, 8080, STATIC_DEV)]
    drawn = TaskInfoTemplate(pending, {}, "dev").stamp_drawn(
        "task-7", "S1", [31000, 8080], "h1", ResourcePools([offer(reserved)], "dev")
    )

    spec = launch_spec(pending, [31000, 8080], "h1", {})
    built = task_info(spec, agent_id="S1", allocation_role="dev")
    built["resources"] = ResourcePools([offer(reserved)], "dev").draw(
        [("cpus", 1.5), ("mem", 32)], [31000, 8080]
    )
    assert json.loads(drawn) == built
    assert reserved_parts(built["resources"]) == [
        ("cpus", 1.0, "dev"),
        ("cpus", 0.5, None),
        ("mem", 32.0, None),
        ("ports", None, "dev"),
        ("ports", None, None),
    ]


class Store:
    """The queue of one round: these tasks of role dev, every launch marked."""

    def __init__(self, pending: Sequence[PendingWork]) -> None:
        self.pending = {w.pk: w for w in pending}

    def summary(self) -> PendingSummary:
        return PendingSummary({"dev": len(self.pending)}, max(self.pending), sum(self.pending))

    def pending_pks(self, cluster_key: str, roles: Sequence[str], limit: int) -> list[int]:
        return sorted(self.pending)[:limit]

    def pending_load(self, pks: Sequence[int]) -> tuple[list[PendingWork], dict[int, str]]:
        return [self.pending[pk] for pk in pks], {}

    def launch_environment(self, environment_id: int, team_id: int | None) -> dict[str, str]:
        return {}

    def tasks_mark_launching(self, launches: Sequence[LaunchRecord], framework_id: str) -> set[int]:
        return {launch.pk for launch in launches}

    def tasks_fail(self, problems: Mapping[int, str]) -> None:
        raise AssertionError(f"no task should fail: {problems}")

    def why_not_save(self, counts: Mapping[int, Mapping[str, int]]) -> None:
        pass


class Wire:
    def __init__(self) -> None:
        self.calls: list[Json] = []

    def send_many(
        self, calls: Sequence[Any], written: Callable[[], None] | None = None
    ) -> list[None]:
        self.calls.extend(json.loads(c.body) if isinstance(c, EncodedCall) else c for c in calls)
        if written is not None:
            written()
        return [None] * len(calls)

    def decline(self, offer_ids: Sequence[str], refuse_seconds: float | None = None) -> None:
        self.calls.append({"type": "DECLINE"})


def launched(offers: Sequence[Offer], pending: Sequence[PendingWork]) -> dict[str, list[Json]]:
    """One offer round through the Launcher: task id -> the resources its TaskInfo names."""
    config = ClusterConfig(key="k", masters=("http://m:5050",), roles=("dev",))
    wire = Wire()
    launcher = Launcher(
        config,
        Store(pending),  # type: ignore[arg-type]
        wire,  # type: ignore[arg-type]
        EngineOptions(),
        Demand(config.roles, revive_min_interval=1.0),
        EngineMetrics(),
    )
    launcher.handle(offers, "F")
    infos = [
        info
        for call in wire.calls
        if call["type"] == "ACCEPT"
        for operation in call["accept"]["operations"]
        for info in operation["launch"]["task_infos"]
    ]
    return {info["task_id"]["value"]: info["resources"] for info in infos}


def test_a_round_on_an_offer_without_reservations_keeps_the_plain_resources() -> None:
    resources = launched([offer(plain())], [work(1, 0.5, ports=(0,))])

    assert resources == {
        "task-1": [
            {
                "name": "cpus",
                "type": "SCALAR",
                "scalar": {"value": 0.5},
                "allocation_info": {"role": "dev"},
            },
            {
                "name": "mem",
                "type": "SCALAR",
                "scalar": {"value": 32},
                "allocation_info": {"role": "dev"},
            },
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {"range": [{"begin": 31000, "end": 31000}]},
                "allocation_info": {"role": "dev"},
            },
        ]
    }


def test_a_round_draws_each_task_from_what_the_ones_before_it_left() -> None:
    # 0.5 unreserved cpus and 1.5 reserved: neither task fits the unreserved part alone,
    # and the executor's 0.1 cpus per task still fit beside them (placement counts it).
    offers = [offer([*plain(cpus=0.5), scalar("cpus", 1.5, STATIC_DEV)])]

    resources = launched(offers, [work(1, 0.8), work(2, 0.8, ports=(0,))])

    assert reserved_parts(resources["task-1"]) == [("cpus", 0.8, "dev"), ("mem", 32.0, None)]
    assert reserved_parts(resources["task-2"]) == [
        ("cpus", 0.7, "dev"),
        ("cpus", 0.1, None),
        ("mem", 32.0, None),
        ("ports", None, None),
    ]


def test_a_task_with_its_own_build_draws_from_the_pools_too() -> None:
    container = DockerContainer(image="x", network="BRIDGE", port_mappings=(PortMapping(0, 80),))
    offers = [offer([*plain(cpus=0.5), scalar("cpus", 1.5, STATIC_DEV)])]

    resources = launched(offers, [work(1, 1.2, ports=(0,), container=container)])

    assert reserved_parts(resources["task-1"]) == [
        ("cpus", 1.2, "dev"),
        ("mem", 32.0, None),
        ("ports", None, None),
    ]


# -- against a real devcluster ---------------------------------------------------------------

# The test agent (cpus:2;mem:2048) with most of it reserved for dev: no task below fits
# in the unreserved 0.5 cpus.
RESERVED_AGENT = pytest.mark.devcluster("--reserve", "dev:cpus=1.5;mem=1536")


@pytest.fixture
def dev(request: pytest.FixtureRequest, devcluster: DevCluster) -> Environment:
    request.getfixturevalue("shared_db")
    (environment,) = point_environments_at(devcluster, "dev")
    return environment


@pytest.fixture
def engine_after(devcluster: DevCluster, dev: Environment) -> Iterator[Callable[[], ClusterEngine]]:
    """Starts the engine when called, so the tasks submitted before meet the first offer."""
    running: list[EngineThread] = []

    def start() -> ClusterEngine:
        thread = EngineThread(engine_for(devcluster))
        running.append(thread)
        engine = thread.__enter__()
        wait_for("the subscription", lambda: engine.connected)
        return engine

    yield start
    for thread in running:
        thread.__exit__(None, None, None)


def submit(env: Environment, instance: str, cpus: float, mem: float) -> Task:
    spec = TaskSpec(
        task_id="", name=instance, command=CommandSpec.shell_line("sleep 30"), cpus=cpus, mem=mem
    )
    return task_submit(owner_kind="test", owner_id=1, instance=instance, environment=env, spec=spec)


def master_tasks(devcluster: DevCluster) -> dict[str, Json]:
    with OperatorClient(devcluster.url) as operator:
        reply = operator.call("GET_TASKS")
    return {t["task_id"]["value"]: t for t in reply["tasks"]}


@SHARED_DB
@RESERVED_AGENT
def test_tasks_of_the_role_run_on_its_reserved_resources(
    devcluster: DevCluster, dev: Environment, engine_after: Callable[[], ClusterEngine]
) -> None:
    first = submit(dev, "a", cpus=0.8, mem=600)
    second = submit(dev, "b", cpus=0.8, mem=600)
    engine_after()

    tasks = [wait_state(t, TaskState.RUNNING.value) for t in (first, second)]

    on_master = master_tasks(devcluster)
    resources = [r for t in tasks for r in on_master[t.mesos_task_id]["resources"]]
    taken: dict[tuple[str, str], float] = {}
    for r in resources:
        key = (r["name"], r.get("role", "*"))
        taken[key] = round(taken.get(key, 0.0) + r["scalar"]["value"], 3)
        assert r["allocation_info"] == {"role": "dev"}
    # Both ran off one offer: the second took what the first left of the reservation.
    assert taken == {("cpus", "dev"): 1.5, ("cpus", "*"): 0.1, ("mem", "dev"): 1200.0}
    trails = [set(t.statuses.values_list("state", flat=True)) for t in tasks]
    assert all(not trail & {"TASK_ERROR", "TASK_DROPPED", "TASK_LOST"} for trail in trails)
