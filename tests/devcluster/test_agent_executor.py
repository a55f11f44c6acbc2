"""Real task processes: output, exit codes, environment, argv and update shapes."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

from tests.devcluster.test_agent_harness import (
    AGENT_ID,
    FRAMEWORK_ID,
    get_json,
    launched,
    running_agent,
    sandbox_path,
    task,
)

UPDATE_KEYS = [
    "task_id",
    "state",
    "source",
    "agent_id",
    "executor_id",
    "timestamp",
    "uuid",
    "container_status",
]


async def _read(agent, task_id: str, name: str) -> str:
    body = await get_json(agent, f"/files/read?path={sandbox_path(task_id, name)}&offset=0")
    return body["data"]


def test_it_runs_the_command_and_serves_its_stdout(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("echo-hello", "echo hello")))
            finished = await sink.wait_terminal("echo-hello")
            assert sink.states("echo-hello") == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
            assert finished["message"] == "Command exited with status 0"
            assert "reason" not in finished
            assert await _read(agent, "echo-hello", "stdout") == "hello\n"
            stderr = await _read(agent, "echo-hello", "stderr")
            assert "Starting task echo-hello" in stderr
            assert "Command exited with status 0" in stderr

    asyncio.run(scenario())


def test_updates_have_the_shape_of_the_command_executors(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("shape", "exit 3")))
            failed = await sink.wait_terminal("shape")
            starting, running = sink.of("shape")[:2]
            assert list(starting) == UPDATE_KEYS
            assert list(failed) == [*UPDATE_KEYS[:2], "message", *UPDATE_KEYS[2:]]
            assert failed["message"] == "Command exited with status 3"
            for update in (starting, running, failed):
                assert update["source"] == "SOURCE_EXECUTOR"
                assert update["executor_id"] == {"value": "shape"}
                assert update["agent_id"] == {"value": AGENT_ID}
                assert isinstance(update["timestamp"], float)
                assert len(base64.b64decode(update["uuid"])) == 16
                status = update["container_status"]
                assert status["network_infos"] == [
                    {"ip_addresses": [{"protocol": "IPv4", "ip_address": "127.0.0.2"}]}
                ]
                assert status["executor_pid"] > 0
            assert len({u["uuid"] for u in (starting, running, failed)}) == 3
            assert starting["container_status"] == failed["container_status"]

    asyncio.run(scenario())


def test_it_reports_a_death_by_signal(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("self-kill", "kill -KILL $$")))
            failed = await sink.wait_terminal("self-kill")
            assert failed["state"] == "TASK_FAILED"
            assert failed["message"] == "Command terminated with signal Killed"

    asyncio.run(scenario())


def test_shell_false_runs_the_value_with_the_complete_argv(tmp_path: Path) -> None:
    async def scenario() -> None:
        command = {
            "shell": False,
            "value": "/bin/sh",
            "arguments": ["my-name", "-c", "cat /proc/$$/cmdline", "first arg"],
        }
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("argv", command)))
            await sink.wait_terminal("argv")
            argv = (await _read(agent, "argv", "stdout")).split("\0")
            assert argv == ["my-name", "-c", "cat /proc/$$/cmdline", "first arg", ""]

    asyncio.run(scenario())


def test_a_missing_executable_fails_with_a_clear_message(tmp_path: Path) -> None:
    async def scenario() -> None:
        command = {"shell": False, "value": "/no/such/program", "arguments": ["program"]}
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("missing", command)))
            failed = await sink.wait_terminal("missing")
            assert sink.states("missing") == ["TASK_STARTING", "TASK_FAILED"]
            assert failed["message"] == (
                "Failed to launch command '/no/such/program': No such file or directory"
            )

    asyncio.run(scenario())


def test_the_task_sees_mesos_variables_and_its_own_but_no_port_variables(tmp_path: Path) -> None:
    async def scenario() -> None:
        command = {
            "value": "env | grep -E '^(PORT|MESOS_|LIBPROCESS_|GREETING|TOKEN)' | sort",
            "environment": {
                "variables": [
                    {"name": "GREETING", "value": "hi there"},
                    {
                        "name": "TOKEN",
                        "type": "SECRET",
                        "secret": {"type": "VALUE", "value": {"data": "czNjcjN0"}},
                    },
                ]
            },
        }
        ports = [
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {"range": [{"begin": 31005, "end": 31007}]},
            }
        ]
        info = task("env", command)
        info["resources"] += ports
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(info))
            await sink.wait_terminal("env")
            lines = (await _read(agent, "env", "stdout")).splitlines()
            env = dict(line.split("=", 1) for line in lines)
            state = await get_json(agent, "/state")
            directory = state["completed_frameworks"][0]["completed_executors"][0]["directory"]
        assert not [name for name in env if name.startswith("PORT")]
        assert env["GREETING"] == "hi there"
        assert env["TOKEN"] == "s3cr3t"
        assert env["MESOS_SANDBOX"] == env["MESOS_DIRECTORY"] == directory
        assert env["MESOS_FRAMEWORK_ID"] == FRAMEWORK_ID
        assert env["MESOS_EXECUTOR_ID"] == "env"
        assert env["MESOS_SLAVE_ID"] == AGENT_ID
        assert env["MESOS_ALLOCATION_ROLE"] == "*"
        assert env["MESOS_AGENT_ENDPOINT"] == f"127.0.0.2:{agent.port}"
        assert env["MESOS_SLAVE_PID"] == f"slave(1)@127.0.0.2:{agent.port}"
        assert env["LIBPROCESS_IP"] == "127.0.0.2"
        assert env["MESOS_HTTP_COMMAND_EXECUTOR"] == "0"

    asyncio.run(scenario())


def test_a_reference_secret_fails_the_launch_from_the_agent(tmp_path: Path) -> None:
    async def scenario() -> None:
        variable = {
            "name": "DB_PASS",
            "type": "SECRET",
            "secret": {"type": "REFERENCE", "reference": {"name": "/db/pass"}},
        }
        command = {"value": "true", "environment": {"variables": [variable]}}
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("secret", command)))
            failed = await sink.wait_terminal("secret")
        assert sink.states("secret") == ["TASK_FAILED"]
        assert failed["source"] == "SOURCE_AGENT"
        assert failed["reason"] == "REASON_CONTAINER_LAUNCH_FAILED"
        assert "REFERENCE secret" in failed["message"]

    asyncio.run(scenario())


def test_the_sandbox_is_laid_out_like_mesos(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("layout", "pwd")))
            first = await sink.wait_terminal("layout")
            container_id = first["container_status"]["container_id"]["value"]
            executor = tmp_path / "work" / "slaves" / AGENT_ID / "frameworks" / FRAMEWORK_ID
            executor = executor / "executors" / "layout"
            run = executor / "runs" / container_id
            assert (run / "stdout").read_text() == f"{run}\n"
            assert (executor / "runs" / "latest").resolve() == run.resolve()
            # A second run of the same id gets a new folder; `latest` follows it.
            agent.launch(launched(task("layout", "pwd")))
            await sink.wait_for(lambda: len(sink.states("layout")) == 6)
            second = sink.of("layout")[-1]["container_status"]["container_id"]["value"]
            assert second != container_id
            assert (executor / "runs" / "latest").resolve().name == second

    asyncio.run(scenario())


def test_a_task_without_an_engine_runs_on_the_host_and_says_so(tmp_path: Path) -> None:
    async def scenario() -> None:
        container = {
            "type": "MESOS",
            "mesos": {"image": {"type": "DOCKER", "docker": {"name": "alpine:3.19"}}},
        }
        async with running_agent(tmp_path) as (agent, sink):
            agent.docker_engine = False
            agent.launch(launched(task("image", "echo on-host", container=container)))
            await sink.wait_terminal("image")
            starting, running = sink.of("image")[:2]
            expected = (
                "No Docker engine reachable: ran the command on the host without image alpine:3.19"
            )
            assert starting["message"] == running["message"] == expected
            assert await _read(agent, "image", "stdout") == "on-host\n"

    asyncio.run(scenario())


def test_tasks_lists_live_tasks_with_their_latest_status(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            info = task("listed", "sleep 30")
            agent.launch(launched(info))
            await sink.wait_for(lambda: "TASK_RUNNING" in sink.states("listed"))
            [entry] = agent.tasks()
            assert entry["framework_id"] == FRAMEWORK_ID
            assert entry["task_info"] is info
            assert entry["role"] == "*"
            assert entry["state"] == "TASK_RUNNING"
            assert entry["latest_status"]["uuid"] == sink.of("listed")[-1]["uuid"]
            json.dumps(entry)

    asyncio.run(scenario())


def test_executor_resources_are_the_command_executors_share(tmp_path: Path) -> None:
    from devcluster.agent import Agent
    from tests.devcluster.test_agent_harness import RecordingSink, config

    resources = Agent(config(tmp_path), RecordingSink()).executor_resources()
    assert resources == [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 32.0}},
    ]


def test_a_sandbox_that_cannot_be_made_fails_the_task_from_the_agent(tmp_path: Path) -> None:
    async def scenario() -> None:
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("")
        async with running_agent(tmp_path, work_dir=blocker) as (agent, sink):
            agent.launch(launched(task("homeless", "true")))
            failed = await sink.wait_terminal("homeless")
            await sink.wait_for(lambda: agent.tasks() == [])
        assert failed["state"] == "TASK_FAILED"
        assert failed["source"] == "SOURCE_AGENT"
        assert failed["reason"] == "REASON_CONTAINER_LAUNCH_FAILED"
        assert failed["message"].startswith("Failed to launch container: cannot create the sandbox")

    asyncio.run(scenario())


def test_a_task_past_its_max_completion_time_fails(tmp_path: Path) -> None:
    async def scenario() -> None:
        info = task("overdue", "sleep 30", max_completion_time={"nanoseconds": 200_000_000})
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(info))
            failed = await sink.wait_terminal("overdue")
        assert failed["state"] == "TASK_FAILED"
        assert failed["reason"] == "REASON_MAX_COMPLETION_TIME_REACHED"
        assert failed["message"] == "Command terminated with signal Terminated"

    asyncio.run(scenario())


def test_a_custom_executor_task_is_refused_plainly(tmp_path: Path) -> None:
    async def scenario() -> None:
        info = task("custom")
        del info["command"]
        info["executor"] = {"executor_id": {"value": "mine"}, "command": {"value": "./executor"}}
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(info))
            failed = await sink.wait_terminal("custom")
        assert failed["state"] == "TASK_FAILED"
        assert "custom executors are not supported" in failed["message"]

    asyncio.run(scenario())
