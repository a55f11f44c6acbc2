"""KILL held to 04-kill, RECONCILE to 07-reconcile and the partition-aware table."""

from __future__ import annotations

import time

import pytest

from tests.devcluster import golden
from tests.devcluster.client import Scheduler, framework_info, task

pytestmark = pytest.mark.devcluster


def _updates_of(scheduler: Scheduler, task_id: str) -> list[dict]:
    return [
        e["update"]["status"]
        for e in scheduler.stream.received
        if e["type"] == "UPDATE" and e["update"]["status"]["task_id"]["value"] == task_id
    ]


def _by_task(name: str, task_id: str, stream: str | None = None) -> list[dict]:
    return [s for s in golden.updates(name, stream) if s["task_id"]["value"] == task_id]


def test_kill_without_killing_state_goes_straight_to_killed(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url, framework_info("golden-kill-plain"))
    agent = devcluster_module.agent_ids[0]
    scheduler.launch(scheduler.offers()[0], task("kill-plain", agent))
    scheduler.wait_state("kill-plain", "TASK_RUNNING")
    assert scheduler.kill("kill-plain", agent).status_code == 202
    scheduler.wait_state("kill-plain", "TASK_KILLED")
    ours, recorded = _updates_of(scheduler, "kill-plain"), _by_task("04-kill", "kill-plain", "A")
    assert [s["state"] for s in ours] == [s["state"] for s in recorded]
    golden.assert_like(ours[-1], recorded[-1])


def test_kill_with_killing_state_sends_killing_first(devcluster_module, subscribe):
    info = framework_info(
        "golden-kill-killing-state", capabilities=["MULTI_ROLE", "TASK_KILLING_STATE"]
    )
    scheduler = subscribe(devcluster_module.url, info)
    agent = devcluster_module.agent_ids[0]
    scheduler.launch(scheduler.offers()[0], task("kill-killing", agent))
    scheduler.wait_state("kill-killing", "TASK_RUNNING")
    scheduler.kill("kill-killing", agent)
    scheduler.wait_state("kill-killing", "TASK_KILLED")
    ours, recorded = (
        _updates_of(scheduler, "kill-killing"),
        _by_task("04-kill", "kill-killing", "B"),
    )
    assert [s["state"] for s in ours] == [s["state"] for s in recorded]
    for status, expected in zip(ours, recorded, strict=True):
        golden.assert_like(status, expected)


def test_a_kill_uses_the_tasks_grace_period_not_the_calls(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    agent = devcluster_module.agent_ids[0]
    stubborn = task(
        "kill-override",
        agent,
        "trap '' TERM; sleep 600",
        kill_policy={"grace_period": {"nanoseconds": 2_000_000_000}},
    )
    scheduler.launch(scheduler.offers()[0], stubborn)
    scheduler.wait_state("kill-override", "TASK_RUNNING")
    started = time.monotonic()
    body = {
        "task_id": {"value": "kill-override"},
        "agent_id": {"value": agent},
        "kill_policy": {"grace_period": {"nanoseconds": 0}},
    }
    assert scheduler.call("KILL", body).status_code == 202
    killed = scheduler.wait_state("kill-override", "TASK_KILLED")
    # 04-kill: the real master's executor kept the task's own grace despite the call's.
    assert time.monotonic() - started >= 1.8
    assert killed["message"] == "Command terminated with signal Killed"


def test_killing_an_unknown_task_answers_like_reconciliation(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    assert scheduler.kill("no-such-task", devcluster_module.agent_ids[0]).status_code == 202
    status = scheduler.stream.wait_for("UPDATE")["update"]["status"]
    golden.assert_like(status, _by_task("04-kill", "no-such-task")[0])


def _launch_reconcile_scenario(cluster, scheduler: Scheduler) -> None:
    """07-reconcile: done-and-acked, done-but-not-acked, running."""
    agent = cluster.agent_ids[0]
    tasks = [
        task("rec-done-acked", agent, "echo done"),
        task("rec-done-unacked", agent, "echo done"),
        task("rec-running", agent, "sleep 600"),
    ]
    scheduler.launch(scheduler.offers()[0], *tasks)
    finished: set[str] = set()
    running = False
    while len(finished) < 2 or not running:
        status = scheduler.stream.wait_for("UPDATE")["update"]["status"]
        task_id, state = status["task_id"]["value"], status["state"]
        running = running or (task_id == "rec-running" and state == "TASK_RUNNING")
        if state == "TASK_FINISHED":
            finished.add(task_id)
            if task_id == "rec-done-unacked":
                continue
        scheduler.ack(status)


def test_reconciliation_answers_match_the_real_master(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url, framework_info("golden-reconcile"))
    agent = devcluster_module.agent_ids[0]
    _launch_reconcile_scenario(devcluster_module, scheduler)
    recorded = {
        s["task_id"]["value"]: s
        for s in golden.updates("07-reconcile")
        if s["source"] == "SOURCE_MASTER"
    }
    scheduler.reconcile(
        ("rec-done-acked", agent),
        ("rec-done-unacked", agent),
        ("rec-running", agent),
        ("no-such-task", agent),
    )
    answers = [
        scheduler.stream.wait_for("UPDATE", where=_from_master)["update"]["status"]
        for _ in range(4)
    ]
    assert [a["task_id"]["value"] for a in answers] == [
        "rec-done-acked",
        "rec-done-unacked",
        "rec-running",
        "no-such-task",
    ]
    for answer in answers:
        first = next(
            s
            for s in golden.updates("07-reconcile")
            if s["source"] == "SOURCE_MASTER"
            and s["task_id"]["value"] == answer["task_id"]["value"]
        )
        golden.assert_like(answer, first)
    scheduler.reconcile(("no-such-task-2", None))
    golden.assert_like(
        scheduler.stream.wait_for("UPDATE", where=_from_master)["update"]["status"],
        recorded["no-such-task-2"],
    )
    scheduler.reconcile(("no-such-task-3", f"{devcluster_module.master_id}-S999"))
    golden.assert_like(
        scheduler.stream.wait_for("UPDATE", where=_from_master)["update"]["status"],
        recorded["no-such-task-3"],
    )


def _from_master(event: dict) -> bool:
    return event["update"]["status"]["source"] == "SOURCE_MASTER"


def test_implicit_reconciliation_covers_live_and_unacknowledged_tasks(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    _launch_reconcile_scenario(devcluster_module, scheduler)
    for body in ({"tasks": []}, {}):
        scheduler.call("RECONCILE", body)
        answers = {
            scheduler.stream.wait_for("UPDATE", where=_from_master)["update"]["status"]["task_id"][
                "value"
            ]
            for _ in range(2)
        }
        assert answers == {"rec-running", "rec-done-unacked"}
    # The agent resends the unacknowledged terminal update (here after 1 s, not 10 s).
    again = scheduler.stream.wait_for(
        "UPDATE",
        where=lambda e: (
            e["update"]["status"]["task_id"]["value"] == "rec-done-unacked"
            and e["update"]["status"]["source"] == "SOURCE_EXECUTOR"
        ),
    )["update"]["status"]
    assert again["state"] == "TASK_FINISHED"
    scheduler.ack(again)
    scheduler.call("RECONCILE", {"tasks": []})
    only = scheduler.stream.wait_for("UPDATE", where=_from_master)["update"]["status"]
    assert only["task_id"]["value"] == "rec-running"
    with pytest.raises(TimeoutError):
        scheduler.stream.wait_for("UPDATE", timeout=0.6, where=_from_master)


def test_partition_aware_frameworks_get_gone_and_unknown(devcluster_module, subscribe):
    info = framework_info(capabilities=["MULTI_ROLE", "PARTITION_AWARE"])
    scheduler = subscribe(devcluster_module.url, info)
    agent = devcluster_module.agent_ids[0]
    scheduler.reconcile(
        ("nowhere", agent),
        ("nowhere-2", None),
        ("nowhere-3", f"{devcluster_module.master_id}-S999"),
    )
    answers = [scheduler.stream.wait_for("UPDATE")["update"]["status"] for _ in range(3)]
    assert [(a["state"], a["message"]) for a in answers] == [
        ("TASK_GONE", "Reconciliation: Task is unknown to the agent"),
        ("TASK_UNKNOWN", "Reconciliation: Task is unknown"),
        ("TASK_UNKNOWN", "Reconciliation: Task is unknown"),
    ]
    assert all("uuid" not in a and a["reason"] == "REASON_RECONCILIATION" for a in answers)
