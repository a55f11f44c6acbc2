"""Fault controls: agent removal and partition, master restart, heartbeats, injected records."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.devcluster.client import Scheduler, framework_info, task

pytestmark = pytest.mark.devcluster("--agents", "2")

AWARE = ["MULTI_ROLE", "PARTITION_AWARE"]


def _offer_on(scheduler: Scheduler, agent_id: str) -> dict:
    while True:
        for offer in scheduler.offers():
            if offer["agent_id"]["value"] == agent_id:
                return offer
            scheduler.decline(offer, refuse_seconds=30)


def _running(
    devcluster, subscribe, name: str, agent_index: int, capabilities: list[str]
) -> Scheduler:
    scheduler = subscribe(devcluster.url, framework_info(name, capabilities=capabilities))
    agent = devcluster.agent_ids[agent_index]
    scheduler.launch(_offer_on(scheduler, agent), task(name, agent), filters={"refuse_seconds": 0})
    scheduler.wait_state(name, "TASK_RUNNING")
    # Give every offer back and ask for no more, so that other frameworks get the agents.
    scheduler.call("SUPPRESS")
    offers = [
        o for e in scheduler.stream.received if e["type"] == "OFFERS" for o in e["offers"]["offers"]
    ]
    scheduler.decline(*offers, refuse_seconds=60)
    return scheduler


def test_removing_an_agent_loses_or_gones_its_tasks_and_tells_everyone(devcluster, subscribe):
    aware = _running(devcluster, subscribe, "aware", 1, AWARE)
    plain = _running(devcluster, subscribe, "plain", 1, ["MULTI_ROLE"])
    agent = devcluster.agent_ids[1]
    devcluster.remove_agent(agent)
    gone = aware.stream.wait_for("UPDATE")["update"]["status"]
    lost = plain.stream.wait_for("UPDATE")["update"]["status"]
    assert (gone["state"], gone["reason"], gone["source"]) == (
        "TASK_GONE",
        "REASON_AGENT_REMOVED",
        "SOURCE_MASTER",
    )
    assert (lost["state"], lost["reason"]) == ("TASK_LOST", "REASON_AGENT_REMOVED")
    assert "uuid" not in gone and "uuid" not in lost
    for scheduler in (aware, plain):
        failure = scheduler.stream.wait_for("FAILURE")
        assert failure["failure"] == {"agent_id": {"value": agent}}
    aware.reconcile(("aware", agent))
    unknown = aware.stream.wait_for("UPDATE")["update"]["status"]
    assert (unknown["state"], unknown["message"]) == (
        "TASK_UNKNOWN",
        "Reconciliation: Task is unknown",
    )


def test_offers_on_a_removed_agent_are_rescinded(devcluster, subscribe):
    scheduler = subscribe(devcluster.url)
    agent = devcluster.agent_ids[1]
    offer = _offer_on(scheduler, agent)
    devcluster.remove_agent(agent)
    rescind = scheduler.stream.wait_for("RESCIND")
    assert rescind["rescind"] == {"offer_id": offer["id"]}
    scheduler.launch(offer, task("too-late", agent))
    late = scheduler.stream.wait_for("UPDATE")["update"]["status"]
    assert (late["state"], late["reason"]) == ("TASK_LOST", "REASON_INVALID_OFFERS")


def test_an_agent_marked_gone_makes_its_tasks_gone_by_operator(devcluster, subscribe):
    aware = _running(devcluster, subscribe, "marked", 1, AWARE)
    agent = devcluster.agent_ids[1]
    devcluster.remove_agent(agent, gone=True)
    status = aware.stream.wait_for("UPDATE")["update"]["status"]
    assert (status["state"], status["reason"]) == (
        "TASK_GONE_BY_OPERATOR",
        "REASON_AGENT_REMOVED_BY_OPERATOR",
    )
    aware.reconcile(("marked", agent))
    answer = aware.stream.wait_for("UPDATE")["update"]["status"]
    assert (answer["state"], answer["message"]) == (
        "TASK_GONE_BY_OPERATOR",
        "Reconciliation: Task is gone",
    )


def test_a_partitioned_agent_makes_tasks_unreachable_until_it_heals(devcluster, subscribe):
    aware = _running(devcluster, subscribe, "partitioned", 1, AWARE)
    plain = _running(devcluster, subscribe, "partitioned-plain", 1, ["MULTI_ROLE"])
    agent = devcluster.agent_ids[1]
    devcluster.partition_agent(agent)
    unreachable = aware.stream.wait_for("UPDATE")["update"]["status"]
    assert unreachable["state"] == "TASK_UNREACHABLE"
    assert unreachable["unreachable_time"]["nanoseconds"] > 0
    assert plain.stream.wait_for("UPDATE")["update"]["status"]["state"] == "TASK_LOST"
    aware.reconcile(("partitioned", agent))
    answer = aware.stream.wait_for("UPDATE")["update"]["status"]
    assert (answer["state"], answer["message"]) == (
        "TASK_UNREACHABLE",
        "Reconciliation: Task is unreachable",
    )
    state = httpx.get(f"{devcluster.url}/master/state").json()
    assert state["unreachable_slaves"] == 1.0

    devcluster.heal_agent(agent)
    for scheduler, task_id in ((aware, "partitioned"), (plain, "partitioned-plain")):
        scheduler.reconcile((task_id, agent))
        back = scheduler.stream.wait_for(
            "UPDATE", where=lambda e: e["update"]["status"]["source"] == "SOURCE_MASTER"
        )
        assert back["update"]["status"]["state"] == "TASK_RUNNING"
    aware.call("REVIVE")
    assert _offer_on(aware, agent)["agent_id"]["value"] == agent


def test_a_master_restart_keeps_tasks_running_for_frameworks_that_come_back(devcluster, subscribe):
    scheduler = _running(devcluster, subscribe, "through-restart", 0, ["MULTI_ROLE"])
    old_master = httpx.get(f"{devcluster.url}/master/state").json()["id"]
    new_master = devcluster.restart_master()["master_id"]
    assert new_master != old_master
    assert scheduler.stream.wait_closed() != "eof"  # dropped, as by a crashed master
    assert scheduler.call("REVIVE").status_code == 403  # known again only from its agent
    stream = scheduler.resubscribe()
    subscribed = stream.wait_for("SUBSCRIBED")["subscribed"]
    assert subscribed["master_info"]["id"] == new_master
    assert subscribed["framework_id"]["value"] == scheduler.framework_id
    scheduler.reconcile(("through-restart", devcluster.agent_ids[0]))
    answer = stream.wait_for(
        "UPDATE", where=lambda e: e["update"]["status"]["source"] == "SOURCE_MASTER"
    )
    assert answer["update"]["status"]["state"] == "TASK_RUNNING"
    framework = httpx.get(f"{devcluster.url}/master/frameworks").json()["frameworks"][0]
    assert (framework["name"], framework["user"], framework["recovered"]) == (
        "through-restart",
        "root",
        False,
    )
    fresh = subscribe(devcluster.url)
    assert fresh.framework_id.startswith(new_master)


def test_reconciliation_waits_for_agents_that_have_not_re_registered(devcluster, subscribe):
    scheduler = _running(devcluster, subscribe, "recovering", 0, ["MULTI_ROLE"])
    devcluster.restart_master(agent_delay=2.0)
    stream = scheduler.resubscribe()
    stream.wait_for("SUBSCRIBED")
    started = time.monotonic()
    scheduler.reconcile(("recovering", devcluster.agent_ids[0]))
    with pytest.raises(TimeoutError):
        stream.wait_for(
            "UPDATE",
            timeout=0.5,
            where=lambda e: e["update"]["status"]["source"] == "SOURCE_MASTER",
        )
    while time.monotonic() - started < 2.5:
        time.sleep(0.1)
    scheduler.reconcile(("recovering", devcluster.agent_ids[0]))
    answer = stream.wait_for(
        "UPDATE", where=lambda e: e["update"]["status"]["source"] == "SOURCE_MASTER"
    )
    assert answer["update"]["status"]["state"] == "TASK_RUNNING"


def test_heartbeats_can_be_stopped_and_resumed(devcluster, subscribe):
    scheduler = subscribe(devcluster.url)
    scheduler.stream.wait_for("HEARTBEAT")
    devcluster.stop_heartbeats(scheduler.framework_id)
    time.sleep(0.2)
    count = len([e for e in scheduler.stream.received if e["type"] == "HEARTBEAT"])
    time.sleep(2.2)
    assert len([e for e in scheduler.stream.received if e["type"] == "HEARTBEAT"]) == count
    devcluster.resume_heartbeats()
    scheduler.stream.wait_for("HEARTBEAT", timeout=3)


def test_an_injected_record_reaches_the_stream_as_is(devcluster, subscribe):
    scheduler = subscribe(devcluster.url)
    assert (
        devcluster.inject_record(scheduler.framework_id, b'{"type":"SOMETHING_NEW"}')["bytes"] == 24
    )
    assert scheduler.stream.wait_for("SOMETHING_NEW") == {"type": "SOMETHING_NEW"}


def test_fault_controls_refuse_unknown_targets_with_404(devcluster):
    assert httpx.post(f"{devcluster.url}/devcluster/agents/nope/partition").status_code == 404
    assert httpx.post(f"{devcluster.url}/devcluster/frameworks/nope/drop").status_code == 404
    assert (
        httpx.post(
            f"{devcluster.url}/devcluster/master/restart", params={"agent_delay": "x"}
        ).status_code
        == 400
    )
    listing = httpx.get(f"{devcluster.url}/devcluster").json()
    assert [a["id"] for a in listing["agents"]] == devcluster.agent_ids
