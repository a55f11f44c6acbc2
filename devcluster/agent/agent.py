"""The devcluster agent: what the master drives through devcluster.interfaces.AgentApi."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from devcluster.agent import docker, http
from devcluster.agent.executor import CommandRunner
from devcluster.agent.health import HealthChecker
from devcluster.agent.sandbox import DiskSandbox, attach_paths, create_sandbox, memory_sandbox
from devcluster.agent.simulated import SimulatedRunner
from devcluster.agent.status_stream import RetryQueue, StatusStream
from devcluster.agent.task import (
    EXECUTOR_CPUS,
    EXECUTOR_MEM_MB,
    Runner,
    TaskRecord,
    kill_grace_seconds,
)
from devcluster.interfaces import TERMINAL_STATES, AgentConfig, Json, LaunchedTask, StatusSink

log = logging.getLogger(__name__)

# Like Mesos's --max_completed_executors_per_framework and completed framework limit:
# bounded history keeps benchmarks with tens of thousands of tasks flat in memory.
MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK = 150
MAX_COMPLETED_FRAMEWORKS = 50


@dataclass(eq=False)
class FrameworkRecord:
    framework_id: str
    info: Json
    live: dict[str, TaskRecord] = field(default_factory=dict)
    completed: deque[TaskRecord] = field(default_factory=deque)


class Agent:
    """One Mesos-compatible agent: real processes, or simulated tasks when configured."""

    def __init__(self, config: AgentConfig, sink: StatusSink) -> None:
        self.config = config
        self._sink = sink
        self._port = config.port
        self.ip = _ip_of(config.hostname)
        self.start_time = time.time()
        self.frameworks: dict[str, FrameworkRecord] = {}
        self.attached: dict[str, TaskRecord] = {}
        # Status updates per state, and other events (fetches, launch errors) apart.
        self.counters: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.docker_engine = False
        self._health: dict[TaskRecord, HealthChecker] = {}
        work_dir = config.work_dir.absolute()
        self._frameworks_dir = f"{work_dir}/slaves/{config.agent_id}/frameworks"
        self._started = False
        self._retries = RetryQueue(config.status_retry_seconds)

    # -- AgentApi ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"{self.config.security.scheme}://{self.config.hostname}:{self._port}"

    async def start(self) -> None:
        if not self.config.simulated:
            self.docker_engine = await docker.engine_reachable()
        self._port = await http.serve(self, self.config.hostname, self.config.port)
        self._started = True

    async def stop(self) -> None:
        records = list(self.live_records())
        for record in records:
            self._stop_record_quietly(record)
        waits = [r.runner.wait_stopped() for r in records if r.runner is not None]
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)
        self._retries.close()
        if self._started:
            await http.unserve(self)
            self._started = False

    def launch(self, task: LaunchedTask) -> None:
        framework = self._framework(task.framework_id, task.framework_info)
        task_id = str(task.task_info["task_id"]["value"])
        if task_id in framework.live:
            log.warning(
                "agent %s: task %s is already live; launch ignored", self.config.agent_id, task_id
            )
            return
        record = TaskRecord(
            launched=task,
            agent_id=self.config.agent_id,
            ip=self.ip,
            stream=StatusStream(self._sender(task.framework_id), self._retries),
        )
        framework.live[task_id] = record
        if "command" not in task.task_info and not self.config.simulated:
            # Custom executors speak the executor API, which devcluster agents lack.
            message = "devcluster agents run command tasks only: custom executors are not supported"
            self._refuse(record, message, "REASON_EXECUTOR_TERMINATED")
            return
        try:
            self._make_sandbox(record)
        except OSError as error:
            message = f"Failed to launch container: cannot create the sandbox: {error}"
            self._refuse(record, message, "REASON_CONTAINER_LAUNCH_FAILED")
            return
        for path in attach_paths(self, record):
            self.attached[path] = record
        record.runner = self._make_runner(record)
        record.runner.start()

    def kill(self, framework_id: str, task_id: str, grace_seconds: float | None) -> bool:
        record = self.live_record(framework_id, task_id)
        if record is None or record.terminal or record.runner is None:
            return False
        grace = (
            kill_grace_seconds(record.task_info)
            if grace_seconds is None
            else max(grace_seconds, 0.0)
        )
        self._kill(record, grace)
        return True

    def acknowledge(self, framework_id: str, task_id: str, uuid_b64: str) -> bool:
        record = self.live_record(framework_id, task_id)
        if record is None:
            return False
        acked = record.stream.acknowledge(uuid_b64)
        if acked is None:
            return False
        if acked["state"] in TERMINAL_STATES and record.stream.pending == 0:
            self._complete(record)
        return True

    def resend_unacknowledged(self, framework_id: str) -> None:
        framework = self.frameworks.get(framework_id)
        if framework is None:
            return
        for record in list(framework.live.values()):
            record.stream.resend()

    def shutdown_framework(self, framework_id: str) -> None:
        framework = self.frameworks.get(framework_id)
        if framework is None:
            return
        for record in list(framework.live.values()):
            self._stop_record_quietly(record)
            if not record.terminal:
                status = record.make_status(
                    "TASK_KILLED", message="Framework shut down", reason="REASON_FRAMEWORK_REMOVED"
                )
                record.record(status)
                self.counters[status["state"]] += 1
            self._complete(record)

    def tasks(self) -> list[Json]:
        # FrameworkInfo goes along, as in a real agent's re-registration: a restarted master
        # knows a framework's principal before anybody subscribes with its id.
        return [
            {
                "framework_id": record.framework_id,
                "framework_info": framework.info,
                "task_info": record.task_info,
                "role": record.launched.role,
                "state": record.state,
                "latest_status": record.latest_status,
            }
            for framework in list(self.frameworks.values())
            for record in list(framework.live.values())
        ]

    def executor_resources(self) -> list[Json]:
        return [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": EXECUTOR_CPUS}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": EXECUTOR_MEM_MB}},
        ]

    # -- used by runners, health checks and the HTTP endpoints ------------------------

    def update(
        self,
        record: TaskRecord,
        state: str,
        *,
        message: str | None = None,
        reason: str | None = None,
        source: str = "SOURCE_EXECUTOR",
    ) -> None:
        """Queue a status update on the task's stream (sent once those before it are acked)."""
        if record.terminal or record.extra.get("quiet"):
            return
        status = record.make_status(state, message=message, reason=reason, source=source)
        record.record(status)
        self.counters[state] += 1
        if state in TERMINAL_STATES:
            self._stop_health(record)
        record.stream.push(status)
        if state == "TASK_RUNNING" and not record.killing and record not in self._health:
            self._start_health(record)

    def health_kill(self, record: TaskRecord) -> None:
        """Consecutive failures: the executor kills the task with its own kill policy."""
        if not record.terminal and not record.killing and record.runner is not None:
            self._kill(record, kill_grace_seconds(record.task_info))

    def live_record(self, framework_id: str, task_id: str) -> TaskRecord | None:
        framework = self.frameworks.get(framework_id)
        return None if framework is None else framework.live.get(task_id)

    def live_records(self) -> Iterator[TaskRecord]:
        for framework in list(self.frameworks.values()):
            yield from list(framework.live.values())

    def sandbox_directory(self, record: TaskRecord) -> str:
        """The absolute sandbox path /state shows (simulated tasks get the same layout)."""
        return record.sandbox_dir

    def used_resources(self) -> dict[str, float]:
        used = {"disk": 0.0, "mem": 0.0, "gpus": 0.0, "cpus": 0.0}
        for record in self.live_records():
            if record.terminal:
                continue
            for name, value in record.resources().items():
                used[name] += value
            used["cpus"] += EXECUTOR_CPUS
            used["mem"] += EXECUTOR_MEM_MB
        return {name: round(value, 3) for name, value in used.items()}

    def total_resources(self) -> dict[str, float]:
        return {
            "disk": float(self.config.disk),
            "mem": float(self.config.mem),
            "gpus": 0.0,
            "cpus": float(self.config.cpus),
        }

    # -- internals --------------------------------------------------------------------

    def _framework(self, framework_id: str, info: Json) -> FrameworkRecord:
        framework = self.frameworks.get(framework_id)
        if framework is None:
            framework = FrameworkRecord(framework_id, info)
            self.frameworks[framework_id] = framework
            self._evict_frameworks()
        else:
            framework.info = info
        return framework

    def _sender(self, framework_id: str) -> Callable[[Json], None]:
        agent_id = self.config.agent_id
        sink = self._sink

        def send(status: Json) -> None:
            sink.on_status(agent_id, framework_id, status)

        return send

    def _refuse(self, record: TaskRecord, message: str, reason: str) -> None:
        self.events["launch_errors"] += 1
        self.update(record, "TASK_FAILED", message=message, reason=reason, source="SOURCE_AGENT")

    def _make_sandbox(self, record: TaskRecord) -> None:
        if self.config.simulated:
            # Plain string building: pathlib costs too much at benchmark launch rates.
            record.sandbox_dir = (
                f"{self._frameworks_dir}/{record.framework_id}/executors/{record.task_id}"
                f"/runs/{record.container_id}"
            )
            record.sandbox = memory_sandbox(record)
        else:
            record.directory = create_sandbox(self.config, record)
            record.sandbox_dir = str(record.directory)
            record.sandbox = DiskSandbox(record.directory)

    def _make_runner(self, record: TaskRecord) -> Runner:
        if self.config.simulated:
            return SimulatedRunner(self, record)
        image = docker.image_of(record.task_info)
        if image is None:
            return CommandRunner(self, record)
        if self.docker_engine:
            return docker.DockerRunner(self, record, image)
        return CommandRunner(self, record, message=docker.no_engine_message(image))

    def _kill(self, record: TaskRecord, grace: float) -> None:
        assert record.runner is not None
        if not record.killing:
            record.killing = True
            self._stop_health(record)
            if _has_capability(record.launched.framework_info, "TASK_KILLING_STATE"):
                self.update(record, "TASK_KILLING")
        record.runner.kill(grace)

    def _stop_record_quietly(self, record: TaskRecord) -> None:
        record.extra["quiet"] = True
        self._stop_health(record)
        record.stream.close()
        if record.runner is not None:
            record.runner.stop_quietly()

    def _start_health(self, record: TaskRecord) -> None:
        check = record.task_info.get("health_check")
        if check and not self.config.simulated:
            checker = HealthChecker(self, record, check)
            self._health[record] = checker
            checker.start()

    def _stop_health(self, record: TaskRecord) -> None:
        checker = self._health.pop(record, None)
        if checker is not None:
            checker.stop()

    def _complete(self, record: TaskRecord) -> None:
        """The terminal update was acknowledged: the executor moves to the completed lists."""
        record.stream.close()
        framework = self.frameworks.get(record.framework_id)
        if framework is None or framework.live.get(record.task_id) is not record:
            return
        del framework.live[record.task_id]
        record.compact()
        framework.completed.append(record)
        while len(framework.completed) > MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK:
            self._detach(framework.completed.popleft())
        if not framework.live:
            # Re-insert so that completed frameworks are ordered by completion for eviction.
            self.frameworks.pop(framework.framework_id)
            self.frameworks[framework.framework_id] = framework
            self._evict_frameworks()

    def _evict_frameworks(self) -> None:
        idle = [fw for fw in self.frameworks.values() if not fw.live]
        for framework in idle[: max(len(idle) - MAX_COMPLETED_FRAMEWORKS, 0)]:
            del self.frameworks[framework.framework_id]
            for record in framework.completed:
                self._detach(record)

    def _detach(self, record: TaskRecord) -> None:
        for path in attach_paths(self, record):
            if self.attached.get(path) is record:
                del self.attached[path]


def _ip_of(hostname: str) -> str:
    try:
        return str(ipaddress.ip_address(hostname))
    except ValueError:
        return "127.0.0.1"


def _has_capability(framework_info: Json, name: str) -> bool:
    return any(c.get("type") == name for c in framework_info.get("capabilities", []))
