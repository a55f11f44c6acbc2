"""Mesos health checks (COMMAND, HTTP, TCP) run by the executor against its task.

Results reach the scheduler as TASK_RUNNING updates with `healthy` and
REASON_TASK_HEALTH_CHECK_STATUS_UPDATED: every unhealthy result, and the first healthy
one after the start or after a bad streak (11-health). Failures inside the grace period
are ignored until the first success; `consecutive_failures` failures kill the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
from typing import TYPE_CHECKING

from devcluster.agent.command import command_argv
from devcluster.interfaces import Json

if TYPE_CHECKING:
    from devcluster.agent.agent import Agent
    from devcluster.agent.task import TaskRecord

log = logging.getLogger(__name__)

DEFAULTS = {
    "delay_seconds": 15.0,
    "interval_seconds": 10.0,
    "timeout_seconds": 20.0,
    "consecutive_failures": 3,
    "grace_period_seconds": 10.0,
}
REASON = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"


def with_defaults(check: Json) -> Json:
    return {**DEFAULTS, **check}


class HealthChecker:
    def __init__(self, agent: Agent, record: TaskRecord, check: Json) -> None:
        self._agent = agent
        self._record = record
        self._check = with_defaults(check)
        self._timer: asyncio.TimerHandle | None = None
        self._running: asyncio.Task[None] | None = None
        self._started = 0.0
        self._initializing = True
        self._failures = 0
        self._stopped = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._started = loop.time()
        self._timer = loop.call_later(float(self._check["delay_seconds"]), self._fire)

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        if self._running is not None:
            self._running.cancel()

    def _fire(self) -> None:
        self._timer = None
        self._running = asyncio.create_task(self._run_once())

    async def _run_once(self) -> None:
        timeout = float(self._check["timeout_seconds"]) or None
        try:
            healthy = await asyncio.wait_for(self._probe(), timeout)
        except TimeoutError:
            healthy = False
        except OSError:
            healthy = False
        if self._stopped:
            return
        self._running = None
        if healthy:
            self._on_success()
        else:
            self._on_failure()
        if not self._stopped:
            interval = float(self._check["interval_seconds"])
            self._timer = asyncio.get_running_loop().call_later(interval, self._fire)

    def _on_success(self) -> None:
        announce = self._initializing or self._failures > 0
        self._initializing = False
        self._failures = 0
        if announce:
            self._record.healthy = True
            self._agent.update(self._record, "TASK_RUNNING", reason=REASON)

    def _on_failure(self) -> None:
        elapsed = asyncio.get_running_loop().time() - self._started
        if self._initializing and elapsed < float(self._check["grace_period_seconds"]):
            return
        self._failures += 1
        self._record.healthy = False
        self._agent.update(self._record, "TASK_RUNNING", reason=REASON)
        if self._failures >= int(self._check["consecutive_failures"]):
            self._stopped = True
            self._agent.health_kill(self._record)

    async def _probe(self) -> bool:
        kind = self._check.get("type")
        if kind == "COMMAND":
            return await self._probe_command(self._check.get("command") or {})
        if kind == "HTTP":
            return await _probe_http(self._check.get("http") or {})
        if kind == "TCP":
            return await _probe_tcp(int((self._check.get("tcp") or {}).get("port", 0)))
        log.warning("task %s: unknown health check type %r", self._record.task_id, kind)
        return False

    async def _probe_command(self, command: Json) -> bool:
        argv, executable = command_argv(command)
        env = dict(self._record.extra.get("env") or os.environ)
        env.update(
            {
                v["name"]: str(v.get("value", ""))
                for v in (command.get("environment") or {}).get("variables", [])
            }
        )
        proc = await asyncio.create_subprocess_exec(
            *argv,
            executable=executable,
            cwd=self._record.directory,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            return await proc.wait() == 0
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()


async def _probe_http(http: Json) -> bool:
    port = int(http.get("port", 0))
    path = str(http.get("path") or "/")
    context = None
    if http.get("scheme") == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    try:
        request = (
            f"GET {path if path.startswith('/') else '/' + path} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nUser-Agent: devcluster-health-check\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(request.encode())
        await writer.drain()
        parts = (await reader.readline()).split()
        return len(parts) >= 2 and parts[1].isdigit() and 200 <= int(parts[1]) < 400
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _probe_tcp(port: int) -> bool:
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
