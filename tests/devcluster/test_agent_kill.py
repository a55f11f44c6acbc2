"""Kills: SIGTERM to the process group, SIGKILL after the grace, TASK_KILLING when asked."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from tests.devcluster.test_agent_harness import (
    FRAMEWORK_ID,
    launched,
    running_agent,
    task,
)

IGNORES_TERM = "trap '' TERM; sleep 30"


def _grace(seconds: float) -> dict:
    return {"grace_period": {"nanoseconds": int(seconds * 1e9)}}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


def test_a_kill_terminates_the_task_without_killing_state(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("kill-plain", "sleep 30")))
            await sink.wait_for(lambda: "TASK_RUNNING" in sink.states("kill-plain"))
            assert agent.kill(FRAMEWORK_ID, "kill-plain", None) is True
            killed = await sink.wait_terminal("kill-plain")
            assert sink.states("kill-plain") == ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"]
            assert killed["message"] == "Command terminated with signal Terminated"
            assert "reason" not in killed

    asyncio.run(scenario())


def test_frameworks_with_the_capability_see_task_killing_first(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            info = launched(task("kill-killing", "sleep 30"), capabilities=("TASK_KILLING_STATE",))
            agent.launch(info)
            await sink.wait_for(lambda: "TASK_RUNNING" in sink.states("kill-killing"))
            agent.kill(FRAMEWORK_ID, "kill-killing", None)
            await sink.wait_terminal("kill-killing")
            killing = sink.of("kill-killing")[2]
            assert sink.states("kill-killing")[2:] == ["TASK_KILLING", "TASK_KILLED"]
            assert "message" not in killing and killing["uuid"]

    asyncio.run(scenario())


def test_a_task_ignoring_sigterm_is_killed_after_its_grace(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            info = task("kill-grace", IGNORES_TERM, kill_policy=_grace(0.6))
            agent.launch(launched(info))
            await sink.wait_for(lambda: "TASK_RUNNING" in sink.states("kill-grace"))
            await asyncio.sleep(0.1)  # let the shell install its trap
            started = time.monotonic()
            agent.kill(FRAMEWORK_ID, "kill-grace", None)
            killed = await sink.wait_terminal("kill-grace")
            waited = time.monotonic() - started
        assert killed["message"] == "Command terminated with signal Killed"
        assert waited >= 0.55

    asyncio.run(scenario())


def test_the_grace_passed_to_kill_overrides_the_tasks(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            info = task("kill-override", IGNORES_TERM, kill_policy=_grace(30))
            agent.launch(launched(info))
            await sink.wait_for(lambda: "TASK_RUNNING" in sink.states("kill-override"))
            await asyncio.sleep(0.1)
            agent.kill(FRAMEWORK_ID, "kill-override", 0.2)
            killed = await sink.wait_terminal("kill-override", timeout=5)
        assert killed["message"] == "Command terminated with signal Killed"

    asyncio.run(scenario())


def test_a_second_kill_can_shorten_the_grace_but_sends_no_second_killing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            info = task("twice", IGNORES_TERM, kill_policy=_grace(30))
            agent.launch(launched(info, capabilities=("TASK_KILLING_STATE",)))
            await sink.wait_for(lambda: "TASK_RUNNING" in sink.states("twice"))
            await asyncio.sleep(0.1)
            agent.kill(FRAMEWORK_ID, "twice", None)
            agent.kill(FRAMEWORK_ID, "twice", 0.1)
            await sink.wait_terminal("twice", timeout=5)
        assert sink.states("twice").count("TASK_KILLING") == 1

    asyncio.run(scenario())


def test_the_kill_reaches_the_tasks_children(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("family", "sleep 30 & echo $! > child; wait")))
            await sink.wait_for(lambda: "TASK_RUNNING" in sink.states("family"))
            child_file = Path(agent.sandbox_directory(agent.live_record(FRAMEWORK_ID, "family")))
            await sink.wait_for(lambda: (child_file / "child").read_text().strip() != "")
            child = int((child_file / "child").read_text())
            assert _alive(child)
            agent.kill(FRAMEWORK_ID, "family", None)
            await sink.wait_terminal("family")
            await sink.wait_for(lambda: not _alive(child), timeout=3)

    asyncio.run(scenario())


def test_killing_an_unknown_or_finished_task_answers_false(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            assert agent.kill(FRAMEWORK_ID, "never-launched", None) is False
            agent.launch(launched(task("done", "true")))
            await sink.wait_terminal("done")
            assert agent.kill(FRAMEWORK_ID, "done", None) is False
            assert sink.states("done")[-1] == "TASK_FINISHED"

    asyncio.run(scenario())


def test_a_kill_during_the_fetch_abandons_the_launch(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            command = {"value": "true", "uris": [{"value": "http://127.0.0.1:9/slow.tar.gz"}]}
            hold = asyncio.Event()

            async def slow_fetch(*_args: object) -> None:
                await hold.wait()

            import devcluster.agent.executor as executor

            original = executor.fetch_all
            executor.fetch_all = slow_fetch
            try:
                agent.launch(launched(task("fetching", command)))
                await asyncio.sleep(0.05)
                assert agent.kill(FRAMEWORK_ID, "fetching", None) is True
                killed = await sink.wait_terminal("fetching")
            finally:
                executor.fetch_all = original
        assert sink.states("fetching") == ["TASK_KILLED"]
        assert killed["reason"] == "REASON_TASK_KILLED_DURING_LAUNCH"

    asyncio.run(scenario())


def test_shutdown_framework_kills_its_tasks_without_updates(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("td-sleep", "sleep 30")))
            await sink.wait_for(lambda: "TASK_RUNNING" in sink.states("td-sleep"))
            pid = agent.live_record(FRAMEWORK_ID, "td-sleep").executor_pid
            sent = len(sink.updates)
            agent.shutdown_framework(FRAMEWORK_ID)
            await sink.wait_for(lambda: not _alive(pid), timeout=3)
            await asyncio.sleep(0.3)
            assert len(sink.updates) == sent
            assert agent.tasks() == []
            assert agent.kill(FRAMEWORK_ID, "td-sleep", None) is False

    asyncio.run(scenario())


def test_stop_kills_every_process_quietly(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("stubborn", IGNORES_TERM)))
            await sink.wait_for(lambda: "TASK_RUNNING" in sink.states("stubborn"))
            pid = agent.live_record(FRAMEWORK_ID, "stubborn").executor_pid
            sent = len(sink.updates)
        assert not _alive(pid)
        assert len(sink.updates) == sent

    asyncio.run(scenario())
