"""The agent's status update stream: order, retransmission and acknowledgement."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.devcluster.test_agent_harness import (
    FRAMEWORK_ID,
    RecordingSink,
    get_json,
    launched,
    running_agent,
    task,
)

OTHER_FRAMEWORK = "4c1e0a6e-0000-4000-8000-000000000000-0001"


def test_it_resends_unacknowledged_updates_and_holds_back_later_ones(tmp_path: Path) -> None:
    async def scenario() -> None:
        sink = RecordingSink(auto_ack=False)
        async with running_agent(tmp_path, sink, status_retry_seconds=0.1) as (agent, sink):
            agent.launch(launched(task("held", "true")))
            await asyncio.sleep(0.45)
            states = sink.states("held")
            assert set(states) == {"TASK_STARTING"}
            assert len(states) >= 3
            assert len({u["uuid"] for u in sink.of("held")}) == 1
            first = sink.of("held")[0]
            assert all(update == first for update in sink.of("held"))

    asyncio.run(scenario())


def test_an_acknowledgement_releases_the_next_update(tmp_path: Path) -> None:
    async def scenario() -> None:
        sink = RecordingSink(auto_ack=False)
        async with running_agent(tmp_path, sink, status_retry_seconds=5) as (agent, sink):
            agent.launch(launched(task("stepwise", "true")))
            await sink.wait_for(lambda: len(sink.updates) == 1)
            starting = sink.updates[0]
            assert agent.acknowledge(FRAMEWORK_ID, "stepwise", "AAAAAAAAAAAAAAAAAAAAAA==") is False
            assert agent.acknowledge(FRAMEWORK_ID, "stepwise", starting["uuid"]) is True
            assert agent.acknowledge(FRAMEWORK_ID, "stepwise", starting["uuid"]) is False
            assert sink.states("stepwise") == ["TASK_STARTING", "TASK_RUNNING"]
            agent.acknowledge(FRAMEWORK_ID, "stepwise", sink.updates[1]["uuid"])
            await sink.wait_for(lambda: len(sink.updates) == 3)
            assert sink.updates[2]["state"] == "TASK_FINISHED"

    asyncio.run(scenario())


def test_a_terminal_task_stays_listed_until_its_update_is_acknowledged(tmp_path: Path) -> None:
    async def scenario() -> None:
        sink = RecordingSink(auto_ack=False)
        async with running_agent(tmp_path, sink, status_retry_seconds=5) as (agent, sink):
            agent.launch(launched(task("unacked", "exit 2")))
            for count in (1, 2):
                await sink.wait_for(lambda n=count: len(sink.updates) == n)
                agent.acknowledge(FRAMEWORK_ID, "unacked", sink.updates[-1]["uuid"])
            await sink.wait_for(lambda: sink.states("unacked")[-1] == "TASK_FAILED")
            [entry] = agent.tasks()
            assert entry["state"] == "TASK_FAILED"
            state = await get_json(agent, "/state")
            [executor] = state["frameworks"][0]["executors"]
            assert executor["tasks"][0]["state"] == "TASK_FAILED"
            assert agent.acknowledge(FRAMEWORK_ID, "unacked", sink.updates[-1]["uuid"]) is True
            assert agent.tasks() == []
            state = await get_json(agent, "/state")
            assert state["frameworks"] == []
            [completed] = state["completed_frameworks"][0]["completed_executors"]
            assert completed["completed_tasks"][0]["state"] == "TASK_FAILED"
            assert agent.acknowledge(FRAMEWORK_ID, "unacked", sink.updates[-1]["uuid"]) is False

    asyncio.run(scenario())


def test_resend_unacknowledged_sends_the_frameworks_heads_at_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        sink = RecordingSink(auto_ack=False)
        async with running_agent(tmp_path, sink, status_retry_seconds=60) as (agent, sink):
            agent.launch(launched(task("mine", "sleep 30")))
            agent.launch(launched(task("theirs", "sleep 30"), framework_id=OTHER_FRAMEWORK))
            await sink.wait_for(lambda: len(sink.updates) == 2)
            mine = sink.of("mine")[0]
            agent.resend_unacknowledged(FRAMEWORK_ID)
            assert sink.of("mine") == [mine, mine]
            assert len(sink.of("theirs")) == 1
            agent.resend_unacknowledged("no-such-framework")

    asyncio.run(scenario())


def test_updates_of_different_tasks_do_not_wait_for_each_other(tmp_path: Path) -> None:
    async def scenario() -> None:
        sink = RecordingSink(auto_ack=False)
        async with running_agent(tmp_path, sink, status_retry_seconds=60) as (agent, sink):
            agent.launch(launched(task("a", "true")))
            agent.launch(launched(task("b", "true")))
            await sink.wait_for(lambda: len(sink.updates) == 2)
            b_starting = sink.of("b")[0]
            agent.acknowledge(FRAMEWORK_ID, "b", b_starting["uuid"])
            assert sink.states("b") == ["TASK_STARTING", "TASK_RUNNING"]
            assert sink.states("a") == ["TASK_STARTING"]

    asyncio.run(scenario())


def test_the_status_history_in_state_keeps_one_entry_per_state_in_a_row(tmp_path: Path) -> None:
    async def scenario() -> None:
        check = {
            "type": "COMMAND",
            "command": {"value": "false"},
            "delay_seconds": 0,
            "interval_seconds": 0.05,
            "grace_period_seconds": 0,
            "consecutive_failures": 4,
        }
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("noisy", "sleep 30", health_check=check)))
            await sink.wait_terminal("noisy")
            state = await get_json(agent, "/state")
            executor = state["completed_frameworks"][0]["completed_executors"][0]
            statuses = executor["completed_tasks"][0]["statuses"]
        assert [s["state"] for s in statuses] == ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"]
        assert statuses[1]["healthy"] is False

    asyncio.run(scenario())
