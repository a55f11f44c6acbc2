"""Real task processes, run the way the Mesos command executor runs them.

Each task is a process in its own session (so its own process group: a kill reaches
every child), started in its sandbox with stdout/stderr going to the sandbox files.
The executor's own log lines go to stderr in glog form, like Mesos's command executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from devcluster.agent import stats
from devcluster.agent.command import LaunchError, command_argv, task_environment
from devcluster.agent.fetcher import fetch_all
from devcluster.agent.task import kill_grace_seconds
from devcluster.interfaces import Json

if TYPE_CHECKING:
    from devcluster.agent.agent import Agent
    from devcluster.agent.task import TaskRecord

log = logging.getLogger(__name__)

QUIET_STOP_GRACE_SECONDS = 0.5


class ExecutorLog:
    """Appends glog-style lines to the sandbox's stderr, as the command executor does."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def __call__(self, message: str) -> None:
        now = time.time()
        stamp = time.strftime("%m%d %H:%M:%S", time.localtime(now))
        line = f"I{stamp}.{int(now % 1 * 1e6):06d} {os.getpid():>6} executor] {message}\n"
        with contextlib.suppress(OSError), self._path.open("a") as handle:
            handle.write(line)


def _max_completion_seconds(task_info: Json) -> float | None:
    limit = task_info.get("max_completion_time")
    if not limit:
        return None
    return max(float(limit.get("nanoseconds", 0)) / 1e9, 0.0)


def exit_text(returncode: int) -> str:
    """Mesos's WSTRINGIFY: 'exited with status N' or 'terminated with signal <name>'."""
    if returncode >= 0:
        return f"Command exited with status {returncode}"
    number = -returncode
    name = signal.strsignal(number) or f"signal {number}"
    return f"Command terminated with signal {name}"


class CommandRunner:
    def __init__(self, agent: Agent, record: TaskRecord, *, message: str | None = None) -> None:
        self._agent = agent
        self._record = record
        # Said on STARTING and RUNNING (e.g. that an image was asked for but not used).
        self._message = message
        assert record.directory is not None
        self._sandbox = record.directory
        self._log = ExecutorLog(self._sandbox / "stderr")
        self._proc: asyncio.subprocess.Process | None = None
        self._main: asyncio.Task[None] | None = None
        self._kill_timer: asyncio.TimerHandle | None = None
        self._kill_deadline: float | None = None
        self._killed = False
        self._preparing = False
        self._expired = False
        self._pending_grace = 0.0
        self.pid: int | None = None

    # -- Runner -----------------------------------------------------------------------

    def start(self) -> None:
        self._main = asyncio.create_task(self._run(), name=f"task {self._record.task_id}")

    def kill(self, grace_seconds: float) -> None:
        if self._proc is None:
            # While fetching, the launch is abandoned; while forking, the kill waits for
            # the process (cancelling a fork half-way could leave it untracked).
            self._killed = True
            self._pending_grace = grace_seconds
            if self._preparing and self._main is not None:
                self._main.cancel()
            return
        if self._proc.returncode is not None:
            return
        deadline = time.monotonic() + grace_seconds
        if self._killed and self._kill_deadline is not None and deadline >= self._kill_deadline:
            return
        if not self._killed:
            self._killed = True
            self._log(
                f"Received kill for task {self._record.task_id} with grace period of "
                f"{grace_seconds:g}secs"
            )
        self._terminate(grace_seconds, deadline)

    def stop_quietly(self) -> None:
        if self._proc is None:
            self._killed = True
            if self._preparing and self._main is not None:
                self._main.cancel()
            return
        if self._proc.returncode is None:
            self._killed = True
            deadline = time.monotonic() + QUIET_STOP_GRACE_SECONDS
            self._terminate(QUIET_STOP_GRACE_SECONDS, deadline)

    async def wait_stopped(self) -> None:
        if self._main is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._main

    def statistics(self) -> Json | None:
        if self.pid is None or self._proc is None or self._proc.returncode is not None:
            return None
        return stats.process_tree_statistics(self.pid, self._record.resources())

    # -- the task's life --------------------------------------------------------------

    async def _run(self) -> None:
        env = await self._environment_or_failure()
        if env is None or not await self._spawn(env):
            return
        assert self._proc is not None
        deadline = _max_completion_seconds(self._record.task_info)
        expiry = None
        if deadline is not None:
            expiry = asyncio.get_running_loop().call_later(deadline, self._expire)
        returncode = await self._proc.wait()
        if expiry is not None:
            expiry.cancel()
        self._reap_leftovers()
        self._report(returncode)

    async def _environment_or_failure(self) -> dict[str, str] | None:
        """Prepare the launch; a kill or a failure meanwhile is reported from the agent."""
        agent, record = self._agent, self._record
        self._preparing = True
        try:
            return await self._prepare()
        except asyncio.CancelledError:
            state, reason = "TASK_KILLED", "REASON_TASK_KILLED_DURING_LAUNCH"
            message = "Task killed before its command started"
        except LaunchError as error:
            agent.events["launch_errors"] += 1
            state, reason = "TASK_FAILED", "REASON_CONTAINER_LAUNCH_FAILED"
            message = f"Failed to launch container: {error}"
            self._log(message)
        finally:
            self._preparing = False
        agent.update(record, state, message=message, reason=reason, source="SOURCE_AGENT")
        return None

    def _report(self, returncode: int) -> None:
        text = exit_text(returncode)
        self._log(f"{text} (pid: {self.pid})")
        if self._expired:
            state, reason = "TASK_FAILED", "REASON_MAX_COMPLETION_TIME_REACHED"
        elif self._killed:
            state, reason = "TASK_KILLED", None
        else:
            state, reason = ("TASK_FINISHED" if returncode == 0 else "TASK_FAILED"), None
        self._agent.update(self._record, state, message=text, reason=reason)

    def _expire(self) -> None:
        """max_completion_time passed: killed like a KILL, but reported as TASK_FAILED."""
        if self._killed or self._proc is None or self._proc.returncode is not None:
            return
        self._expired = True
        self._log(f"Task {self._record.task_id} reached its maximum completion time")
        self.kill(kill_grace_seconds(self._record.task_info))

    async def _prepare(self) -> dict[str, str]:
        record = self._record
        self._log(f"Starting task {record.task_id}")
        env = task_environment(self._agent, record, str(self._sandbox))
        record.extra["env"] = env
        uris = (record.task_info.get("command") or {}).get("uris") or []
        if uris:
            try:
                await fetch_all(uris, self._sandbox, self._log)
            except LaunchError as error:
                self._agent.events["fetches_failed"] += 1
                raise LaunchError(
                    f"Failed to fetch all URIs for container '{record.container_id}': {error}"
                ) from error
            self._agent.events["fetches_ok"] += 1
        return env

    def _command(self, env: dict[str, str]) -> tuple[list[str], str]:
        """(argv, executable) of the process to start."""
        return command_argv(self._record.task_info.get("command") or {})

    async def _spawn(self, env: dict[str, str]) -> bool:
        agent, record = self._agent, self._record
        argv, executable = self._command(env)
        try:
            with (
                (self._sandbox / "stdout").open("ab") as out,
                (self._sandbox / "stderr").open("ab") as err,
            ):
                self._proc = await asyncio.create_subprocess_exec(
                    *argv,
                    executable=executable,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    cwd=self._sandbox,
                    env=env,
                    start_new_session=True,
                )
        except OSError as error:
            message = f"Failed to launch command '{executable}': {error.strerror or error}"
            self._log(message)
            agent.events["launch_errors"] += 1
            agent.update(record, "TASK_STARTING", message=self._message)
            agent.update(record, "TASK_FAILED", message=message)
            return False
        self.pid = record.executor_pid = self._proc.pid
        self._log(f"Forked command at {self.pid}")
        agent.update(record, "TASK_STARTING", message=self._message)
        agent.update(record, "TASK_RUNNING", message=self._message)
        if self._killed:
            self._terminate(self._pending_grace, time.monotonic() + self._pending_grace)
        return True

    def _terminate(self, grace_seconds: float, deadline: float) -> None:
        """SIGTERM to the process group now, SIGKILL when the grace ends."""
        if self._kill_deadline is None:
            self._signal(signal.SIGTERM)
        self._arm_sigkill(grace_seconds, deadline)

    def _signal(self, number: signal.Signals) -> None:
        if self.pid is None:
            return
        self._log(f"Sending {number.name} to process tree at pid {self.pid}")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, number)

    def _arm_sigkill(self, grace_seconds: float, deadline: float) -> None:
        if self._kill_deadline is not None and deadline >= self._kill_deadline:
            return
        if self._kill_timer is not None:
            self._kill_timer.cancel()
        self._kill_deadline = deadline
        self._kill_timer = asyncio.get_running_loop().call_later(
            max(grace_seconds, 0.0), self._signal, signal.SIGKILL
        )

    def _reap_leftovers(self) -> None:
        # Like destroying a Mesos container: nothing of the task outlives it.
        if self._kill_timer is not None:
            self._kill_timer.cancel()
            self._kill_timer = None
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
