"""Several frameworks, MULTI_ROLE allocation, static reservations and offer constraints."""

from __future__ import annotations

import httpx
import pytest

from tests.devcluster.client import framework_info, task

pytestmark = pytest.mark.devcluster(
    "--agents",
    "2",
    "--reserve",
    "web:cpus=0.5;mem=256",
    "--agent-attributes",
    "rack:r{i};zone:z{i%2}",
)


def _quantities(offer: dict, role: str | None = None) -> dict[str, float]:
    found: dict[str, float] = {}
    for resource in offer["resources"]:
        reserved = (
            resource.get("role", "*")
            if "reservations" not in resource
            else resource["reservations"][-1]["role"]
        )
        if "scalar" in resource and (role is None or reserved == role):
            found[resource["name"]] = found.get(resource["name"], 0.0) + resource["scalar"]["value"]
    return found


def test_each_framework_gets_its_own_offers_and_nothing_is_offered_twice(
    devcluster_module, subscribe
):
    first = subscribe(devcluster_module.url)
    held = first.offers()
    assert len(held) == 2  # one per agent: the first framework holds everything
    second = subscribe(devcluster_module.url)
    with pytest.raises(TimeoutError):
        second.offers(timeout=1.0)
    first.decline(held[0], refuse_seconds=30)
    offer = second.offers()[0]
    assert offer["agent_id"] == held[0]["agent_id"]
    assert offer["framework_id"]["value"] == second.framework_id
    assert _quantities(offer) == _quantities(held[0])


def test_multi_role_offers_carry_their_allocation_role(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url, framework_info(roles=["web", "batch"]))
    first = scheduler.offers()
    assert {o["allocation_info"]["role"] for o in first} == {"web"}
    scheduler.decline(*first, refuse_seconds=30)
    then = scheduler.offers()
    assert {o["allocation_info"]["role"] for o in then} == {"batch"}
    for offer in first + then:
        role = offer["allocation_info"]["role"]
        assert all(r["allocation_info"] == {"role": role} for r in offer["resources"])
    assert all(r["role"] == "*" for o in then for r in o["resources"])


def test_reserved_resources_are_offered_only_to_their_role_in_the_old_format(
    devcluster_module, subscribe
):
    web = subscribe(devcluster_module.url, framework_info(roles=["web"]))
    offer = web.offers()[0]
    assert _quantities(offer, "web") == {"cpus": 0.5, "mem": 256.0}
    assert _quantities(offer, "*")["cpus"] == 1.5
    reserved = [r for r in offer["resources"] if r.get("role") == "web"]
    assert all("reservations" not in r for r in reserved)


def test_refinement_capable_frameworks_see_the_new_reservation_format(devcluster_module, subscribe):
    info = framework_info(roles=["web"], capabilities=["MULTI_ROLE", "RESERVATION_REFINEMENT"])
    offer = subscribe(devcluster_module.url, info).offers()[0]
    reserved = [r for r in offer["resources"] if "reservations" in r]
    assert {r["name"] for r in reserved} == {"cpus", "mem"}
    assert all(r["reservations"] == [{"type": "STATIC", "role": "web"}] for r in reserved)
    assert all("role" not in r for r in offer["resources"])


def test_a_framework_of_another_role_gets_only_unreserved_resources(devcluster_module, subscribe):
    offer = subscribe(devcluster_module.url).offers()[0]
    assert _quantities(offer, "web") == {}
    assert _quantities(offer)["cpus"] == 1.5


def test_tasks_can_run_on_reserved_resources(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url, framework_info(roles=["web"]))
    offer = scheduler.offers()[0]
    agent = offer["agent_id"]["value"]
    reserved = task("on-reserved", agent, cpus=0.5, mem=256)
    for resource in reserved["resources"]:
        resource["role"] = "web"
    scheduler.launch(offer, reserved)
    scheduler.wait_state("on-reserved", "TASK_RUNNING")
    roles = httpx.get(f"{devcluster_module.url}/master/roles").json()["roles"]
    web = next(r for r in roles if r["name"] == "web")
    assert web["allocated"] == {"cpus": 0.5, "mem": 256.0}
    assert web["reserved"] == {"cpus": 1.0, "mem": 512.0}


def test_a_framework_without_multi_role_uses_its_single_role(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url, {"user": "root", "name": "single", "role": "web"})
    offer = scheduler.offers()[0]
    assert "allocation_info" not in offer
    assert _quantities(offer, "web") == {"cpus": 0.5, "mem": 256.0}


def test_offers_carry_attributes_and_honour_offer_constraints(devcluster_module, subscribe):
    constraints = {
        "role_constraints": {
            "*": {
                "groups": [
                    {
                        "attribute_constraints": [
                            {
                                "selector": {"attribute_name": "rack"},
                                "predicate": {"text_equals": {"value": "r1"}},
                            }
                        ]
                    }
                ]
            }
        }
    }
    scheduler = subscribe(devcluster_module.url, offer_constraints=constraints)
    offers = scheduler.offers()
    assert [o["agent_id"]["value"] for o in offers] == [devcluster_module.agent_ids[1]]
    attributes = {a["name"]: a["text"]["value"] for a in offers[0]["attributes"]}
    assert attributes == {"rack": "r1", "zone": "z1"}
    with pytest.raises(TimeoutError):
        scheduler.offers(timeout=1.0)


def test_agents_have_distinct_loopback_hostnames(devcluster_module):
    hosts = [a["hostname"] for a in devcluster_module.agents]
    assert hosts == ["127.0.0.2", "127.0.0.3"]
    slaves = httpx.get(f"{devcluster_module.url}/master/slaves").json()["slaves"]
    assert sorted(s["attributes"]["rack"] for s in slaves) == ["r0", "r1"]
