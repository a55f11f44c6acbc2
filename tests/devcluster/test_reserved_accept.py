"""ACCEPT against static reservations, checked as a real master checks it: a task's reserved
resources must be contained in the offer's, reservation info and all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.devcluster.client import Scheduler, framework_info, task
from tests.devcluster_fixture import DevCluster

pytestmark = pytest.mark.devcluster("--reserve", "web:cpus=1;mem=512")

Json = dict[str, Any]


def scalar(name: str, value: float, **owner: Any) -> Json:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}, **owner}


def web_offer(scheduler: Scheduler) -> tuple[Json, str]:
    offer = scheduler.offers()[0]
    return offer, offer["agent_id"]["value"]


def test_reserved_cpus_beyond_the_offers_reservation_are_refused(
    devcluster_module: DevCluster, subscribe: Callable[..., Scheduler]
) -> None:
    scheduler = subscribe(devcluster_module.url, framework_info(roles=["web"]))
    offer, agent = web_offer(scheduler)
    # The agent has 2 cpus: 1.5 would fit unreserved and reserved together, not reserved alone.
    greedy = task("greedy", agent, resources=[scalar("cpus", 1.5, role="web")])

    scheduler.launch(offer, greedy)

    status = scheduler.wait_state("greedy", "TASK_ERROR")
    assert status["reason"] == "REASON_TASK_INVALID"
    assert status["message"].startswith(
        "Total resources cpus(allocated: web)(reservations: [(STATIC,web)]):1.5 required by "
        "task and its executor is more than available"
    )


def test_a_reservation_the_offer_does_not_hold_is_refused_though_its_role_matches(
    devcluster_module: DevCluster, subscribe: Callable[..., Scheduler]
) -> None:
    scheduler = subscribe(devcluster_module.url, framework_info(roles=["web"]))
    offer, agent = web_offer(scheduler)
    dynamic = scalar("cpus", 0.5, role="web", reservation={"principal": "ops"})

    scheduler.launch(offer, task("dynamic", agent, resources=[dynamic]))

    status = scheduler.wait_state("dynamic", "TASK_ERROR")
    assert status["message"].startswith(
        "Total resources cpus(allocated: web)(reservations: [(DYNAMIC,web,ops)]):0.5 required"
    )


def test_one_need_split_over_reserved_and_unreserved_parts_counts_as_their_sum(
    devcluster_module: DevCluster, subscribe: Callable[..., Scheduler]
) -> None:
    scheduler = subscribe(devcluster_module.url, framework_info(roles=["web"]))
    offer, agent = web_offer(scheduler)
    split = [scalar("cpus", 1, role="web"), scalar("cpus", 0.5), scalar("mem", 32)]
    short = task("short", agent, resources=split, limits={"cpus": {"value": 1.2}})
    enough = task("enough", agent, resources=split, limits={"cpus": {"value": 1.5}})

    scheduler.launch(offer, short, enough)

    refused = scheduler.wait_state("short", "TASK_ERROR")
    assert refused["message"] == "Resource limit for 'cpus' must be at least its request"
    scheduler.wait_state("enough", "TASK_RUNNING")


def test_a_subrole_is_offered_and_may_use_its_ancestors_reservation(
    devcluster_module: DevCluster, subscribe: Callable[..., Scheduler]
) -> None:
    scheduler = subscribe(devcluster_module.url, framework_info(roles=["web/api"]))
    offer, agent = web_offer(scheduler)
    reserved = [r for r in offer["resources"] if r.get("role") == "web"]
    assert {r["name"]: r["scalar"]["value"] for r in reserved} == {"cpus": 1.0, "mem": 512.0}
    assert all(r["allocation_info"] == {"role": "web/api"} for r in reserved)

    on_web = task("on-web", agent, resources=[scalar("cpus", 1, role="web")])
    scheduler.launch(offer, on_web)

    scheduler.wait_state("on-web", "TASK_RUNNING")
