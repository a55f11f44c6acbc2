"""TaskInfos for many instances of one spec, built and validated once, then stamped.

A service scaled to hundreds of instances launches hundreds of TaskInfos that differ only
in their task id, agent, ports and the variables that name them (PORT0, HOST). Building
each with translate.task_info costs a full validation per task; a template does it once
per spec, environment, role and owner in an offer round (never longer: configuration is
resolved at the moment of launch), and each task gets its own parts stamped into the
template's JSON text. On offers with no reserved resources, the common case, the resources
are the same for every task but its ports; where a reserved pool is involved, each task's
resources are drawn from the ACCEPT's pools and stamped whole.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence

from cluster.client.http import encode_json
from cluster.framework.offers import launch_spec, port_environment
from cluster.framework.pools import ResourcePools
from cluster.framework.storage import PendingWork
from cluster.translate import ports_to_ranges, task_info
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
    """A TaskInfo's JSON text with gaps for the parts each task fills in.

    The template is built as a dict through the validating path, with placeholder strings
    where the stamped parts go, encoded once, and cut at the placeholders: stamping is then
    string concatenation, with no dict built and no JSON encoded per task.
    """

    def __init__(self, work: PendingWork, configured: Mapping[str, str], role: str) -> None:
        self.role = role
        ports = stand_in_ports(work.spec.ports)
        # Built through the one validating path, with stand-in values for the stamped parts.
        info = task_info(
            launch_spec(work, ports, _STAND_IN_HOST, configured), agent_id="-", allocation_role=role
        )
        marks = {name: f"berth-stamp-{uuid.uuid4().hex}-{name}" for name in _GAPS}
        stamped = set(port_environment(ports, _STAND_IN_HOST))
        command = dict(info["command"])
        environment = dict(command.get("environment", {}))
        variables = [v for v in environment.get("variables", []) if v["name"] not in stamped]
        command["environment"] = {**environment, "variables": [*variables, marks["variables"]]}
        resources = [r for r in info["resources"] if r["name"] != "ports"]
        # What each task needs, as validated: drawn from reserved pools when there are any.
        self.scalars = tuple((r["name"], float(r["scalar"]["value"])) for r in resources)
        if ports:
            resources.append(marks["ports"])
        self._shaped = {
            **info,
            "task_id": {"value": marks["task_id"]},
            "agent_id": {"value": marks["agent_id"]},
            "command": command,
        }
        self._marks = marks
        self.order, self.pieces = self._cut({**self._shaped, "resources": resources})
        self._drawn: tuple[list[str], list[str]] | None = None

    def _cut(self, shaped: Mapping[str, object]) -> tuple[list[str], list[str]]:
        """The gaps in the order they appear in the encoded text, and the text between."""
        text = encode_json(dict(shaped)).decode("utf-8")
        marks = self._marks
        found = {name: text.find(f'"{marks[name]}"') for name in _GAPS}
        order = sorted((n for n in _GAPS if found[n] >= 0), key=found.__getitem__)
        pieces: list[str] = []
        for name in order:
            before, _, text = text.partition(f'"{marks[name]}"')
            pieces.append(before)
        pieces.append(text)
        return order, pieces

    def stamp(self, task_id: str, agent_id: str, ports: Sequence[int], hostname: str) -> str:
        """The TaskInfo as JSON text, with this task's id, agent, ports and variables."""
        fills = {
            "task_id": json.dumps(task_id),
            "agent_id": json.dumps(agent_id),
            "variables": _variables(ports, hostname),
        }
        if ports:
            ranges = [{"begin": b, "end": e} for b, e in ports_to_ranges(ports)]
            resource = {
                "name": "ports",
                "type": "RANGES",
                "ranges": {"range": ranges},
                "allocation_info": {"role": self.role},
            }
            fills["ports"] = encode_json(resource).decode("utf-8")
        return _join(self.order, self.pieces, fills)

    def stamp_drawn(
        self,
        task_id: str,
        agent_id: str,
        ports: Sequence[int],
        hostname: str,
        pools: ResourcePools,
    ) -> str:
        """As stamp, with every resource drawn from `pools` (which shrink by as much)."""
        if self._drawn is None:
            self._drawn = self._cut({**self._shaped, "resources": self._marks["resources"]})
        resources = pools.draw(self.scalars, ports)
        fills = {
            "task_id": json.dumps(task_id),
            "agent_id": json.dumps(agent_id),
            "variables": _variables(ports, hostname),
            "resources": json.dumps(resources, separators=(",", ":"), allow_nan=False),
        }
        return _join(*self._drawn, fills)


def _join(order: Sequence[str], pieces: Sequence[str], fills: Mapping[str, str]) -> str:
    parts = [pieces[0]]
    for n, name in enumerate(order, start=1):
        parts.append(fills[name])
        parts.append(pieces[n])
    return "".join(parts)


def _variables(ports: Sequence[int], hostname: str) -> str:
    return ",".join(
        f'{{"name":{json.dumps(k)},"value":{json.dumps(v)}}}'
        for k, v in port_environment(ports, hostname).items()
    )


# The parts of a TaskInfo that differ between the tasks of one template.
_GAPS = ("task_id", "agent_id", "variables", "ports", "resources")


def stand_in_ports(requested: Sequence[int]) -> tuple[int, ...]:
    """Made-up ports for checking a spec before an offer has given real ones; ValueError
    when it asks for more ports than a machine has."""
    fixed = {port for port in requested if port}
    wanted = len(fixed) + sum(1 for port in requested if not port)
    if wanted > 65535:
        raise ValueError(f"the task asks for {wanted} ports; a machine has at most 65535")
    spare = (port for port in range(1, 65536) if port not in fixed)
    return tuple(port or next(spare) for port in requested)
