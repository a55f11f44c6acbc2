"""ACCEPT/LAUNCH held to 02-launch-finish, 03-launch-fail, 05-launch-errors and 06-ports."""

from __future__ import annotations

import pytest

from tests.devcluster import golden, replay
from tests.devcluster.client import Scheduler, framework_info, task

pytestmark = pytest.mark.devcluster


def _run_recorded(cluster, scheduler: Scheduler, name: str, index: int = 0) -> list[dict]:
    """Send the scenario's ACCEPT on our first offer; return the launched tasks' updates."""
    offer = scheduler.offers()[0]
    body = replay.accept_body(
        replay.calls(name, "ACCEPT")[index]["body"],
        scheduler.framework_id,
        offer["id"]["value"],
        cluster.agent_ids[0],
        cluster.master_id,
    )
    response = scheduler.post(body)
    assert (response.status_code, response.text) == (202, "")
    assert "Content-Type" not in response.headers
    return [scheduler.wait_state(t, "TASK_FINISHED") for t in replay.task_ids(body)]


def test_a_command_task_runs_to_finished_like_on_the_real_master(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url, framework_info("golden-launch-finish"))
    _run_recorded(devcluster_module, scheduler, "02-launch-finish")
    ours = [e["update"]["status"] for e in scheduler.stream.received if e["type"] == "UPDATE"]
    recorded = golden.updates("02-launch-finish")
    assert [s["state"] for s in ours] == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    for status, expected in zip(ours, recorded, strict=True):
        golden.assert_like(status, expected)


def test_a_larger_offer_passes_the_default_filter_once_the_task_is_done(
    devcluster_module, subscribe
):
    scheduler = subscribe(devcluster_module.url)
    _run_recorded(devcluster_module, scheduler, "02-launch-finish")
    # 5 s default filter on the unused part, but the freed resources make a larger offer.
    offer = scheduler.offers(timeout=3)
    golden.assert_like(offer, golden.events("02-launch-finish", "OFFERS")[1]["offers"]["offers"])


def test_a_failing_command_ends_failed_with_its_exit_status(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    offer = scheduler.offers()[0]
    scheduler.launch(offer, task("exit-3", devcluster_module.agent_ids[0], "exit 3"))
    status = scheduler.wait_state("exit-3", "TASK_FAILED")
    golden.assert_like(status, golden.updates("03-launch-fail")[-1])


ERROR_CASES = [c for c in replay.calls("05-launch-errors", "ACCEPT") if c["note"]]


@pytest.mark.parametrize(
    "case",
    [c for c in ERROR_CASES if "dup" not in c["note"] and "stale" not in c["note"]],
    ids=lambda c: c["note"],
)
def test_an_invalid_launch_comes_back_as_the_real_masters_update(
    devcluster_module, subscribe, case
):
    capabilities = ["MULTI_ROLE"]
    if "PARTITION_AWARE" in case["note"]:
        capabilities.append("PARTITION_AWARE")
    scheduler = subscribe(devcluster_module.url, framework_info(capabilities=capabilities))
    offer = scheduler.offers()[0]
    body = replay.accept_body(
        case["body"],
        scheduler.framework_id,
        offer["id"]["value"],
        devcluster_module.agent_ids[0],
        devcluster_module.master_id,
    )
    assert scheduler.post(body).status_code == 202
    task_id = replay.task_ids(body)[0]
    ours = scheduler.stream.wait_for("UPDATE")["update"]["status"]
    recorded = next(
        s for s in golden.updates("05-launch-errors") if s["task_id"]["value"] == task_id
    )
    golden.assert_like(ours, recorded)


def test_a_duplicate_task_id_is_an_error_and_the_running_task_is_untouched(
    devcluster_module, subscribe
):
    scheduler = subscribe(devcluster_module.url)
    agent = devcluster_module.agent_ids[0]
    scheduler.launch(scheduler.offers()[0], task("dup", agent), filters={"refuse_seconds": 0})
    scheduler.wait_state("dup", "TASK_RUNNING")
    scheduler.launch(scheduler.offers()[0], task("dup", agent, "echo second"))
    error = scheduler.stream.wait_for("UPDATE")["update"]["status"]
    recorded = [s for s in golden.updates("05-launch-errors") if s["state"] == "TASK_ERROR"][-1]
    golden.assert_like(error, recorded)
    found = scheduler.reconcile(("dup", agent))
    assert found.status_code == 202
    assert scheduler.stream.wait_for("UPDATE")["update"]["status"]["state"] == "TASK_RUNNING"


def test_an_offer_can_be_used_only_once(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    agent = devcluster_module.agent_ids[0]
    offer = scheduler.offers()[0]
    scheduler.launch(offer, task("first-use", agent, "echo hi"))
    scheduler.wait_state("first-use", "TASK_FINISHED")
    scheduler.launch(offer, task("stale-offer", agent, "echo hi"))
    lost = scheduler.stream.wait_for(
        "UPDATE", where=lambda e: e["update"]["status"]["task_id"]["value"] == "stale-offer"
    )["update"]["status"]
    recorded = next(
        s for s in golden.updates("05-launch-errors") if s["task_id"]["value"] == "stale-offer"
    )
    golden.assert_like(lost, recorded)


def test_tasks_may_use_a_custom_port_range_and_the_rest_is_offered(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    agent = devcluster_module.agent_ids[0]
    ports = {
        "name": "ports",
        "type": "RANGES",
        "ranges": {"range": [{"begin": 31005, "end": 31007}]},
    }
    sleeper = task("ports-sleep", agent)
    sleeper["resources"].append(ports)
    scheduler.launch(scheduler.offers()[0], sleeper, filters={"refuse_seconds": 0})
    scheduler.wait_state("ports-sleep", "TASK_RUNNING")
    offer = scheduler.offers()[0]
    left = next(r for r in offer["resources"] if r["name"] == "ports")["ranges"]["range"]
    assert left == [{"begin": 31000, "end": 31004}, {"begin": 31008, "end": 31100}]


def test_tasks_in_one_accept_share_the_offer_and_each_is_checked(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    agent = devcluster_module.agent_ids[0]
    first = task("share-1", agent, "echo one", cpus=1.5)
    second = task("share-2", agent, "echo two", cpus=1.0)
    scheduler.launch(scheduler.offers()[0], first, second)
    statuses = {}
    for _ in range(2):
        status = scheduler.stream.wait_for("UPDATE")["update"]["status"]
        statuses[status["task_id"]["value"]] = status
    assert statuses["share-1"]["state"] == "TASK_STARTING"
    assert statuses["share-2"]["state"] == "TASK_ERROR"
    assert "cpus(allocated: *):0.5" in statuses["share-2"]["message"]


def test_the_master_does_not_count_the_command_executors_overhead(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    whole = task("whole-agent", devcluster_module.agent_ids[0], "echo all", cpus=2, mem=2048)
    scheduler.launch(scheduler.offers()[0], whole)
    assert scheduler.wait_state("whole-agent", "TASK_FINISHED")["state"] == "TASK_FINISHED"


def test_launch_group_runs_every_task_of_the_group(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    agent = devcluster_module.agent_ids[0]
    offer = scheduler.offers()[0]
    executor = {
        "type": "DEFAULT",
        "executor_id": {"value": "group-executor"},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
        ],
    }
    tasks = [task("group-a", agent, "echo a"), task("group-b", agent, "echo b")]
    body = {
        "offer_ids": [offer["id"]],
        "operations": [
            {
                "type": "LAUNCH_GROUP",
                "launch_group": {"executor": executor, "task_group": {"tasks": tasks}},
            }
        ],
    }
    assert scheduler.call("ACCEPT", body).status_code == 202
    for task_id in ("group-a", "group-b"):
        assert scheduler.wait_state(task_id, "TASK_FINISHED")["state"] == "TASK_FINISHED"


def test_an_unacknowledged_update_is_resent_and_holds_back_the_next(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    scheduler.launch(scheduler.offers()[0], task("held", devcluster_module.agent_ids[0]))
    starting = scheduler.stream.wait_for("UPDATE")["update"]["status"]
    again = scheduler.stream.wait_for("UPDATE", timeout=5)["update"]["status"]
    assert (again["state"], again["uuid"]) == ("TASK_STARTING", starting["uuid"])
    assert scheduler.ack(again).status_code == 202
    running = scheduler.stream.wait_for("UPDATE")["update"]["status"]
    assert running["state"] == "TASK_RUNNING"
    assert running["uuid"] != starting["uuid"]


def test_acknowledging_a_terminal_update_forgets_the_task(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    agent = devcluster_module.agent_ids[0]
    scheduler.launch(scheduler.offers()[0], task("forgotten", agent, "echo bye"))
    scheduler.wait_state("forgotten", "TASK_FINISHED")
    scheduler.reconcile(("forgotten", agent))
    answer = scheduler.stream.wait_for("UPDATE")["update"]["status"]
    assert (answer["state"], answer["message"]) == (
        "TASK_LOST",
        "Reconciliation: Task is unknown to the agent",
    )
