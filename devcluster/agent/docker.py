"""Docker: detect an engine, and run image tasks through `docker run` when there is one.

Without an engine the agent runs the command on the host and says so in the task's
STARTING and RUNNING messages, so a newcomer's laptop still runs image-based tasks.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from devcluster.agent.command import variables_of
from devcluster.agent.executor import CommandRunner
from devcluster.agent.stats import process_tree_statistics
from devcluster.agent.task import resource_totals
from devcluster.interfaces import Json

if TYPE_CHECKING:
    from devcluster.agent.agent import Agent
    from devcluster.agent.task import TaskRecord

log = logging.getLogger(__name__)

ENGINE_PROBE_SECONDS = 3.0
SANDBOX_MOUNT = "/mnt/mesos/sandbox"
# Time beyond the grace for `docker stop` to finish before the client is killed outright.
STOP_SLACK_SECONDS = 10.0

_engine: bool | None = None


async def engine_reachable() -> bool:
    """True when `docker info` answers quickly; probed once per process."""
    global _engine
    if _engine is None:
        _engine = await _probe()
    return _engine


async def _probe() -> bool:
    binary = shutil.which("docker")
    if binary is None:
        return False
    try:
        proc = await asyncio.create_subprocess_exec(
            binary,
            "info",
            "--format",
            "{{.ServerVersion}}",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return False
    try:
        return await asyncio.wait_for(proc.wait(), ENGINE_PROBE_SECONDS) == 0
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return False


def image_of(task_info: Json) -> str | None:
    """The Docker image a task asks for: DOCKER containers, or MESOS with a docker image."""
    container = task_info.get("container") or {}
    kind = container.get("type")
    if kind == "DOCKER":
        image = (container.get("docker") or {}).get("image")
    elif kind == "MESOS":
        image_info = (container.get("mesos") or {}).get("image") or {}
        image = (image_info.get("docker") or {}).get("name")
    else:
        image = None
    return str(image) if image else None


def no_engine_message(image: str) -> str:
    return f"No Docker engine reachable: ran the command on the host without image {image}"


def run_argv(
    task_info: Json, image: str, name: str, sandbox: str, env: dict[str, str]
) -> list[str]:
    """`docker run` for a task, as the Mesos Docker containerizer builds it."""
    container = task_info.get("container") or {}
    docker_info = container.get("docker") or {}
    resources = resource_totals(task_info.get("resources", []))
    argv = ["docker", "run", "--rm", "--name", name, "--init"]
    if resources["cpus"]:
        argv += ["--cpus", f"{resources['cpus']:g}"]
    if resources["mem"]:
        argv += ["--memory", f"{int(resources['mem'])}m"]
    argv += ["-v", f"{sandbox}:{SANDBOX_MOUNT}", "-w", SANDBOX_MOUNT]
    for key, value in sorted(env.items()):
        argv += ["-e", f"{key}={value}"]
    argv += _network_args(container, docker_info)
    for volume in container.get("volumes") or []:
        if volume.get("host_path"):
            mode = "ro" if volume.get("mode") == "RO" else "rw"
            argv += ["-v", f"{volume['host_path']}:{volume['container_path']}:{mode}"]
    if docker_info.get("privileged"):
        argv.append("--privileged")
    if docker_info.get("force_pull_image"):
        argv.append("--pull=always")
    for parameter in docker_info.get("parameters") or []:
        argv.append(f"--{parameter['key']}={parameter.get('value', '')}")
    return argv + _image_and_command(task_info.get("command") or {}, image)


def _network_args(container: Json, docker_info: Json) -> list[str]:
    mappings = list(docker_info.get("port_mappings") or [])
    for network in container.get("network_infos") or []:
        mappings += network.get("port_mappings") or []
    network = docker_info.get("network", "BRIDGE" if mappings else "HOST")
    if network == "HOST":
        return ["--net=host"]
    if network == "NONE":
        return ["--net=none"]
    args = []
    if network == "USER":
        names = [n.get("name") for n in container.get("network_infos") or [] if n.get("name")]
        args.append(f"--net={names[0] if names else 'bridge'}")
    for mapping in mappings:
        protocol = mapping.get("protocol", "tcp")
        args += ["-p", f"{mapping['host_port']}:{mapping['container_port']}/{protocol}"]
    return args


def _image_and_command(command: Json, image: str) -> list[str]:
    # Like the Docker containerizer: shell commands replace the entrypoint with /bin/sh;
    # otherwise value and arguments follow the image, after its own entrypoint.
    if command.get("shell", True) and command.get("value"):
        return ["--entrypoint", "/bin/sh", image, "-c", str(command["value"])]
    argv = [image]
    if command.get("value"):
        argv.append(str(command["value"]))
    return argv + [str(argument) for argument in command.get("arguments") or []]


class DockerRunner(CommandRunner):
    """A task in a Docker container; the `docker run` client is the tracked process."""

    def __init__(self, agent: Agent, record: TaskRecord, image: str) -> None:
        super().__init__(agent, record)
        self._image = image
        self._name = f"mesos-{record.container_id}"
        self._container_pid: int | None = None
        self._helpers: set[asyncio.Task[str | None]] = set()

    def _command(self, env: dict[str, str]) -> tuple[list[str], str]:
        container_env = {
            key: value for key, value in env.items() if key.startswith(("MESOS_", "LIBPROCESS_"))
        }
        container_env.update(variables_of(self._record.task_info.get("command") or {}))
        container_env["MESOS_SANDBOX"] = SANDBOX_MOUNT
        argv = run_argv(
            self._record.task_info, self._image, self._name, str(self._sandbox), container_env
        )
        return argv, shutil.which("docker") or "docker"

    def _terminate(self, grace_seconds: float, deadline: float) -> None:
        # docker stop sends SIGTERM, then SIGKILL after --time; the client exits with it.
        if self._kill_deadline is None:
            self._log(f"Stopping container {self._name} with a grace of {grace_seconds:g}secs")
            self._helper(self._docker("stop", f"--time={int(grace_seconds)}", self._name))
        self._arm_sigkill(grace_seconds + STOP_SLACK_SECONDS, deadline + STOP_SLACK_SECONDS)

    def statistics(self) -> Json | None:
        if self._container_pid is None:
            # Found in the background: the first sample after the start has no figures.
            self._helper(self._find_container_pid())
            return None
        if self._proc is None or self._proc.returncode is not None:
            return None
        return process_tree_statistics(self._container_pid, self._record.resources())

    def _helper(self, coroutine: Coroutine[Any, Any, str | None]) -> None:
        task = asyncio.create_task(coroutine)
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    async def _find_container_pid(self) -> str | None:
        output = await self._docker("inspect", "--format", "{{.State.Pid}}", self._name)
        if output.strip().isdigit() and int(output) > 0:
            self._container_pid = int(output)
        return None

    async def _docker(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            shutil.which("docker") or "docker",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        output, _ = await proc.communicate()
        return output.decode(errors="replace")
