"""Simulated agents: the updates of a command executor, with no process at all."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.devcluster.test_agent_harness import (
    FRAMEWORK_ID,
    get_json,
    launched,
    running_agent,
    sandbox_path,
    task,
)


def _labelled(task_id: str, **labels: str) -> dict:
    pairs = [{"key": f"devcluster.{key}", "value": value} for key, value in labels.items()]
    return task(task_id, "this never runs", labels={"labels": pairs})


def test_a_simulated_task_finishes_after_the_default_duration(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path, simulated=True, simulated_duration_seconds=0.2) as (
            agent,
            sink,
        ):
            started = time.monotonic()
            agent.launch(launched(task("sim", "exit 9")))
            finished = await sink.wait_terminal("sim")
            took = time.monotonic() - started
        assert sink.states("sim") == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
        assert finished["message"] == "Command exited with status 0"
        assert finished["source"] == "SOURCE_EXECUTOR"
        assert "executor_pid" not in finished["container_status"]
        assert took >= 0.19
        assert not (tmp_path / "work").exists()

    asyncio.run(scenario())


def test_labels_choose_the_outcome_and_exit_code(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path, simulated=True) as (agent, sink):
            agent.launch(
                launched(_labelled("fails", duration="0", outcome="FAILED", exit_code="7"))
            )
            agent.launch(launched(_labelled("lost", duration="0", outcome="TASK_LOST")))
            agent.launch(launched(_labelled("quick", duration="0.05")))
            failed = await sink.wait_terminal("fails")
            lost = await sink.wait_terminal("lost")
            quick = await sink.wait_terminal("quick")
        assert failed["state"] == "TASK_FAILED"
        assert failed["message"] == "Command exited with status 7"
        assert lost["state"] == "TASK_LOST" and lost["source"] == "SOURCE_AGENT"
        assert quick["state"] == "TASK_FINISHED"

    asyncio.run(scenario())


def test_the_failure_rate_fails_tasks_without_an_outcome_label(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(
            tmp_path, simulated=True, simulated_duration_seconds=0, simulated_failure_rate=1.0
        ) as (agent, sink):
            for index in range(5):
                agent.launch(launched(task(f"t{index}")))
            for index in range(5):
                assert (await sink.wait_terminal(f"t{index}"))["state"] == "TASK_FAILED"

    asyncio.run(scenario())


def test_a_simulated_task_can_run_until_killed(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path, simulated=True) as (agent, sink):
            agent.launch(
                launched(_labelled("service", duration="inf"), capabilities=("TASK_KILLING_STATE",))
            )
            await sink.wait_for(lambda: "TASK_RUNNING" in sink.states("service"))
            await asyncio.sleep(0.2)
            assert sink.states("service") == ["TASK_STARTING", "TASK_RUNNING"]
            assert agent.kill(FRAMEWORK_ID, "service", None) is True
            killed = await sink.wait_terminal("service")
        assert sink.states("service")[2:] == ["TASK_KILLING", "TASK_KILLED"]
        assert killed["message"] == "Command terminated with signal Terminated"

    asyncio.run(scenario())


def test_a_simulated_task_ignoring_sigterm_waits_for_the_grace(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path, simulated=True) as (agent, sink):
            agent.launch(launched(_labelled("stubborn", duration="-1", ignore_sigterm="true")))
            await sink.wait_for(lambda: "TASK_RUNNING" in sink.states("stubborn"))
            started = time.monotonic()
            agent.kill(FRAMEWORK_ID, "stubborn", 0.3)
            killed = await sink.wait_terminal("stubborn")
            assert time.monotonic() - started >= 0.29
        assert killed["message"] == "Command terminated with signal Killed"

    asyncio.run(scenario())


def test_simulated_health_checks(tmp_path: Path) -> None:
    async def scenario() -> None:
        check = {"type": "TCP", "tcp": {"port": 1}, "delay_seconds": 0, "interval_seconds": 0.05}
        healthy = _labelled("fine", duration="inf")
        sick = _labelled("sick", duration="inf", healthy="false")
        healthy["health_check"] = {**check}
        sick["health_check"] = {**check, "consecutive_failures": 2}
        async with running_agent(tmp_path, simulated=True) as (agent, sink):
            agent.launch(launched(healthy))
            agent.launch(launched(sick))
            killed = await sink.wait_terminal("sick")
            await asyncio.sleep(0.2)
        assert [u.get("healthy") for u in sink.of("fine")] == [None, None, True]
        assert [u.get("healthy") for u in sink.of("sick")] == [None, None, False, False, False]
        assert killed["state"] == "TASK_KILLED"

    asyncio.run(scenario())


def test_simulated_tasks_show_in_state_statistics_and_files(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path, simulated=True) as (agent, sink):
            agent.launch(launched(_labelled("visible", duration="inf")))
            await sink.wait_for(lambda: "TASK_RUNNING" in sink.states("visible"))
            await asyncio.sleep(0.1)
            state = await get_json(agent, "/state")
            [entry] = await get_json(agent, "/monitor/statistics")
            listing = await get_json(agent, f"/files/browse?path={sandbox_path('visible')}")
            stdout = await get_json(
                agent, f"/files/read?path={sandbox_path('visible', 'stdout')}&offset=0"
            )
        [executor] = state["frameworks"][0]["executors"]
        assert executor["tasks"][0]["state"] == "TASK_RUNNING"
        assert "/runs/" in executor["directory"]
        statistics = entry["statistics"]
        assert statistics["cpus_soft_limit"] == 0.6
        assert statistics["mem_rss_bytes"] > 0
        assert [item["path"].rsplit("/", 1)[1] for item in listing] == ["stderr", "stdout"]
        assert "no process ran" in stdout["data"]

    asyncio.run(scenario())


def test_many_simulated_tasks_stay_cheap(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path, simulated=True, simulated_duration_seconds=0.01) as (
            agent,
            sink,
        ):
            for index in range(2000):
                agent.launch(launched(task(f"bulk-{index}")))
            await sink.wait_for(lambda: len(sink.updates) == 6000, timeout=30)
            framework = agent.frameworks[FRAMEWORK_ID]
            assert framework.live == {}
            assert len(framework.completed) == 150
            assert len(agent.attached) == 3 * 150

    asyncio.run(scenario())


def test_a_simulated_task_past_its_max_completion_time_fails(tmp_path: Path) -> None:
    async def scenario() -> None:
        info = _labelled("overdue", duration="inf")
        info["max_completion_time"] = {"nanoseconds": 100_000_000}
        async with running_agent(tmp_path, simulated=True) as (agent, sink):
            agent.launch(launched(info))
            failed = await sink.wait_terminal("overdue")
        assert failed["state"] == "TASK_FAILED"
        assert failed["reason"] == "REASON_MAX_COMPLETION_TIME_REACHED"

    asyncio.run(scenario())
