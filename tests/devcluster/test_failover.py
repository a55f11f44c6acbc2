"""Scheduler disconnection and failover (09-failover), failover timeouts, TEARDOWN (14)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.devcluster import golden
from tests.devcluster.client import EOF, Stream, framework_info, task

# Updates are retried only every 10 s here, so a prompt resend can only be the re-subscribe's.
pytestmark = pytest.mark.devcluster("--status-retry-seconds", "10")


def _frameworks(cluster, framework_id: str) -> dict:
    response = httpx.get(f"{cluster.url}/master/frameworks", params={"framework_id": framework_id})
    return dict(response.json())


def test_a_dropped_scheduler_is_inactive_until_it_subscribes_again(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url, framework_info("golden-failover"))
    agent = devcluster_module.agent_ids[0]
    scheduler.launch(scheduler.offers()[0], task("survivor", agent))
    starting = scheduler.stream.wait_for("UPDATE")["update"]["status"]
    scheduler.ack(starting)
    running = scheduler.stream.wait_for("UPDATE")["update"]["status"]
    old_stream_id = scheduler.stream.stream_id
    scheduler.stream.close()  # the client drops the TCP connection, without an ACK of RUNNING
    time.sleep(0.3)

    refused = scheduler.post(
        {"type": "REVIVE", "framework_id": {"value": scheduler.framework_id}},
        stream_id=old_stream_id,
    )
    recorded = golden.exchange("09-failover", note="REVIVE with stream A's id")["response"]
    assert (refused.status_code, refused.text) == (recorded["status"], recorded["body"])
    disconnected = golden.exchange("09-failover", note="framework state while disconnected")[
        "response"
    ]["body"]
    golden.assert_like(_frameworks(devcluster_module, scheduler.framework_id), disconnected)

    resubscribed = time.monotonic()
    stream = scheduler.resubscribe()
    resent = stream.wait_for("UPDATE")["update"]["status"]
    assert time.monotonic() - resubscribed < 2.0
    assert (resent["state"], resent["uuid"]) == ("TASK_RUNNING", running["uuid"])
    recorded = [e["type"] for e in golden.events("09-failover", stream="B")][:4]
    assert sorted(e["type"] for e in stream.received[:4]) == sorted(recorded)
    scheduler.ack(resent)
    scheduler.reconcile(("survivor", agent))
    answer = stream.wait_for("UPDATE")["update"]["status"]
    recorded = [s for s in golden.updates("09-failover", "B") if s["source"] == "SOURCE_MASTER"]
    golden.assert_like(answer, recorded[0])


def test_a_framework_is_removed_when_its_failover_timeout_runs_out(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url, framework_info(failover_timeout=1.0))
    agent = devcluster_module.agent_ids[0]
    scheduler.launch(scheduler.offers()[0], task("orphan", agent))
    scheduler.wait_state("orphan", "TASK_RUNNING")
    scheduler.stream.close()
    time.sleep(0.4)
    assert _frameworks(devcluster_module, scheduler.framework_id)["frameworks"][0]["tasks"]
    deadline = time.monotonic() + 5
    while not _frameworks(devcluster_module, scheduler.framework_id)["completed_frameworks"]:
        assert time.monotonic() < deadline, "framework not removed after its failover timeout"
        time.sleep(0.1)
    completed = _frameworks(devcluster_module, scheduler.framework_id)["completed_frameworks"][0]
    assert [t["state"] for t in completed["completed_tasks"]] == ["TASK_KILLED"]
    stream = scheduler.resubscribe()
    assert stream.next() == {"type": "ERROR", "error": {"message": "Framework has been removed"}}
    assert stream.next() is EOF


def test_a_zero_failover_timeout_removes_the_framework_at_once(devcluster_module):
    stream = Stream(
        devcluster_module.url,
        {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info(failover_timeout=0)}},
    )
    framework_id = stream.wait_for("SUBSCRIBED")["subscribed"]["framework_id"]["value"]
    stream.close()
    deadline = time.monotonic() + 3
    while not _frameworks(devcluster_module, framework_id)["completed_frameworks"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_teardown_ends_the_stream_silently_and_forgets_the_framework(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url, framework_info("golden-teardown"))
    agent = devcluster_module.agent_ids[0]
    scheduler.launch(scheduler.offers()[0], task("td-sleep", agent))
    scheduler.wait_state("td-sleep", "TASK_RUNNING")
    before = len(scheduler.stream.received)
    assert scheduler.teardown().status_code == 202
    assert scheduler.stream.wait_closed() == "eof"
    assert [e["type"] for e in scheduler.stream.received[before:]] in ([], ["HEARTBEAT"])

    for note in ("REVIVE with the torn-down framework's old stream id", "second TEARDOWN"):
        recorded = golden.exchange("14-teardown", note=note)
        response = scheduler.post(
            {
                "type": recorded["request"]["body"]["type"],
                "framework_id": {"value": scheduler.framework_id},
            }
        )
        assert (response.status_code, response.text) == (
            recorded["response"]["status"],
            recorded["response"]["body"],
        )
    stream = scheduler.resubscribe()
    assert stream.status == 200
    assert stream.next() == golden.events("14-teardown", "ERROR")[0]
    assert stream.wait_closed() == "eof"
    recorded = golden.exchange("14-teardown", note="the framework after TEARDOWN")["response"][
        "body"
    ]
    golden.assert_like(_frameworks(devcluster_module, scheduler.framework_id), recorded)


def test_the_drop_fault_disconnects_a_framework(devcluster_module, subscribe):
    scheduler = subscribe(devcluster_module.url)
    scheduler.offers()
    assert devcluster_module.drop_framework(scheduler.framework_id)["connected"] is False
    assert scheduler.stream.wait_closed() != "eof"
    assert scheduler.call("REVIVE").status_code == 403
    stream = scheduler.resubscribe()
    assert stream.wait_for("SUBSCRIBED")
