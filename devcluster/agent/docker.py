"""Docker: detect an engine, and run image tasks through `docker run` when there is one.

Without an engine the agent runs the command on the host and says so in the task's
STARTING and RUNNING messages, so a newcomer's laptop still runs image-based tasks.
"""

from __future__ import annotations

import asyncio
import logging
import shutil

from devcluster.interfaces import Json

log = logging.getLogger(__name__)

ENGINE_PROBE_SECONDS = 3.0
SANDBOX_MOUNT = "/mnt/mesos/sandbox"

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
