"""TaskInfos for many instances of one spec, built and validated once, then stamped.

A service scaled to hundreds of instances launches hundreds of TaskInfos that differ only
in their task id, agent, ports and the variables that name them (PORT0, HOST). Building
each with translate.task_info costs a full validation per task; a template does it once
per spec, environment, role and owner in an offer round (never longer: configuration is
resolved at the moment of launch), and each task gets a shallow copy with its own parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cluster.framework.offers import launch_spec, port_environment
from cluster.framework.storage import PendingWork
from cluster.translate import ports_to_ranges, task_info
from cluster.translate.calls import Json
from cluster.types import DockerContainer, MesosContainer

_STAND_IN_HOST = "stand-in.invalid"


def needs_own_build(work: PendingWork) -> bool:
    """Port mappings bound to dynamic ports differ per task in more than the stamped parts."""
    container = work.spec.container
    if isinstance(container, DockerContainer):
        mappings = container.port_mappings
    elif isinstance(container, MesosContainer):
        mappings = tuple(m for network in container.networks for m in network.port_mappings)
    else:
        return False
    return any(mapping.host_port == 0 for mapping in mappings)


class TaskInfoTemplate:
    def __init__(self, work: PendingWork, configured: Mapping[str, str], role: str) -> None:
        self.role = role
        ports = stand_in_ports(work.spec.ports)
        # Built through the one validating path, with stand-in values for the stamped parts.
        info = task_info(
            launch_spec(work, ports, _STAND_IN_HOST, configured), agent_id="-", allocation_role=role
        )
        stamped = set(port_environment(ports, _STAND_IN_HOST))
        command = dict(info["command"])
        variables = command.get("environment", {}).get("variables", [])
        self.variables = [v for v in variables if v["name"] not in stamped]
        self.command = command
        self.resources = [r for r in info["resources"] if r["name"] != "ports"]
        self.base = {k: v for k, v in info.items() if k not in ("task_id", "agent_id")}

    def stamp(self, task_id: str, agent_id: str, ports: Sequence[int], hostname: str) -> Json:
        info: dict[str, Any] = {"name": self.base["name"], "task_id": {"value": task_id}}
        info["agent_id"] = {"value": agent_id}
        resources = list(self.resources)
        if ports:
            ranges = [{"begin": b, "end": e} for b, e in ports_to_ranges(ports)]
            resources.append(
                {
                    "name": "ports",
                    "type": "RANGES",
                    "ranges": {"range": ranges},
                    "allocation_info": {"role": self.role},
                }
            )
        info["resources"] = resources
        named = [{"name": k, "value": v} for k, v in port_environment(ports, hostname).items()]
        info["command"] = {**self.command, "environment": {"variables": [*self.variables, *named]}}
        for key, value in self.base.items():
            info.setdefault(key, value)
        return info


def stand_in_ports(requested: Sequence[int]) -> tuple[int, ...]:
    """Made-up ports for checking a spec before an offer has given real ones."""
    fixed = {port for port in requested if port}
    spare = (port for port in range(1, 65536) if port not in fixed)
    return tuple(port or next(spare) for port in requested)
