"""CommandInfo to argv and environment, as the Mesos command executor interprets them."""

from __future__ import annotations

import base64
import binascii
import os
from typing import TYPE_CHECKING

from devcluster.interfaces import Json

if TYPE_CHECKING:
    from devcluster.agent.agent import Agent
    from devcluster.agent.task import TaskRecord


class LaunchError(Exception):
    """The container cannot be set up (bad secret, failed fetch...): TASK_FAILED from the agent."""


def command_argv(command: Json) -> tuple[list[str], str]:
    """(argv, executable). shell: /bin/sh -c value; otherwise value runs with argv = arguments."""
    value = str(command.get("value", ""))
    if command.get("shell", True):
        return ["sh", "-c", value], "/bin/sh"
    arguments = [str(argument) for argument in command.get("arguments", [])]
    return (arguments or [value]), value


def task_environment(agent: Agent, record: TaskRecord, sandbox: str) -> dict[str, str]:
    """The agent's own environment, the variables Mesos sets, then the task's (which win)."""
    env = dict(os.environ)
    env.update(mesos_environment(agent, record, sandbox))
    command = record.task_info.get("command") or {}
    env.update(variables_of(command))
    return env


def mesos_environment(agent: Agent, record: TaskRecord, sandbox: str) -> dict[str, str]:
    # No PORT0/PORTS: Mesos sets none of them (06-ports); that is a Marathon convention.
    endpoint = f"{agent.ip}:{agent.port}"
    checkpoint = record.launched.framework_info.get("checkpoint", False)
    return {
        "LIBPROCESS_IP": agent.ip,
        "LIBPROCESS_PORT": "0",
        "MESOS_AGENT_ENDPOINT": endpoint,
        "MESOS_ALLOCATION_ROLE": record.launched.role,
        "MESOS_CHECKPOINT": "1" if checkpoint else "0",
        "MESOS_DIRECTORY": sandbox,
        "MESOS_EXECUTOR_ID": record.task_id,
        "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "5secs",
        "MESOS_FRAMEWORK_ID": record.framework_id,
        "MESOS_HTTP_COMMAND_EXECUTOR": "0",
        "MESOS_SANDBOX": sandbox,
        "MESOS_SLAVE_ID": agent.config.agent_id,
        "MESOS_SLAVE_PID": f"slave(1)@{endpoint}",
    }


def variables_of(command: Json) -> dict[str, str]:
    variables = (command.get("environment") or {}).get("variables") or []
    return {str(variable["name"]): _value_of(variable) for variable in variables}


def _value_of(variable: Json) -> str:
    if variable.get("type", "VALUE") != "SECRET":
        return str(variable.get("value", ""))
    secret = variable.get("secret") or {}
    if secret.get("type") != "VALUE":
        raise LaunchError(
            f"Secret of environment variable '{variable.get('name')}' is a "
            f"{secret.get('type', 'missing')} secret; only VALUE secrets can be resolved"
        )
    try:
        return base64.b64decode((secret.get("value") or {}).get("data", "")).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise LaunchError(
            f"Secret of '{variable.get('name')}' is not base64 text: {error}"
        ) from error
