"""Simulated tasks: no process, only the updates a command executor would send.

Benchmarks place tens of thousands of these, so a task costs two loop timers at most
and no thread, file or process. Task labels steer each one:

  devcluster.duration=<seconds>|inf   how long it runs (config default otherwise)
  devcluster.outcome=FINISHED|FAILED|KILLED|LOST|ERROR   how it ends
  devcluster.exit_code=<n>            the status in "Command exited with status <n>"
  devcluster.ignore_sigterm=true      a kill waits for the whole grace ("signal Killed")
  devcluster.healthy=false            its health check fails until it is killed
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from typing import TYPE_CHECKING

from devcluster.agent.task import TaskRecord, labels_of
from devcluster.interfaces import Json

if TYPE_CHECKING:
    from devcluster.agent.agent import Agent

OUTCOMES = {"FINISHED", "FAILED", "KILLED", "LOST", "ERROR", "DROPPED", "GONE"}


class SimulatedRunner:
    pid: int | None = None

    def __init__(self, agent: Agent, record: TaskRecord) -> None:
        self._agent = agent
        self._record = record
        self._labels = labels_of(record.task_info)
        self._timer: asyncio.TimerHandle | None = None
        self._health_timer: asyncio.TimerHandle | None = None
        self._failures = 0
        self._kill_deadline: float | None = None

    def start(self) -> None:
        agent, record = self._agent, self._record
        agent.update(record, "TASK_STARTING")
        agent.update(record, "TASK_RUNNING")
        duration = self._duration()
        loop = asyncio.get_running_loop()
        limit = record.task_info.get("max_completion_time")
        limit_seconds = float(limit.get("nanoseconds", 0)) / 1e9 if limit else math.inf
        if limit_seconds < duration:
            self._timer = loop.call_later(limit_seconds, self._expire)
        elif math.isfinite(duration):
            self._timer = loop.call_later(duration, self._finish)
        check = record.task_info.get("health_check")
        if check:
            delay = float(check.get("delay_seconds", 15.0))
            self._health_timer = loop.call_later(delay, self._health_tick)

    def kill(self, grace_seconds: float) -> None:
        if self._record.terminal:
            return
        self._cancel(health_only=True)
        if self._labels.get("devcluster.ignore_sigterm", "").lower() != "true":
            self._end("TASK_KILLED", "Command terminated with signal Terminated")
            return
        deadline = time.monotonic() + grace_seconds
        if self._kill_deadline is not None and deadline >= self._kill_deadline:
            return
        self._kill_deadline = deadline
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(
            grace_seconds, self._end, "TASK_KILLED", "Command terminated with signal Killed"
        )

    def stop_quietly(self) -> None:
        self._cancel()

    async def wait_stopped(self) -> None:
        return None

    def statistics(self) -> Json | None:
        record = self._record
        resources = record.resources()
        elapsed = (record.finished_at or time.time()) - record.started_at
        busy = elapsed * resources["cpus"] * 0.6
        mem_limit = int((resources["mem"] + 32) * 1024 * 1024)
        return {
            "timestamp": time.time(),
            "cpus_user_time_secs": round(busy * 0.8, 2),
            "cpus_system_time_secs": round(busy * 0.2, 2),
            "cpus_soft_limit": round(resources["cpus"] + 0.1, 3),
            "mem_limit_bytes": mem_limit,
            "mem_soft_limit_bytes": mem_limit,
            "mem_rss_bytes": int(mem_limit * 0.55),
        }

    def _duration(self) -> float:
        text = self._labels.get("devcluster.duration")
        if text is None:
            return max(self._agent.config.simulated_duration_seconds, 0.0)
        try:
            value = float(text)
        except ValueError:
            return self._agent.config.simulated_duration_seconds
        return math.inf if value < 0 else value

    def _finish(self) -> None:
        self._timer = None
        outcome = self._labels.get("devcluster.outcome", "").upper().removeprefix("TASK_")
        if outcome not in OUTCOMES:
            rate = self._agent.config.simulated_failure_rate
            outcome = "FAILED" if rate > 0 and random.random() < rate else "FINISHED"
        code = self._exit_code(outcome)
        if outcome in {"FINISHED", "FAILED"}:
            self._end(f"TASK_{outcome}", f"Command exited with status {code}")
        elif outcome == "KILLED":
            self._end("TASK_KILLED", "Command terminated with signal Killed")
        else:
            self._end(f"TASK_{outcome}", f"Simulated TASK_{outcome}", source="SOURCE_AGENT")

    def _expire(self) -> None:
        self._timer = None
        self._cancel()
        self._agent.update(
            self._record,
            "TASK_FAILED",
            message="Command terminated with signal Terminated",
            reason="REASON_MAX_COMPLETION_TIME_REACHED",
        )

    def _exit_code(self, outcome: str) -> int:
        try:
            return int(self._labels["devcluster.exit_code"])
        except (KeyError, ValueError):
            return 0 if outcome == "FINISHED" else 1

    def _health_tick(self) -> None:
        record = self._record
        self._health_timer = None
        if record.terminal or record.killing:
            return
        check = record.task_info.get("health_check") or {}
        healthy = self._labels.get("devcluster.healthy", "true").lower() != "false"
        if healthy:
            if record.healthy is not True:
                record.healthy = True
                self._agent.update(
                    record, "TASK_RUNNING", reason="REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
                )
        else:
            self._failures += 1
            record.healthy = False
            self._agent.update(
                record, "TASK_RUNNING", reason="REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
            )
            if self._failures >= int(check.get("consecutive_failures", 3)):
                self._agent.health_kill(record)
                return
        interval = float(check.get("interval_seconds", 10.0))
        self._health_timer = asyncio.get_running_loop().call_later(interval, self._health_tick)

    def _end(self, state: str, message: str, source: str = "SOURCE_EXECUTOR") -> None:
        self._cancel()
        self._agent.update(self._record, state, message=message, source=source)

    def _cancel(self, *, health_only: bool = False) -> None:
        if self._health_timer is not None:
            self._health_timer.cancel()
            self._health_timer = None
        if not health_only and self._timer is not None:
            self._timer.cancel()
            self._timer = None
