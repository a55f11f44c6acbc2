"""Docker tasks: the `docker run` command line, and the runner against a stand-in client."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from devcluster.agent import docker
from devcluster.agent.docker import image_of, run_argv
from tests.devcluster.test_agent_harness import FRAMEWORK_ID, launched, running_agent, task

FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "$FAKE_DOCKER_DIR/calls"
case "$1" in
  run)
    for last in "$@"; do :; done
    name=$(echo "$*" | sed 's/.*--name \\([^ ]*\\).*/\\1/')
    echo $$ > "$FAKE_DOCKER_DIR/$name.pid"
    echo "container says $last"
    exec sleep 30 ;;
  stop)
    for name in "$@"; do :; done
    kill -TERM "$(cat "$FAKE_DOCKER_DIR/$name.pid")" ;;
  inspect)
    for name in "$@"; do :; done
    cat "$FAKE_DOCKER_DIR/$name.pid" ;;
esac
"""


def _docker_task(**docker: object) -> dict:
    info = task("web", "nginx -g 'daemon off;'")
    info["resources"].append(
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31005, "end": 31005}]}}
    )
    info["container"] = {"type": "DOCKER", "docker": {"image": "nginx:1.25", **docker}}
    return info


def test_it_finds_the_image_of_docker_and_mesos_containers() -> None:
    mesos = {"type": "MESOS", "mesos": {"image": {"type": "DOCKER", "docker": {"name": "alpine"}}}}
    assert image_of(_docker_task()) == "nginx:1.25"
    assert image_of(task("t", container=mesos)) == "alpine"
    assert image_of(task("t")) is None
    assert image_of(task("t", container={"type": "MESOS"})) is None


def test_run_argv_limits_mounts_and_maps_ports() -> None:
    mapping = {"host_port": 31005, "container_port": 80, "protocol": "tcp"}
    info = _docker_task(network="BRIDGE", port_mappings=[mapping])
    argv = run_argv(info, "nginx:1.25", "mesos-c1", "/sandbox", {"A": "1"})
    assert argv[:6] == ["docker", "run", "--rm", "--name", "mesos-c1", "--init"]
    assert argv[argv.index("--cpus") + 1] == "0.5"
    assert argv[argv.index("--memory") + 1] == "32m"
    assert "/sandbox:/mnt/mesos/sandbox" in argv
    assert argv[argv.index("-e") + 1] == "A=1"
    assert argv[argv.index("-p") + 1] == "31005:80/tcp"
    assert argv[-5:] == ["--entrypoint", "/bin/sh", "nginx:1.25", "-c", "nginx -g 'daemon off;'"]


def test_run_argv_uses_the_host_network_by_default_and_keeps_the_entrypoint() -> None:
    info = _docker_task()
    info["command"] = {"shell": False, "value": "serve", "arguments": ["--port", "80"]}
    argv = run_argv(info, "nginx:1.25", "n", "/s", {})
    assert "--net=host" in argv
    assert argv[-4:] == ["nginx:1.25", "serve", "--port", "80"]


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "fake-docker"
    folder.mkdir()
    script = folder / "docker"
    script.write_text(FAKE_DOCKER)
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_DIR", str(folder))
    # The engine probe is cached per process: keep the stand-in out of it.
    monkeypatch.setattr(docker, "_engine", False)
    return folder


def test_with_an_engine_the_task_runs_through_docker_and_stops_through_it(
    tmp_path: Path, fake_docker: Path
) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            agent.docker_engine = True
            info = _docker_task()
            info["kill_policy"] = {"grace_period": {"nanoseconds": 2_000_000_000}}
            agent.launch(launched(info))
            await sink.wait_for(lambda: "TASK_RUNNING" in sink.states("web"))
            record = agent.live_record(FRAMEWORK_ID, "web")
            stdout = Path(record.sandbox_dir) / "stdout"
            await sink.wait_for(lambda: stdout.read_text() != "")
            assert agent.kill(FRAMEWORK_ID, "web", None) is True
            killed = await sink.wait_terminal("web")
        calls = (fake_docker / "calls").read_text().splitlines()
        assert calls[0].startswith("run --rm --name mesos-")
        assert f"-v {record.sandbox_dir}:/mnt/mesos/sandbox" in calls[0]
        assert "-e MESOS_SANDBOX=/mnt/mesos/sandbox" in calls[0]
        assert any(call.startswith("stop --time=2 mesos-") for call in calls)
        assert stdout.read_text() == "container says nginx -g 'daemon off;'\n"
        assert "message" not in sink.of("web")[0]
        assert killed["state"] == "TASK_KILLED"

    asyncio.run(scenario())
