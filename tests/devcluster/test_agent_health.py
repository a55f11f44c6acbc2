"""Health checks: COMMAND, HTTP and TCP results as TASK_RUNNING updates, kill on failures."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from aiohttp import web

from devcluster.agent.health import with_defaults
from tests.devcluster.test_agent_harness import FRAMEWORK_ID, launched, running_agent, task

REASON = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"


def _check(kind: str, **fields: object) -> dict:
    check = {
        "type": kind,
        "delay_seconds": 0,
        "interval_seconds": 0.1,
        "timeout_seconds": 2,
        "grace_period_seconds": 0,
        "consecutive_failures": 2,
    }
    check.update(fields)
    return check


def _health_updates(sink, task_id: str) -> list[dict]:
    return [u for u in sink.of(task_id) if u.get("reason") == REASON]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_defaults_are_the_mesos_ones() -> None:
    filled = with_defaults({"type": "TCP", "tcp": {"port": 80}})
    assert filled["delay_seconds"] == 15.0
    assert filled["interval_seconds"] == 10.0
    assert filled["timeout_seconds"] == 20.0
    assert filled["consecutive_failures"] == 3
    assert filled["grace_period_seconds"] == 10.0


def test_a_healthy_command_check_is_announced_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        check = _check("COMMAND", command={"value": "test -f stdout"})
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("health-ok", "sleep 30", health_check=check)))
            await sink.wait_for(lambda: _health_updates(sink, "health-ok"))
            await asyncio.sleep(0.5)
            [update] = _health_updates(sink, "health-ok")
            assert update["state"] == "TASK_RUNNING" and update["healthy"] is True
            assert sink.states("health-ok") == ["TASK_STARTING", "TASK_RUNNING", "TASK_RUNNING"]

    asyncio.run(scenario())


def test_failing_checks_are_each_reported_then_the_task_is_killed(tmp_path: Path) -> None:
    async def scenario() -> None:
        check = _check("COMMAND", command={"value": "false"})
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("health-bad", "sleep 30", health_check=check)))
            killed = await sink.wait_terminal("health-bad")
        unhealthy = _health_updates(sink, "health-bad")
        assert [u["healthy"] for u in unhealthy] == [False, False]
        assert list(unhealthy[0]) == [
            "task_id",
            "state",
            "source",
            "reason",
            "agent_id",
            "executor_id",
            "timestamp",
            "uuid",
            "healthy",
            "container_status",
        ]
        assert list(killed)[:3] == ["task_id", "state", "message"]
        assert list(killed)[-2:] == ["healthy", "container_status"]
        assert killed["state"] == "TASK_KILLED"
        assert killed["healthy"] is False
        assert killed["message"] == "Command terminated with signal Terminated"
        assert "reason" not in killed

    asyncio.run(scenario())


def test_the_check_command_runs_in_the_sandbox_with_the_tasks_environment(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        probe = 'test "$COLOUR" = blue && test "$(pwd)" = "$MESOS_SANDBOX"'
        check = _check("COMMAND", command={"value": probe})
        command = {
            "value": "sleep 30",
            "environment": {"variables": [{"name": "COLOUR", "value": "blue"}]},
        }
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("env-check", command, health_check=check)))
            await sink.wait_for(lambda: _health_updates(sink, "env-check"))
            assert _health_updates(sink, "env-check")[0]["healthy"] is True

    asyncio.run(scenario())


def test_a_recovery_after_failures_is_announced(tmp_path: Path) -> None:
    async def scenario() -> None:
        # Fails twice (a counter file in the sandbox), then passes: false, false, true.
        probe = "n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; test $n -ge 2"
        check = _check("COMMAND", command={"value": probe}, consecutive_failures=5)
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("flaky", "sleep 30", health_check=check)))
            await sink.wait_for(lambda: len(_health_updates(sink, "flaky")) >= 3)
            await asyncio.sleep(0.3)
            results = [u["healthy"] for u in _health_updates(sink, "flaky")]
        assert results == [False, False, True]

    asyncio.run(scenario())


def test_failures_inside_the_grace_period_are_ignored(tmp_path: Path) -> None:
    async def scenario() -> None:
        check = _check("COMMAND", command={"value": "false"}, grace_period_seconds=30)
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("graceful", "sleep 30", health_check=check)))
            await sink.wait_for(lambda: "TASK_RUNNING" in sink.states("graceful"))
            await asyncio.sleep(0.5)
            assert _health_updates(sink, "graceful") == []
            assert agent.kill(FRAMEWORK_ID, "graceful", 0) is True

    asyncio.run(scenario())


def test_http_checks_treat_2xx_and_3xx_as_healthy(tmp_path: Path) -> None:
    async def scenario() -> None:
        codes = {"/ok": 200, "/moved": 302, "/broken": 503}

        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=codes[request.path])

        app = web.Application()
        app.router.add_get("/{name}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = _free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            async with running_agent(tmp_path) as (agent, sink):
                for name in ("ok", "moved", "broken"):
                    check = _check("HTTP", http={"port": port, "path": f"/{name}"})
                    agent.launch(launched(task(name, "sleep 30", health_check=check)))
                await sink.wait_for(
                    lambda: all(_health_updates(sink, n) for n in ("ok", "moved", "broken"))
                )
                assert _health_updates(sink, "ok")[0]["healthy"] is True
                assert _health_updates(sink, "moved")[0]["healthy"] is True
                assert _health_updates(sink, "broken")[0]["healthy"] is False
        finally:
            await runner.cleanup()

    asyncio.run(scenario())


def test_tcp_checks_pass_while_something_listens(tmp_path: Path) -> None:
    async def scenario() -> None:
        listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        closed_port = _free_port()
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(
                launched(
                    task("listening", "sleep 30", health_check=_check("TCP", tcp={"port": port}))
                )
            )
            agent.launch(
                launched(
                    task(
                        "closed", "sleep 30", health_check=_check("TCP", tcp={"port": closed_port})
                    )
                )
            )
            await sink.wait_for(
                lambda: _health_updates(sink, "listening") and _health_updates(sink, "closed")
            )
            assert _health_updates(sink, "listening")[0]["healthy"] is True
            assert _health_updates(sink, "closed")[0]["healthy"] is False
            closed = await sink.wait_terminal("closed")
            assert closed["state"] == "TASK_KILLED"
        listener.close()

    asyncio.run(scenario())


def test_a_check_that_times_out_counts_as_a_failure(tmp_path: Path) -> None:
    async def scenario() -> None:
        check = _check("COMMAND", command={"value": "sleep 5"}, timeout_seconds=0.1)
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("slow-check", "sleep 30", health_check=check)))
            await sink.wait_for(lambda: _health_updates(sink, "slow-check"))
            assert _health_updates(sink, "slow-check")[0]["healthy"] is False

    asyncio.run(scenario())
