"""Shared pieces for the agent tests: a recording StatusSink, task builders, raw HTTP.

The sink stands in for the master's side of the seam; it records every update and, by
default, acknowledges it on the next loop turn as a connected framework would.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from devcluster.agent import Agent
from devcluster.interfaces import AgentConfig, Json, LaunchedTask

FRAMEWORK_ID = "4c1e0a6e-0000-4000-8000-000000000000-0000"
AGENT_ID = "4c1e0a6e-0000-4000-8000-000000000000-S0"


class RecordingSink:
    def __init__(self, *, auto_ack: bool = True) -> None:
        self.auto_ack = auto_ack
        self.updates: list[Json] = []
        self.agent: Agent | None = None

    def on_status(self, agent_id: str, framework_id: str, status: Json) -> None:
        assert agent_id == self.agent.config.agent_id
        self.updates.append(status)
        if self.auto_ack:
            asyncio.get_running_loop().call_soon(
                self.agent.acknowledge, framework_id, status["task_id"]["value"], status["uuid"]
            )

    def of(self, task_id: str) -> list[Json]:
        return [u for u in self.updates if u["task_id"]["value"] == task_id]

    def states(self, task_id: str) -> list[str]:
        return [u["state"] for u in self.of(task_id)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; updates so far: {self.summary()}")
            await asyncio.sleep(0.01)

    async def wait_terminal(self, task_id: str, timeout: float = 10.0) -> Json:
        terminal = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"}
        await self.wait_for(lambda: bool(set(self.states(task_id)) & terminal), timeout)
        return next(u for u in self.of(task_id) if u["state"] in terminal)

    def summary(self) -> list[tuple[str, str, str | None]]:
        return [(u["task_id"]["value"], u["state"], u.get("message")) for u in self.updates]


def config(tmp_path: Path, **overrides: Any) -> AgentConfig:
    values: dict[str, Any] = {
        "agent_id": AGENT_ID,
        "hostname": "127.0.0.2",
        "port": 0,
        "cpus": 2.0,
        "mem": 2048.0,
        "disk": 4096.0,
        "ports": ((31000, 31100),),
        "work_dir": tmp_path / "work",
        "status_retry_seconds": 0.2,
    }
    values.update(overrides)
    return AgentConfig(**values)


def task(task_id: str, command: str | Json = "true", **extra: Any) -> Json:
    info: Json = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": AGENT_ID},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
        ],
        "command": {"value": command} if isinstance(command, str) else command,
    }
    info.update(extra)
    return info


def launched(
    info: Json, *, capabilities: tuple[str, ...] = (), framework_id: str = FRAMEWORK_ID
) -> LaunchedTask:
    framework_info = {
        "user": "root",
        "name": "agent-tests",
        "id": {"value": framework_id},
        "roles": ["*"],
        "capabilities": [{"type": "MULTI_ROLE"}] + [{"type": c} for c in capabilities],
    }
    return LaunchedTask(framework_id, framework_info, info, "*")


@asynccontextmanager
async def running_agent(
    tmp_path: Path, sink: RecordingSink | None = None, **overrides: Any
) -> AsyncIterator[tuple[Agent, RecordingSink]]:
    sink = sink or RecordingSink()
    agent = Agent(config(tmp_path, **overrides), sink)
    sink.agent = agent
    await agent.start()
    try:
        yield agent, sink
    finally:
        await agent.stop()


async def http(
    agent: Agent,
    method: str,
    target: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP/1.1 request to the agent's own address; (status, headers, body)."""
    reader, writer = await asyncio.open_connection(agent.config.hostname, agent.port)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {agent.config.hostname}:{agent.port}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    writer.write("\r\n".join(lines).encode() + body)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    if parsed.get("transfer-encoding") == "chunked":
        payload = _dechunk(payload)
    return int(status_line.split()[1]), parsed, payload


async def get_json(agent: Agent, target: str) -> Any:
    status, _headers, body = await http(agent, "GET", target)
    assert status == 200, (status, body)
    return json.loads(body)


def _dechunk(payload: bytes) -> bytes:
    out = b""
    while payload:
        size_line, _, payload = payload.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += payload[:size]
        payload = payload[size + 2 :]
    return out


def sandbox_path(task_id: str, name: str = "", framework_id: str = FRAMEWORK_ID) -> str:
    path = f"/frameworks/{framework_id}/executors/{task_id}/runs/latest"
    return f"{path}/{name}" if name else path
