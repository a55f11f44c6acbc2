"""Agent endpoints over raw HTTP: /state, /monitor/statistics, /metrics, /api/v1..."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from devcluster.agent import Agent
from tests.devcluster.test_agent_harness import (
    AGENT_ID,
    FRAMEWORK_ID,
    RecordingSink,
    config,
    get_json,
    http,
    launched,
    running_agent,
    task,
)

STATE_KEYS = [
    "version",
    "build_date",
    "build_time",
    "build_user",
    "start_time",
    "id",
    "pid",
    "hostname",
    "capabilities",
    "resources",
    "reserved_resources",
    "unreserved_resources",
    "reserved_resources_full",
    "unreserved_resources_full",
    "reserved_resources_allocated",
    "unreserved_resources_allocated",
    "resource_providers",
    "attributes",
    "master_hostname",
    "flags",
    "frameworks",
    "completed_frameworks",
]
FRAMEWORK_KEYS = ["id", "name", "user", "failover_timeout", "checkpoint", "hostname", "roles"]
EXECUTOR_KEYS = [
    "id",
    "name",
    "source",
    "container",
    "directory",
    "resources",
    "role",
    "tasks",
    "queued_tasks",
    "completed_tasks",
]
TASK_KEYS = ["id", "name", "framework_id", "executor_id", "slave_id", "state", "resources", "role"]
STATISTICS_KEYS = [
    "cpus_soft_limit",
    "cpus_system_time_secs",
    "cpus_user_time_secs",
    "mem_limit_bytes",
    "mem_rss_bytes",
    "mem_soft_limit_bytes",
    "timestamp",
]
BUSY = "echo hello-stdout; while :; do :; done"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


async def _running(agent, sink, task_id: str = "burn", command: str = BUSY) -> None:
    agent.launch(launched(task(task_id, command)))
    await sink.wait_for(lambda: "TASK_RUNNING" in sink.states(task_id))


async def _call(agent, body: dict | bytes, headers: dict | None = None) -> tuple[int, bytes]:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, _headers, answer = await http(
        agent, "POST", "/api/v1", body=payload, headers=JSON_HEADERS if headers is None else headers
    )
    return status, answer


def test_state_has_the_legacy_shape(tmp_path: Path) -> None:
    async def scenario() -> None:
        attributes = ({"name": "rack", "type": "TEXT", "text": {"value": "r1"}},)
        async with running_agent(tmp_path, attributes=attributes) as (agent, sink):
            await _running(agent, sink)
            state = await get_json(agent, "/state")
            alias = await get_json(agent, "/slave(1)/state")
        assert list(state) == STATE_KEYS
        assert alias["id"] == state["id"] == AGENT_ID
        assert state["pid"] == f"slave(1)@127.0.0.2:{agent.port}"
        assert state["resources"] == {
            "disk": 4096.0,
            "mem": 2048.0,
            "gpus": 0.0,
            "cpus": 2.0,
            "ports": "[31000-31100]",
        }
        assert state["unreserved_resources_allocated"] == {
            "disk": 0.0,
            "mem": 64.0,
            "gpus": 0.0,
            "cpus": 0.6,
        }
        assert state["attributes"] == {"rack": "r1"}
        [framework] = state["frameworks"]
        assert list(framework)[:7] == FRAMEWORK_KEYS
        [executor] = framework["executors"]
        assert list(executor) == EXECUTOR_KEYS
        assert (
            executor["name"] == "Command Executor (Task: burn) (Command: sh -c 'echo hello-s...')"
        )
        assert executor["resources"] == {"disk": 0.0, "mem": 64.0, "gpus": 0.0, "cpus": 0.6}
        [running] = executor["tasks"]
        assert list(running)[:8] == TASK_KEYS
        assert running["executor_id"] == "" and running["slave_id"] == AGENT_ID
        assert [s["state"] for s in running["statuses"]] == ["TASK_STARTING", "TASK_RUNNING"]
        assert "uuid" not in running["statuses"][0]
        assert "executor_pid" not in running["statuses"][0]["container_status"]

    asyncio.run(scenario())


def test_reservations_show_as_reserved_resources(tmp_path: Path) -> None:
    async def scenario() -> None:
        reservations = {"analytics": {"cpus": 1.0, "mem": 512.0}}
        async with running_agent(tmp_path, reservations=reservations) as (agent, _sink):
            state = await get_json(agent, "/state")
        assert state["reserved_resources"] == {
            "analytics": {"disk": 0.0, "mem": 512.0, "gpus": 0.0, "cpus": 1.0}
        }
        assert state["unreserved_resources"]["cpus"] == 1.0
        assert state["unreserved_resources"]["mem"] == 1536.0
        names = {r["name"]: r["role"] for r in state["reserved_resources_full"]["analytics"]}
        assert names == {"cpus": "analytics", "mem": "analytics", "disk": "analytics"}

    asyncio.run(scenario())


def test_monitor_statistics_reports_a_busy_process(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            await _running(agent, sink)
            await asyncio.sleep(0.3)
            [first] = await get_json(agent, "/monitor/statistics")
            await asyncio.sleep(0.7)
            [second] = await get_json(agent, "/monitor/statistics.json")
        assert list(first) == [
            "executor_id",
            "executor_name",
            "framework_id",
            "source",
            "statistics",
        ]
        assert first["executor_id"] == first["source"] == "burn"
        assert first["framework_id"] == FRAMEWORK_ID
        statistics = first["statistics"]
        assert list(statistics) == STATISTICS_KEYS
        assert statistics["cpus_soft_limit"] == 0.6
        assert statistics["mem_limit_bytes"] == statistics["mem_soft_limit_bytes"] == 67108864
        assert statistics["mem_rss_bytes"] > 0
        busy = second["statistics"]
        used = (busy["cpus_user_time_secs"] + busy["cpus_system_time_secs"]) - (
            statistics["cpus_user_time_secs"] + statistics["cpus_system_time_secs"]
        )
        assert used > 0.1
        assert busy["timestamp"] > statistics["timestamp"]

    asyncio.run(scenario())


def test_health_has_no_body_and_no_content_type(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, _sink):
            status, headers, body = await http(agent, "GET", "/health")
        assert (status, body) == (200, b"")
        assert "content-type" not in headers

    asyncio.run(scenario())


def test_version_and_metrics(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            await _running(agent, sink, "sleeper", "sleep 30")
            agent.launch(launched(task("failing", "exit 1")))
            await sink.wait_terminal("failing")
            version = await get_json(agent, "/version")
            _status, headers, _ = await http(agent, "GET", "/version")
            metrics = await get_json(agent, "/metrics/snapshot")
        assert list(version) == ["build_date", "build_time", "build_user", "version"]
        assert headers["content-type"] == "application/json"
        assert metrics["slave/tasks_running"] == 1.0
        assert metrics["slave/tasks_failed"] == 1.0
        assert metrics["slave/cpus_total"] == 2.0
        assert metrics["slave/cpus_used"] == 0.6
        assert metrics["slave/cpus_percent"] == 0.3
        assert metrics["slave/mem_used"] == 64.0
        assert metrics["slave/registered"] == 1.0
        assert metrics["slave/executors_running"] == 1.0
        assert all(isinstance(value, float) for value in metrics.values())
        assert list(metrics) == sorted(metrics)

    asyncio.run(scenario())


def test_jsonp_wraps_the_answer(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, _sink):
            status, headers, body = await http(agent, "GET", "/version?jsonp=show")
        assert status == 200
        assert headers["content-type"] == "text/javascript"
        assert body.startswith(b"show({") and body.endswith(b"});")

    asyncio.run(scenario())


def test_the_v1_api_answers_the_read_calls(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            await _running(agent, sink, "op-sleep", "sleep 30")
            answers = {}
            for kind in ("GET_HEALTH", "GET_VERSION", "GET_METRICS", "GET_STATE", "GET_FLAGS"):
                status, body = await _call(agent, {"type": kind})
                assert status == 200, (kind, body)
                answers[kind] = json.loads(body)
            status, body = await _call(
                agent, {"type": "GET_CONTAINERS", "get_containers": {"show_nested": False}}
            )
        assert answers["GET_HEALTH"] == {"type": "GET_HEALTH", "get_health": {"healthy": True}}
        assert answers["GET_VERSION"]["get_version"]["version_info"]["version"] == "1.12.0"
        metrics = answers["GET_METRICS"]["get_metrics"]["metrics"]
        assert {"name": "slave/tasks_running", "value": 1.0} in metrics
        tasks = answers["GET_STATE"]["get_state"]["get_tasks"]["launched_tasks"]
        assert [t["task_id"]["value"] for t in tasks] == ["op-sleep"]
        assert tasks[0]["status_update_uuid"] == sink.of("op-sleep")[-1]["uuid"]
        frameworks = answers["GET_STATE"]["get_state"]["get_frameworks"]["frameworks"]
        assert frameworks[0]["framework_info"]["id"] == {"value": FRAMEWORK_ID}
        [container] = json.loads(body)["get_containers"]["containers"]
        assert list(container) == [
            "framework_id",
            "executor_id",
            "executor_name",
            "container_id",
            "container_status",
            "resource_statistics",
        ]
        assert container["executor_id"] == {"value": "op-sleep"}
        assert container["container_status"]["executor_pid"] > 0
        assert list(container["resource_statistics"]) == [
            "timestamp",
            "cpus_user_time_secs",
            "cpus_system_time_secs",
            "cpus_soft_limit",
            "mem_limit_bytes",
            "mem_soft_limit_bytes",
            "mem_rss_bytes",
        ]

    asyncio.run(scenario())


def test_the_v1_api_rejects_bad_requests_like_mesos(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, _sink):
            get = await http(agent, "GET", "/api/v1")
            no_type = await _call(agent, {"type": "NOPE"})
            numeric = await _call(agent, {"type": 3})
            broken = await _call(agent, b"{not json")
            plain = await _call(agent, {"type": "GET_HEALTH"}, {"Content-Type": "text/plain"})
            charset = await _call(
                agent, {"type": "GET_HEALTH"}, {"Content-Type": "application/json; charset=utf-8"}
            )
            missing = await _call(agent, {"type": "GET_HEALTH"}, {})
            read_file = await _call(agent, {"type": "READ_FILE"})
            nested = await _call(agent, {"type": "LAUNCH_NESTED_CONTAINER"})
        assert get[0] == 405
        assert get[2] == b"405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'."
        assert no_type == (400, b"Failed to validate agent::Call: Expecting 'type' to be present")
        problem = b"Not expecting a JSON number for field 'type'"
        assert numeric == (400, b"Failed to convert JSON into Call protobuf: " + problem)
        assert broken[0] == 400 and broken[1].startswith(b"Failed to parse body into JSON")
        expected_415 = b"Expecting 'Content-Type' of application/json or application/x-protobuf"
        assert plain == charset == (415, expected_415)
        assert missing == (400, b"Expecting 'Content-Type' to be present")
        assert read_file == (
            400,
            b"Failed to validate agent::Call: Expecting 'read_file' to be present",
        )
        assert nested[0] == 501

    asyncio.run(scenario())


def test_agents_sharing_a_loop_answer_each_for_itself(tmp_path: Path) -> None:
    async def scenario() -> None:
        agents = []
        for index in range(3):
            sink = RecordingSink()
            agent = Agent(
                config(tmp_path, agent_id=f"M-S{index}", hostname=f"127.0.0.{10 + index}"), sink
            )
            sink.agent = agent
            await agent.start()
            agents.append(agent)
        try:
            ids = [(await get_json(agent, "/state"))["id"] for agent in agents]
            assert ids == ["M-S0", "M-S1", "M-S2"]
            await agents[1].stop()
            assert (await get_json(agents[2], "/state"))["id"] == "M-S2"
        finally:
            for agent in (agents[0], agents[2]):
                await agent.stop()

    asyncio.run(scenario())
