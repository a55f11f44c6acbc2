from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.constraints import Constraint, Operator, format_scalar, parse_constraints
from cluster.placement import (
    COMMAND_EXECUTOR,
    NO_OVERHEAD,
    ExecutorOverhead,
    PendingTask,
    Placement,
    PlacementOffer,
    PlacementSpec,
    RunningOn,
    WhyNot,
    milli,
    place_tasks,
)


def offer(
    offer_id: str = "o1",
    *,
    host: str | None = None,
    role: str = "*",
    cpus: float = 4.0,
    mem: float = 4096.0,
    disk: float = 10_000.0,
    gpus: float = 0.0,
    ports: tuple[tuple[int, int], ...] = ((31000, 31009),),
    attributes: dict[str, str] | None = None,
) -> PlacementOffer:
    return PlacementOffer(
        offer_id=offer_id,
        agent_id=f"agent-{offer_id}",
        hostname=host or f"host-{offer_id}",
        role=role,
        cpus=cpus,
        mem=mem,
        disk=disk,
        gpus=gpus,
        ports=ports,
        attributes=attributes or {},
    )


def task(
    task_id: str = "t1",
    *,
    group: str = "/app",
    role: str = "*",
    cpus: float = 0.5,
    mem: float = 128.0,
    disk: float = 0.0,
    gpus: int = 0,
    host_ports: tuple[int, ...] = (),
    constraints: Sequence[str] = (),
    priority: int = 0,
    order: int = 0,
) -> PendingTask:
    spec = PlacementSpec(
        group=group,
        role=role,
        cpus=cpus,
        mem=mem,
        disk=disk,
        gpus=gpus,
        host_ports=host_ports,
        constraints=parse_constraints(list(constraints)),
    )
    return PendingTask(task_id, spec, priority=priority, order=order)


def tasks(count: int, prefix: str = "t", **fields: object) -> list[PendingTask]:
    return [task(f"{prefix}{n}", order=n, **fields) for n in range(count)]  # type: ignore[arg-type]


def where(placement: Placement) -> dict[str, str]:
    return {launch.task_id: launch.offer_id for launch in placement.launches}


def hosts_of(placement: Placement, offers: Sequence[PlacementOffer]) -> Counter[str]:
    host = {o.offer_id: o.hostname for o in offers}
    return Counter(host[offer_id] for offer_id in where(placement).values())


def place(
    offers: Sequence[PlacementOffer],
    pending: Sequence[PendingTask],
    running: Mapping[str, Sequence[RunningOn]] | None = None,
    overhead: ExecutorOverhead = NO_OVERHEAD,
    max_launches: int | None = None,
) -> Placement:
    return place_tasks(offers, pending, running, overhead=overhead, max_launches=max_launches)


# Roles


def test_it_launches_a_task_on_an_offer_of_its_role() -> None:
    placement = place([offer("o1", role="dev"), offer("o2", role="prod")], [task(role="prod")])
    assert where(placement) == {"t1": "o2"}
    assert placement.unused_offer_ids == ("o1",)


def test_it_never_places_a_task_on_an_offer_of_another_role() -> None:
    placement = place([offer("o1", role="dev"), offer("o2", role="*")], [task(role="prod")])
    assert placement.plans == ()
    assert placement.not_placed == {"t1": WhyNot(offers=2, role=2)}


# Resources


def test_it_adds_the_command_executor_overhead_to_each_task() -> None:
    offers = [offer(cpus=1.0, mem=320.0)]
    assert len(where(place(offers, [task(cpus=0.9, mem=288.0)], overhead=COMMAND_EXECUTOR))) == 1
    assert not where(place(offers, [task(cpus=0.95, mem=128.0)], overhead=COMMAND_EXECUTOR))
    assert not where(place(offers, [task(cpus=0.5, mem=289.0)], overhead=COMMAND_EXECUTOR))
    placed = place(offers, tasks(3, cpus=0.4, mem=64.0), overhead=COMMAND_EXECUTOR)
    assert sorted(where(placed)) == ["t0", "t1"]


def test_the_command_executor_overhead_is_the_default_and_a_parameter() -> None:
    offers = [offer(cpus=1.0, mem=1024.0)]
    assert len(where(place_tasks(offers, tasks(2, cpus=0.45)))) == 1
    assert len(where(place(offers, tasks(2, cpus=0.45), overhead=NO_OVERHEAD))) == 2
    heavy = ExecutorOverhead(cpus=0.0, mem=600.0)
    assert len(where(place(offers, tasks(2, cpus=0.1, mem=1.0), overhead=heavy))) == 1


def test_it_counts_resources_in_thousandths_like_mesos() -> None:
    # 0.1 + 0.1 + 0.1 > 0.3 in floating point; Mesos's fixed point says they fit.
    assert len(where(place([offer(cpus=0.3)], tasks(3, cpus=0.1)))) == 3
    # Both sides round to three decimals before comparing.
    assert len(where(place([offer(cpus=0.3004)], tasks(3, cpus=0.1001)))) == 3
    assert len(where(place([offer(mem=1.0)], tasks(3, mem=0.3334)))) == 3
    assert len(where(place([offer(mem=1.0)], tasks(3, mem=0.3336)))) == 2
    assert milli(0.0005) == 1 and milli(0.0004) == 0


def test_it_puts_many_tasks_on_one_offer_without_overcommitting_any_resource() -> None:
    offers = [offer(cpus=4.0, mem=1000.0, disk=500.0, gpus=2.0)]
    for fields, fitting in [
        ({"cpus": 1.0}, 4),
        ({"mem": 300.0}, 3),
        ({"disk": 200.0}, 2),
        ({"gpus": 1}, 2),
        ({"host_ports": (0, 0, 0)}, 3),
    ]:
        placement = place(offers, tasks(10, **({"cpus": 0.0, "mem": 0.0} | fields)))
        assert len(where(placement)) == fitting, fields
        assert len(placement.not_placed) == 10 - fitting


def test_it_takes_the_offer_the_task_fills_best_so_big_tasks_find_big_offers() -> None:
    offers = [offer("a-big", cpus=8.0, mem=8192.0), offer("b-small", cpus=1.0, mem=1024.0)]
    pending = [
        task("small", cpus=0.5, mem=512.0, order=1),
        task("big", cpus=6.0, mem=6000.0, order=2),
    ]
    assert where(place(offers, pending)) == {"small": "b-small", "big": "a-big"}


def test_best_fit_follows_what_is_left_of_an_offer_during_the_batch() -> None:
    offers = [offer("o1", cpus=4.0, mem=4096.0), offer("o2", cpus=3.0, mem=3072.0)]
    pending = [
        task("first", cpus=2.0, mem=2048.0, order=1),
        task("second", cpus=1.0, mem=1024.0, order=2),
    ]
    # After "first" o2 has 1 cpu left: the smallest hole "second" fits in.
    assert where(place(offers, pending)) == {"first": "o2", "second": "o2"}


def test_tasks_that_need_no_gpu_leave_gpu_agents_free() -> None:
    offers = [offer("a-gpu", cpus=4.0, gpus=1.0), offer("b-plain", cpus=4.0)]
    pending = [task("cpu-only", cpus=2.0, order=1), task("trainer", cpus=2.0, gpus=1, order=2)]
    assert where(place(offers, pending)) == {"cpu-only": "b-plain", "trainer": "a-gpu"}


def test_a_task_needing_no_gpu_still_takes_a_gpu_agent_when_nothing_else_fits() -> None:
    offers = [offer("a-gpu", cpus=4.0, gpus=1.0), offer("b-plain", cpus=1.0)]
    assert where(place(offers, [task(cpus=2.0)])) == {"t1": "a-gpu"}


# Ports


def test_it_assigns_dynamic_ports_from_the_offer_ranges_without_duplicates() -> None:
    offers = [offer(ports=((31005, 31005), (31000, 31001)))]
    placement = place(
        offers, [task("a", host_ports=(0, 0), order=1), task("b", host_ports=(0,), order=2)]
    )
    ports = {launch.task_id: launch.ports for launch in placement.launches}
    assert ports == {"a": (31000, 31001), "b": (31005,)}
    more = place(offers, [task("a", host_ports=(0, 0)), task("b", host_ports=(0, 0), order=1)])
    assert more.not_placed["b"] == WhyNot(offers=1, ports=1)


def test_it_gives_a_fixed_port_only_on_an_offer_that_has_it_free() -> None:
    offers = [offer("o1", ports=((31000, 31010),)), offer("o2", ports=((8080, 8081),))]
    pending = [
        task("web", host_ports=(0, 8080), order=1),
        task("web2", host_ports=(8080,), order=2),
    ]
    placement = place(offers, pending)
    assert [(launch.task_id, launch.offer_id, launch.ports) for launch in placement.launches] == [
        ("web", "o2", (8081, 8080))
    ]
    assert placement.not_placed["web2"] == WhyNot(offers=2, ports=2)


def test_a_dynamic_port_never_takes_a_port_the_same_task_names() -> None:
    placement = place([offer(ports=((8080, 8081),))], [task(host_ports=(0, 8080))])
    assert placement.launches[0].ports == (8081, 8080)


def test_a_dynamic_port_taken_earlier_in_the_batch_is_not_free_for_a_fixed_request() -> None:
    placement = place(
        [offer(ports=((8080, 8081),))],
        [task("any", host_ports=(0,), order=1), task("fixed", host_ports=(8080,), order=2)],
    )
    assert where(placement) == {"any": "o1"}
    assert placement.not_placed["fixed"].ports == 1


# Constraints


def rack_offers(*racks: str | None, **fields: object) -> list[PlacementOffer]:
    return [
        offer(f"o{n}", host=f"h{n}", attributes={} if rack is None else {"rack": rack}, **fields)  # type: ignore[arg-type]
        for n, rack in enumerate(racks, start=1)
    ]


def test_unique_hostname_spreads_a_group_over_hosts_including_this_batch() -> None:
    offers = rack_offers("r1", "r1", "r2")
    running = {"/app": [RunningOn("h1")]}
    placement = place(offers, tasks(3, constraints=["hostname:UNIQUE"]), running)
    assert hosts_of(placement, offers) == {"h2": 1, "h3": 1}
    assert placement.not_placed["t2"].constraints == (("hostname:UNIQUE", 3),)


def test_unique_counts_two_offers_from_one_host_as_one_host() -> None:
    offers = [offer("o1", host="h1"), offer("o2", host="h1")]
    placement = place(offers, tasks(2, constraints=["hostname:UNIQUE"]))
    assert len(where(placement)) == 1


def test_constraints_apply_among_tasks_of_the_same_group_only() -> None:
    pending = [
        task("a", group="/a", constraints=["hostname:UNIQUE"]),
        task("b", group="/b", constraints=["hostname:UNIQUE"]),
        task("a2", group="/a", constraints=["hostname:UNIQUE"], order=1),
    ]
    placement = place([offer(host="h1")], pending)
    assert sorted(where(placement)) == ["a", "b"]


def test_hostname_and_at_hostname_are_the_same_field() -> None:
    placement = place(
        [offer(host="h1")], tasks(1, constraints=["@hostname:UNIQUE"]), {"/app": [RunningOn("h1")]}
    )
    assert not where(placement)


def test_cluster_with_a_value_uses_only_offers_with_that_value() -> None:
    offers = rack_offers("r1", "r2", "r2", None)
    placement = place(offers, tasks(3, cpus=3.0, constraints=["rack:CLUSTER:r2"]))
    assert set(where(placement).values()) == {"o2", "o3"}


def test_cluster_without_a_value_keeps_a_group_where_it_started() -> None:
    offers = rack_offers("r1", "r2", "r3", cpus=1.0)
    first = place(offers, tasks(3, cpus=1.0, constraints=["rack:CLUSTER"]))
    assert len(set(where(first).values())) == 1
    running = {"/app": [RunningOn("h9", {"rack": "r3"})]}
    pinned = place(offers, tasks(3, cpus=1.0, constraints=["rack:CLUSTER"]), running)
    assert where(pinned) == {"t0": "o3"}
    assert pinned.not_placed["t1"].constraints == (("rack:CLUSTER", 2),)


def racks_used(placement: Placement, offers: Sequence[PlacementOffer]) -> Counter[str]:
    rack_of = {o.offer_id: o.attributes.get("rack", "-") for o in offers}
    return Counter(rack_of[offer_id] for offer_id in where(placement).values())


def test_group_by_with_a_count_spreads_a_group_evenly_over_the_values() -> None:
    offers = rack_offers("r1", "r2", "r1", "r2")
    running = {"/app": [RunningOn("h9", {"rack": "r1"})]}
    placement = place(offers, tasks(5, constraints=["rack:GROUP_BY:2"]), running)
    assert racks_used(placement, offers) == {"r1": 2, "r2": 3}


def test_group_by_without_a_count_only_balances_the_values_it_has_seen() -> None:
    # Marathon's documented caveat: with one known value, that value is the smallest group.
    offers = rack_offers("r1", "r2", cpus=8.0)
    running = {"/app": [RunningOn("h9", {"rack": "r1"})]}
    placement = place(offers, tasks(3, constraints=["rack:GROUP_BY"]), running)
    assert racks_used(placement, offers) == {"r1": 3}


def test_group_by_with_a_count_holds_back_until_enough_values_are_used() -> None:
    offers = rack_offers("r1", "r2")
    running = {"/app": [RunningOn("h8", {"rack": "r1"}), RunningOn("h9", {"rack": "r2"})]}
    placement = place(offers, tasks(2, constraints=["rack:GROUP_BY:3"]), running)
    assert not where(placement)
    assert placement.not_placed["t0"].constraints == (("rack:GROUP_BY:3", 2),)


def test_like_and_unlike_filter_on_the_whole_attribute_value() -> None:
    offers = rack_offers("r1", "r12", "r2", None)
    like = place(offers, tasks(4, cpus=3.0, constraints=["rack:LIKE:r1"]))
    assert set(where(like).values()) == {"o1"}
    unlike = place(offers, tasks(4, cpus=3.0, constraints=["rack:UNLIKE:r1"]))
    # An offer without the attribute satisfies UNLIKE, as in Marathon.
    assert set(where(unlike).values()) == {"o2", "o3", "o4"}


def test_max_per_caps_tasks_per_value() -> None:
    offers = rack_offers("r1", "r2", "r2")
    placement = place(
        offers,
        tasks(6, constraints=["rack:MAX_PER:2"]),
        {"/app": [RunningOn("hx", {"rack": "r1"})]},
    )
    rack_of = {o.offer_id: o.attributes["rack"] for o in offers}
    assert Counter(rack_of[o] for o in where(placement).values()) == {"r1": 1, "r2": 2}


def test_is_matches_the_value_exactly() -> None:
    offers = rack_offers("r1", "r2")
    assert set(where(place(offers, tasks(2, constraints=["rack:IS:r2"]))).values()) == {"o2"}


def test_an_offer_without_the_attribute_fails_every_operator_but_unlike() -> None:
    offers = rack_offers(None)
    for spec in [
        "rack:UNIQUE",
        "rack:CLUSTER",
        "rack:GROUP_BY",
        "rack:LIKE:.*",
        "rack:MAX_PER:5",
        "rack:IS:r1",
    ]:
        assert not where(place(offers, tasks(1, constraints=[spec]))), spec
    assert where(place(offers, tasks(1, constraints=["rack:UNLIKE:r1"])))


def test_a_shape_that_found_nothing_is_retried_when_its_group_moves() -> None:
    offers = [
        offer("small-r1", host="h1", cpus=1.0, attributes={"rack": "r1"}),
        offer("big-r2", host="h2", cpus=8.0, attributes={"rack": "r2"}),
    ]
    running = {"/app": [RunningOn("h7", {"rack": "r1"}), RunningOn("h8", {"rack": "r2"}, count=2)]}
    pending = [
        task("spread", cpus=4.0, constraints=["rack:GROUP_BY"], priority=1),
        task("plain", cpus=1.0),
    ]
    placement = place(offers, pending, running)
    # "spread" first finds r2 over-full; once "plain" lands on r1, r2 is among the smallest.
    assert [(launch.task_id, launch.offer_id) for launch in placement.launches] == [
        ("plain", "small-r1"),
        ("spread", "big-r2"),
    ]


# Why not


def test_it_counts_offers_rejected_per_reason() -> None:
    offers = [
        offer("other-role", role="dev"),
        offer("few-cpus", cpus=0.1),
        offer("little-mem", mem=10.0),
        offer("small-disk", disk=1.0),
        offer("no-gpu", host="h-gpu-less"),
        offer("no-ports", ports=()),
        offer("same-host", host="busy"),
        offer("starved", cpus=0.1, mem=10.0),
    ]
    pending = [
        task(
            cpus=1.0, mem=100.0, disk=5.0, gpus=0, host_ports=(0,), constraints=["hostname:UNIQUE"]
        )
    ]
    pending_gpu = [
        task(
            cpus=1.0, mem=100.0, disk=5.0, gpus=1, host_ports=(0,), constraints=["hostname:UNIQUE"]
        )
    ]
    running = {"/app": [RunningOn("busy")]}
    placement = place(offers, pending_gpu, running)
    assert placement.not_placed["t1"] == WhyNot(
        offers=8,
        role=1,
        cpus=2,
        mem=2,
        disk=1,
        gpus=7,
        ports=1,
        constraints=(("hostname:UNIQUE", 1),),
    )
    assert placement.not_placed["t1"].counts() == {
        "role": 1,
        "cpus": 2,
        "mem": 2,
        "disk": 1,
        "gpus": 7,
        "ports": 1,
        "constraint hostname:UNIQUE": 1,
    }
    assert place(offers, pending, running).not_placed == {}


def test_why_not_judges_offers_by_what_this_batch_left_of_them() -> None:
    placement = place([offer(cpus=2.0)], tasks(3, cpus=1.0))
    assert placement.not_placed == {"t2": WhyNot(offers=1, cpus=1)}


def test_every_pending_task_gets_why_not_counts_even_with_no_offers() -> None:
    placement = place([], tasks(2))
    assert placement.not_placed == {"t0": WhyNot(offers=0), "t1": WhyNot(offers=0)}


# Output


def test_offers_without_launches_are_listed_for_decline_in_id_order() -> None:
    offers = [offer("o3", cpus=0.1), offer("o1", cpus=0.1), offer("o2")]
    placement = place(offers, [task()])
    assert placement.unused_offer_ids == ("o1", "o3")
    assert [plan.offer_id for plan in placement.plans] == ["o2"]
    assert placement.plans[0].agent_id == "agent-o2"
    assert place(offers, []).unused_offer_ids == ("o1", "o2", "o3")


def test_higher_priority_goes_first_then_queue_order_then_task_id() -> None:
    offers = [offer(cpus=1.0)]
    pending = [
        task("b", cpus=1.0, order=1),
        task("a", cpus=1.0, order=1),
        task("early", cpus=1.0, order=0),
        task("urgent", cpus=1.0, order=9, priority=5),
    ]
    assert where(place(offers, pending)) == {"urgent": "o1"}
    assert where(place(offers, pending[:3])) == {"early": "o1"}
    assert where(place(offers, pending[:2])) == {"a": "o1"}


def test_launches_carry_the_order_they_were_decided_in() -> None:
    placement = place([offer("o1"), offer("o2", cpus=8.0)], tasks(5, cpus=1.0))
    assert [launch.seq for launch in placement.launches] == [1, 2, 3, 4, 5]
    assert [launch.task_id for launch in placement.launches] == ["t0", "t1", "t2", "t3", "t4"]


def test_equal_specs_in_separate_objects_decide_like_one_shared_spec() -> None:
    offers = rack_offers("r1", "r2", "r1", cpus=2.0)
    shared = task(cpus=1.0, constraints=["rack:MAX_PER:3"]).spec
    together = [PendingTask(f"t{n}", shared, order=n) for n in range(6)]
    apart = [task(f"t{n}", cpus=1.0, constraints=["rack:MAX_PER:3"], order=n) for n in range(6)]
    assert apart[0].spec is not apart[1].spec
    assert place(offers, apart) == place(offers, together)


# Launch limit


def test_a_launch_limit_caps_a_batch_and_marks_the_rest_limited() -> None:
    placement = place([offer(cpus=8.0)], tasks(5, cpus=1.0), max_launches=3)
    assert sorted(where(placement)) == ["t0", "t1", "t2"]
    assert placement.not_placed == {
        "t3": WhyNot(offers=1, limited=True),
        "t4": WhyNot(offers=1, limited=True),
    }


def test_tasks_found_unplaceable_before_the_limit_keep_their_reasons() -> None:
    pending = [task("huge", cpus=64.0, order=0), *tasks(3, cpus=1.0, prefix="small")]
    for n, small in enumerate(pending[1:], start=1):
        pending[n] = PendingTask(small.task_id, small.spec, order=n)
    placement = place([offer(cpus=8.0)], pending, max_launches=1)
    assert placement.not_placed["huge"] == WhyNot(offers=1, cpus=1)
    assert placement.not_placed["small1"].limited


def test_a_launch_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_launches must be at least 1, got 0"):
        place([offer()], [task()], max_launches=0)


# Bad input


def test_it_refuses_a_task_id_pending_twice() -> None:
    with pytest.raises(ValueError, match="task id 't1' is pending twice"):
        place([offer()], [task("t1"), task("t1", order=3)])


def test_it_refuses_an_offer_id_given_twice() -> None:
    with pytest.raises(ValueError, match="offer ids must be unique"):
        place([offer("o1"), offer("o1")], [])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: task(cpus=-1.0), "cpus must be a finite number >= 0"),
        (lambda: task(mem=float("nan")), "mem must be a finite number >= 0"),
        (lambda: task(disk=float("inf")), "disk must be a finite number >= 0"),
        (lambda: offer(cpus=float("inf")), "cpus must be a finite number >= 0"),
        (lambda: task(host_ports=(80, 80)), "requested twice"),
        (lambda: task(host_ports=(70000,)), "within 0-65535"),
        (lambda: offer(disk=-5.0), "disk must be a finite number >= 0"),
        (lambda: offer(ports=((9, 8),)), "bad port range 9-8"),
    ],
)
def test_it_rejects_impossible_values(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


# Properties, against an independent reading of Marathon's rules

HOSTS = ["h1", "h2", "h3", "h4"]
RACKS = ["r1", "r2", "r3", None]
SPECS = [
    "hostname:UNIQUE",
    "@hostname:UNIQUE",
    "rack:UNIQUE",
    "rack:CLUSTER",
    "rack:CLUSTER:r1",
    "hostname:CLUSTER",
    "rack:GROUP_BY",
    "rack:GROUP_BY:3",
    "hostname:GROUP_BY:2",
    "rack:LIKE:r[12]",
    "rack:UNLIKE:r1",
    "hostname:MAX_PER:2",
    "rack:MAX_PER:1",
    "rack:IS:r2",
]


def _attrs(rack: str | None) -> dict[str, str]:
    return {} if rack is None else {"rack": rack}


@st.composite
def offers_st(draw: st.DrawFn) -> list[PlacementOffer]:
    count = draw(st.integers(0, 9))
    result = []
    for n in range(count):
        low = draw(st.sampled_from([31000, 31003]))
        ports = draw(st.sampled_from([(), ((low, low + 2),), ((31000, 31000), (31002, 31004))]))
        result.append(
            PlacementOffer(
                offer_id=f"o{n}",
                agent_id=f"a{n}",
                hostname=draw(st.sampled_from(HOSTS)),
                role=draw(st.sampled_from(["a", "b"])),
                cpus=draw(st.sampled_from([0.0, 0.3, 1.0, 2.5, 4.0])),
                mem=draw(st.sampled_from([0.0, 100.0, 512.0, 2048.0])),
                disk=draw(st.sampled_from([0.0, 50.0, 1000.0])),
                gpus=draw(st.sampled_from([0.0, 0.0, 1.0, 2.0])),
                ports=ports,
                attributes=_attrs(draw(st.sampled_from(RACKS))),
            )
        )
    return result


@st.composite
def tasks_st(draw: st.DrawFn) -> list[PendingTask]:
    result: list[PendingTask] = []
    for template in range(draw(st.integers(0, 6))):
        fixed = draw(st.sampled_from([(), (0,), (0, 0), (31000,), (0, 31002), (31004, 31001)]))
        spec = PlacementSpec(
            group=draw(st.sampled_from(["g1", "g2", "g3"])),
            role=draw(st.sampled_from(["a", "b"])),
            cpus=draw(st.sampled_from([0.0, 0.1, 0.25, 1.0, 2.0])),
            mem=draw(st.sampled_from([0.0, 32.0, 100.0, 600.0])),
            disk=draw(st.sampled_from([0.0, 10.0, 400.0])),
            gpus=draw(st.sampled_from([0, 0, 0, 1])),
            host_ports=fixed,
            constraints=parse_constraints(draw(st.lists(st.sampled_from(SPECS), max_size=2))),
        )
        for instance in range(draw(st.integers(1, 6))):
            result.append(
                PendingTask(
                    task_id=f"t{template}.{instance}",
                    spec=spec,
                    priority=draw(st.sampled_from([0, 0, 1])),
                    order=draw(st.integers(0, 5)),
                )
            )
    return result


running_st = st.dictionaries(
    st.sampled_from(["g1", "g2", "g3"]),
    st.lists(
        st.builds(
            RunningOn,
            hostname=st.sampled_from(HOSTS),
            attributes=st.sampled_from(RACKS).map(_attrs),
            count=st.integers(1, 2),
        ),
        max_size=3,
    ),
)


def _value(name: str, hostname: str, attributes: Mapping[str, str]) -> str | None:
    return hostname if name in ("hostname", "@hostname") else attributes.get(name)


def _marathon_accepts(constraint: Constraint, value: str | None, placed: list[str | None]) -> bool:
    """Marathon's ConstraintsChecker, re-read from Constraints.scala, on a plain list."""
    op, operand = constraint.operator, constraint.value or ""
    if value is None:
        return op is Operator.UNLIKE
    groups = Counter(placed)
    if op is Operator.LIKE:
        return re.fullmatch(operand, value) is not None
    if op is Operator.UNLIKE:
        return re.fullmatch(operand, value) is None
    if op is Operator.UNIQUE:
        return all(p != value for p in placed)
    if op is Operator.MAX_PER:
        return groups[value] < int(operand)
    if op is Operator.IS:
        return value == (
            format_scalar(float(operand)) if re.fullmatch(r"[0-9.]+", operand) else operand
        )
    if op is Operator.GROUP_BY:
        minimum = int(operand) if operand else 0
        if value not in groups:
            return True
        return len(groups) >= minimum and groups[value] == min(groups.values())
    if operand:
        return value == operand
    if not placed:
        return True
    anchor = min(groups.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))[0]
    return value == anchor


class _World:
    """The offers after a placement, rebuilt without the engine's data structures."""

    def __init__(self, offers, pending, running, overhead, placement):  # type: ignore[no-untyped-def]
        self.offers = {o.offer_id: o for o in offers}
        self.tasks = {t.task_id: t.spec for t in pending}
        self.overhead = overhead
        self.left = {
            o.offer_id: [milli(o.cpus), milli(o.mem), milli(o.disk), milli(o.gpus)] for o in offers
        }
        self.free = {o.offer_id: {p for b, e in o.ports for p in range(b, e + 1)} for o in offers}
        self.placed: dict[str, list[str | None]] = {}
        self.running = running
        self.placement = placement

    def need(self, t: PlacementSpec) -> list[int]:
        o = self.overhead
        return [
            milli(t.cpus) + milli(o.cpus),
            milli(t.mem) + milli(o.mem),
            milli(t.disk) + milli(o.disk),
            milli(t.gpus),
        ]

    def placed_values(self, group: str, name: str) -> list[str | None]:
        values = [
            _value(name, r.hostname, r.attributes)
            for r in self.running.get(group, [])
            for _ in range(r.count)
        ]
        return values + [_value(name, *where) for where in self.placed.get(group, [])]

    def replay(self) -> None:
        for launch in self.placement.launches:
            t, o = self.tasks[launch.task_id], self.offers[launch.offer_id]
            assert t.role == o.role
            for constraint in t.constraints:
                value = _value(constraint.field, o.hostname, o.attributes)
                assert _marathon_accepts(
                    constraint, value, self.placed_values(t.group, constraint.field)
                ), (
                    launch,
                    constraint,
                )
            self.placed.setdefault(t.group, []).append((o.hostname, o.attributes))
            left = self.left[o.offer_id]
            for dim, amount in enumerate(self.need(t)):
                left[dim] -= amount
                assert left[dim] >= 0, (launch, dim)
            assert len(launch.ports) == len(t.host_ports)
            for wanted, got in zip(t.host_ports, launch.ports, strict=True):
                assert wanted in (0, got)
                assert got in self.free[o.offer_id], (launch, got)
                self.free[o.offer_id].remove(got)

    def reasons(self, task_id: str) -> WhyNot:
        t = self.tasks[task_id]
        counts: Counter[str] = Counter()
        for offer_id, o in self.offers.items():
            if o.role != t.role:
                counts["role"] += 1
                continue
            failed = [
                name
                for name, have, need in zip(
                    ("cpus", "mem", "disk", "gpus"), self.left[offer_id], self.need(t), strict=True
                )
                if have < need
            ]
            free = self.free[offer_id]
            if len(free) < len(t.host_ports) or any(p and p not in free for p in t.host_ports):
                failed.append("ports")
            for c in dict.fromkeys(t.constraints):
                if not _marathon_accepts(
                    c,
                    _value(c.field, o.hostname, o.attributes),
                    self.placed_values(t.group, c.field),
                ):
                    failed.append(str(c))
            assert failed, f"{task_id} stayed pending though {offer_id} takes it"
            counts.update(failed)
        specs = dict.fromkeys(str(c) for c in t.constraints)
        return WhyNot(
            offers=len(self.offers),
            role=counts["role"],
            cpus=counts["cpus"],
            mem=counts["mem"],
            disk=counts["disk"],
            gpus=counts["gpus"],
            ports=counts["ports"],
            constraints=tuple((spec, counts[spec]) for spec in specs if counts[spec]),
        )


def _check(offers, pending, running, overhead, max_launches=None) -> Placement:  # type: ignore[no-untyped-def]
    placement = place_tasks(offers, pending, running, overhead=overhead, max_launches=max_launches)
    launched = [launch.task_id for launch in placement.launches]
    assert len(launched) == len(set(launched))
    assert set(launched).isdisjoint(placement.not_placed)
    assert set(launched) | set(placement.not_placed) == {t.task_id for t in pending}
    used = {plan.offer_id for plan in placement.plans}
    assert set(placement.unused_offer_ids) == {o.offer_id for o in offers} - used
    for plan in placement.plans:
        assert plan.launches and all(launch.offer_id == plan.offer_id for launch in plan.launches)
    world = _World(offers, pending, running, overhead, placement)
    world.replay()
    for task_id, why in placement.not_placed.items():
        if why.limited:
            assert max_launches is not None and len(launched) == max_launches
            assert why == WhyNot(offers=len(offers), limited=True)
        else:
            assert why == world.reasons(task_id)
    return placement


@settings(max_examples=200, deadline=None)
@given(offers_st(), tasks_st(), running_st, st.sampled_from([NO_OVERHEAD, COMMAND_EXECUTOR]))
def test_placements_never_overcommit_break_constraints_or_cross_roles(
    offers: list[PlacementOffer],
    pending: list[PendingTask],
    running: dict[str, list[RunningOn]],
    overhead: ExecutorOverhead,
) -> None:
    """And every task is placed once or pending with exact why-not counts, no offer taking it."""
    _check(offers, pending, running, overhead)


@settings(max_examples=100, deadline=None)
@given(offers_st(), tasks_st(), running_st, st.integers(1, 12))
def test_a_launch_limit_stops_the_same_decision_early(
    offers: list[PlacementOffer],
    pending: list[PendingTask],
    running: dict[str, list[RunningOn]],
    max_launches: int,
) -> None:
    capped = _check(offers, pending, running, COMMAND_EXECUTOR, max_launches)
    full = place_tasks(offers, pending, running)
    assert capped.launches == full.launches[:max_launches]


@settings(max_examples=100, deadline=None)
@given(offers_st(), tasks_st(), running_st, st.randoms(use_true_random=False))
def test_the_decision_does_not_depend_on_input_order(
    offers: list[PlacementOffer],
    pending: list[PendingTask],
    running: dict[str, list[RunningOn]],
    rng: random.Random,
) -> None:
    first = place_tasks(offers, pending, running)
    rng.shuffle(offers)
    rng.shuffle(pending)
    assert place_tasks(offers, pending, running) == first


def test_a_larger_mixed_batch_keeps_every_invariant() -> None:
    rng = random.Random(7)
    offers = [
        PlacementOffer(
            offer_id=f"o{n:03d}",
            agent_id=f"a{n}",
            hostname=f"h{n % 60}",
            role=rng.choice(["a", "b"]),
            cpus=rng.choice([1.0, 2.0, 4.0, 8.0]),
            mem=rng.choice([1024.0, 4096.0, 8192.0]),
            disk=1000.0,
            gpus=rng.choice([0.0] * 9 + [2.0]),
            ports=((31000, 31000 + rng.randrange(0, 20)),),
            attributes={"rack": f"r{n % 7}"},
        )
        for n in range(120)
    ]
    specs = [
        PlacementSpec(
            group=f"g{n}",
            role=rng.choice(["a", "b"]),
            cpus=[0.1, 0.5, 1.0, 2.0][n % 4],
            mem=[64.0, 256.0, 1024.0][n % 3],
            gpus=1 if n == 24 else 0,
            host_ports=(0,) * (n % 3),
            constraints=parse_constraints([SPECS[n % len(SPECS)]] if n < 12 else []),
        )
        for n in range(25)
    ]
    pending = [
        PendingTask(f"t{n:04d}", specs[n % 25], order=n if n % 2 else n // 25) for n in range(900)
    ]
    running = {"g1": [RunningOn("h1", {"rack": "r1"}, count=3)]}
    placement = _check(offers, pending, running, COMMAND_EXECUTOR)
    assert placement.plans and placement.not_placed
